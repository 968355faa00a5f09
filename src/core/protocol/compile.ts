/**
 * Turns declarations into the code that runs for every envelope. At module load each
 * declaration becomes a plain function that reads every field by name and calls its check,
 * as hand-written code would. A loop over a list of field names would do the same work far
 * slower: V8 keeps a property read fast only when that read always sees the same name, and
 * measured ten times slower on the validators. The generated source holds only field names
 * from the declarations (checked to be plain identifiers) and fixed text; values from the
 * wire never reach it, and the checks are passed in as functions, not as source.
 */
import type { Field, Fields, Shape } from './fields.js';

/** Which side sends a frame: endpoints send `up` to the router, the router sends `down`. */
export type Direction = 'up' | 'down';

/** One frame's declaration; see `frame`. */
export interface FrameSpec<D extends Direction = Direction, F extends Fields = Fields> {
  readonly dir: D;
  readonly fields: F;
  /** A rule across fields, checked once every field passed its own check. */
  refine?(frame: Shape<F>): boolean;
  /**
   * Whether an envelope may share a run record with neighbours of the same shape (see the
   * roles in `fields.ts`). Absent: frames of this type always travel alone.
   */
  runs?(frame: Shape<F>): boolean;
}

/**
 * Declares a frame. Field order is the order senders set them in, which is the order of a
 * record header on the wire: run records rebuild envelopes in that order, so that they share
 * their shape (and V8's fast paths) with envelopes read from single records.
 */
export function frame<D extends Direction, const F extends Fields>(
  dir: D,
  fields: F,
  rules: { refine?: (frame: Shape<F>) => boolean; runs?: (frame: Shape<F>) => boolean } = {},
): FrameSpec<D, F> {
  return { dir, fields, ...rules };
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `obj.key`, for a key that is a plain identifier (anything else is a mistake in a declaration). */
export function read(obj: string, key: string): string {
  if (!IDENTIFIER.test(key)) throw new Error(`protocol declaration: "${key}" is not a plain field name`);
  return `${obj}.${key}`;
}

/** A constant in generated source: a frame type in a `case` label, or the value a `when` field depends on. */
export function literal(value: string | number | boolean): string {
  return JSON.stringify(value);
}

/**
 * Builds a function from generated source. `env` names what the body may call (checks,
 * rules); each gets its own parameter, so every call site in the body sees one function and
 * V8 can inline it.
 */
export function generate<F>(name: string, params: string, body: string, env: Record<string, unknown> = {}): F {
  if (!IDENTIFIER.test(name)) throw new Error(`protocol: bad generated function name "${name}"`);
  const names = Object.keys(env);
  for (const n of names) if (!IDENTIFIER.test(n)) throw new Error(`protocol: bad generated binding "${n}"`);
  const source = `'use strict';\nreturn function ${name}(${params}) {\n${body}\n};\n//# sourceURL=clusterbus-protocol:${name}`;
  const factory = new Function(...names, source) as (...deps: unknown[]) => F;
  return factory(...names.map((n) => env[n]));
}

/** Collects the functions generated code calls, each under a fresh name. */
export class Env {
  readonly bindings: Record<string, unknown> = {};
  private next = 0;
  /** The name generated code calls `fn` by. */
  bind(fn: unknown, prefix = 'c'): string {
    const name = `${prefix}${this.next++}`;
    this.bindings[name] = fn;
    return name;
  }
}

/**
 * The expression checking one field of `obj`. A required field's check alone rejects it when
 * absent (checks never accept `undefined`), so only optional fields pay for an absence test.
 */
function fieldCheck(env: Env, obj: string, name: string, field: Field, fields: Fields): string {
  if (field.check(undefined)) throw new Error(`protocol declaration: the check of "${name}" accepts undefined`);
  const check = env.bind(field.check);
  const value = read(obj, name);
  if (field.when !== undefined) {
    const { field: other, is } = field.when;
    if (!(other in fields)) throw new Error(`protocol declaration: "${name}" depends on "${other}", not a field`);
    return `(${read(obj, other)} === ${literal(is)} ? ${check}(${value}) : true)`;
  }
  return field.optional ? `(${value} === undefined || ${check}(${value}))` : `${check}(${value})`;
}

/** The checks of every declared field, `&&`-joined (`true` when there are none). */
function fieldsCheck(env: Env, obj: string, fields: Fields): string {
  const parts = Object.entries(fields).map(([name, field]) => fieldCheck(env, obj, name, field, fields));
  return parts.length === 0 ? 'true' : parts.join(' &&\n    ');
}

/** A check for an object with the given fields (other keys are ignored). */
export function objectCheck(name: string, fields: Fields): (v: unknown) => boolean {
  const env = new Env();
  const body = `return typeof v === 'object' && v !== null &&\n    ${fieldsCheck(env, 'v', fields)};`;
  return generate(name, 'v', body, env.bindings);
}

/**
 * The validator of the frames sent in one direction: given a message already known to be one
 * of ours (`cb` checked), returns it if it is a well-formed frame of one of `specs`, else
 * `undefined`. A frame without fields comes back as a fresh `{ cb, t }`: nothing else of the
 * received object is needed, so none of its other keys travels on.
 */
export function frameParser(
  name: string,
  version: number,
  specs: Readonly<Record<string, FrameSpec>>,
): (f: Record<string, unknown>) => unknown {
  const env = new Env();
  const cases = Object.entries(specs).map(([t, spec]) => {
    if (!IDENTIFIER.test(t)) throw new Error(`protocol declaration: "${t}" is not a plain frame type`);
    if (Object.keys(spec.fields).length === 0)
      return `  case ${literal(t)}: return { cb: ${version}, t: ${literal(t)} };`;
    let test = fieldsCheck(env, 'f', spec.fields);
    if (spec.refine) test += ` &&\n    ${env.bind(spec.refine, 'r')}(f)`;
    return `  case ${literal(t)}:\n    return ${test}\n    ? f : undefined;`;
  });
  const body = `switch (f.t) {\n${cases.join('\n')}\n  default: return undefined;\n}`;
  return generate(name, 'f', body, env.bindings);
}
