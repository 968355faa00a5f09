/**
 * The fast encoder for values with Date, Map, Set, bigint, undefined, RegExp, URL, Error or
 * non-finite numbers in them. superjson's encoder is generic (plugins, path arrays, a copy of
 * every node) and costs about four times its decoder; this one writes the very same bytes for
 * the values it knows, in one walk, and returns `undefined` for anything else so that the
 * caller falls back to superjson itself.
 *
 * What it must reproduce is superjson's `serialize`: the `json` tree with each special value
 * replaced by its string or array form, and `meta.values`, an annotation tree in traversal
 * order: `[type]` for a special leaf, `[type, inner]` for a Map, Set or Error with annotated
 * contents, and for objects and arrays their children's annotations under escaped dot-paths.
 * It gives up, leaving the value to superjson, on: an object, array or bigint reached twice
 * (superjson records those as referential equalities), class instances, symbols, typed
 * arrays, invalid dates, sparse arrays, keys superjson refuses (`__proto__`, `constructor`,
 * `prototype`), errors with a cause or properties of their own, and nesting deeper than
 * `MAX_DEPTH`. Like superjson, it does not look for symbol-keyed properties, nor for other
 * properties of an array, a Date, a Map… (see sendable.ts).
 */

import { splitSuperjsonPath } from './superjson-path.js';

const MAX_DEPTH = 64;

/** Thrown inside the walk to give the value back to superjson. */
const GIVE_UP = Symbol('give up');

type Annotation = [string] | [string, Record<string, unknown>] | Record<string, unknown>;

interface Walked {
  value: unknown;
  annotation: Annotation | undefined;
}

/** superjson's exact encoding of `value`, or `undefined` if only superjson can tell. */
export function encodeRich(value: unknown): string | undefined {
  const seen = new Set<unknown>();
  let root: Walked;
  try {
    root = walk(value, seen, 0);
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
  if (root.annotation === undefined) return JSON.stringify({ json: root.value });
  return JSON.stringify({ json: root.value, meta: { values: root.annotation, v: 1 } });
}

function escapeKey(key: string): string {
  return key.includes('\\') || key.includes('.') ? key.replace(/\\/g, '\\\\').replace(/\./g, '\\.') : key;
}

function remember(v: unknown, seen: Set<unknown>): void {
  const before = seen.size;
  seen.add(v);
  if (seen.size === before) throw GIVE_UP;
}

function leaf(value: unknown, type: string): Walked {
  return { value, annotation: [type] };
}

function walk(v: unknown, seen: Set<unknown>, depth: number): Walked {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return { value: v, annotation: undefined };
    case 'number':
      if (Number.isFinite(v)) return Object.is(v, -0) ? leaf('-0', 'number') : { value: v, annotation: undefined };
      if (Number.isNaN(v)) {
        // superjson does not count NaN as a primitive: like a bigint, a repeated one is recorded.
        remember(v, seen);
        return leaf('NaN', 'number');
      }
      return leaf(v > 0 ? 'Infinity' : '-Infinity', 'number');
    case 'undefined':
      return leaf(null, 'undefined');
    case 'bigint':
      // superjson tracks bigints by value like objects: a repeated one is a referential equality.
      remember(v, seen);
      return leaf(String(v), 'bigint');
    case 'object':
      return v === null ? { value: null, annotation: undefined } : walkObject(v, seen, depth);
    default:
      throw GIVE_UP;
  }
}

function walkObject(v: object, seen: Set<unknown>, depth: number): Walked {
  if (depth >= MAX_DEPTH) throw GIVE_UP;
  remember(v, seen);
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) throw GIVE_UP;
    return walkArray(v, seen, depth, undefined);
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return walkRecord(v as Record<string, unknown>, seen, depth);
  if (v instanceof Date) {
    const time = v.getTime();
    if (Number.isNaN(time) || proto !== Date.prototype) throw GIVE_UP;
    return leaf(v.toISOString(), 'Date');
  }
  if (v instanceof Map) {
    if (proto !== Map.prototype) throw GIVE_UP;
    // superjson walks the entries as fresh [key, value] arrays: new identities, never repeated.
    return walkArray(Array.from(v.entries()), seen, depth, 'map', true);
  }
  if (v instanceof Set) {
    if (proto !== Set.prototype) throw GIVE_UP;
    return walkArray(Array.from(v), seen, depth, 'set', true);
  }
  if (v instanceof RegExp) {
    if (proto !== RegExp.prototype) throw GIVE_UP;
    return leaf(String(v), 'regexp');
  }
  if (v instanceof URL) {
    if (proto !== URL.prototype) throw GIVE_UP;
    return leaf(v.href, 'URL');
  }
  if (v instanceof Error) {
    // superjson keeps an error's name and message (no other property unless configured).
    // superjson also keeps a `cause`, walked as a value of its own: left to superjson. An
    // error with properties of its own (a `code`…) would lose them: left to superjson's
    // path, whose check refuses it.
    if (typeof v.name !== 'string' || typeof v.message !== 'string' || 'cause' in v || hasOwnFields(v)) {
      throw GIVE_UP;
    }
    return leaf({ name: v.name, message: v.message }, 'Error');
  }
  throw GIVE_UP;
}

/** Whether an error has an enumerable property of its own besides `name` and `message`. */
function hasOwnFields(e: Error): boolean {
  for (const key of Object.keys(e)) if (key !== 'name' && key !== 'message') return true;
  return false;
}

/**
 * An array, or the array form of a Map or Set (`type`). `fresh` says the array was made here
 * (its entries already stand in `seen`, or are new), so it is never itself remembered.
 */
function walkArray(v: unknown[], seen: Set<unknown>, depth: number, type: string | undefined, fresh = false): Walked {
  let out: unknown[] | undefined = fresh ? v : undefined;
  let inner: Record<string, unknown> | undefined;
  for (let i = 0; i < v.length; i++) {
    if (!(i in v)) throw GIVE_UP;
    const item = v[i];
    // A Map entry array is itself walked as an array, like superjson does.
    const child =
      fresh && type === 'map'
        ? walkArray(item as unknown[], seen, depth + 1, undefined, true)
        : walk(item, seen, depth + 1);
    if (child.value !== item) {
      out ??= v.slice();
      out[i] = child.value;
    }
    if (child.annotation !== undefined) inner = addInner(inner, String(i), child.annotation);
  }
  return finish(out ?? v, type, inner);
}

function walkRecord(v: Record<string, unknown>, seen: Set<unknown>, depth: number): Walked {
  let out: Record<string, unknown> | undefined;
  let inner: Record<string, unknown> | undefined;
  for (const key of Object.keys(v)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw GIVE_UP;
    const item = v[key];
    const child = walk(item, seen, depth + 1);
    if (child.value !== item) {
      out ??= { ...v };
      out[key] = child.value;
    }
    if (child.annotation !== undefined) inner = addInner(inner, key, child.annotation);
  }
  return finish(out ?? v, undefined, inner);
}

function addInner(
  inner: Record<string, unknown> | undefined,
  key: string,
  annotation: Annotation,
): Record<string, unknown> {
  const into = inner ?? {};
  const escaped = escapeKey(key);
  if (Array.isArray(annotation)) {
    into[escaped] = annotation;
  } else {
    for (const [path, tree] of Object.entries(annotation)) into[`${escaped}.${path}`] = tree;
  }
  return into;
}

function finish(value: unknown, type: string | undefined, inner: Record<string, unknown> | undefined): Walked {
  if (type === undefined) return { value, annotation: inner };
  return { value, annotation: inner ? [type, inner] : [type] };
}

// ---- decoding ------------------------------------------------------------------------------

/**
 * What superjson's `deserialize` would return for `parsed`, or `undefined` to let superjson do
 * it. Restores in place: when it gives up, `parsed` may be partly restored already.
 */
export function decodeRich(parsed: { json: unknown; meta?: unknown }): { value: unknown } | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const meta = parsed.meta as Record<string, unknown> | undefined;
  if (typeof meta !== 'object' || meta === null || meta.v !== 1 || 'referentialEqualities' in meta) return undefined;
  for (const key in meta) if (key !== 'values' && key !== 'v') return undefined;
  if (meta.values === undefined) return { value: parsed.json };
  try {
    return { value: applyTree(parsed.json, meta.values) };
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
}

/** Applies one annotation tree, children first, as superjson does. */
function applyTree(value: unknown, annotation: unknown): unknown {
  if (Array.isArray(annotation)) {
    const [type, children] = annotation as [unknown, unknown];
    if (typeof type !== 'string' || annotation.length > 2) throw GIVE_UP;
    const inner = children === undefined ? value : applyChildren(value, children);
    return untransform(inner, type);
  }
  return applyChildren(value, annotation);
}

function applyChildren(container: unknown, children: unknown): unknown {
  if (typeof children !== 'object' || children === null || Array.isArray(children)) throw GIVE_UP;
  for (const [path, annotation] of Object.entries(children)) {
    const segments = parsePath(path);
    let parent = container;
    for (let i = 0; i < segments.length - 1; i++) parent = child(parent, segments[i] as string);
    const last = segments[segments.length - 1] as string;
    const holder = parent as Record<string, unknown>;
    if (typeof parent !== 'object' || parent === null || !(last in holder)) throw GIVE_UP;
    holder[last] = applyTree(holder[last], annotation);
  }
  return container;
}

function child(parent: unknown, key: string): unknown {
  if (typeof parent !== 'object' || parent === null) throw GIVE_UP;
  const proto: unknown = Object.getPrototypeOf(parent);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) throw GIVE_UP;
  if (!(key in parent)) throw GIVE_UP;
  return (parent as Record<string, unknown>)[key];
}

/** superjson's escaped dot-path, split; a key superjson refuses, or a malformed path, is left to it (it throws). */
function parsePath(path: string): string[] {
  const segments = splitSuperjsonPath(path);
  if (segments === undefined) throw GIVE_UP;
  for (const s of segments) if (s === '__proto__' || s === 'prototype' || s === 'constructor') throw GIVE_UP;
  return segments;
}

function untransform(v: unknown, type: string): unknown {
  switch (type) {
    case 'undefined':
      return undefined;
    case 'bigint':
      if (typeof v !== 'string') throw GIVE_UP;
      return BigInt(v);
    case 'Date':
      if (typeof v !== 'string') throw GIVE_UP;
      return new Date(v);
    case 'number':
      return Number(v);
    case 'regexp': {
      if (typeof v !== 'string') throw GIVE_UP;
      const end = v.lastIndexOf('/');
      return new RegExp(v.slice(1, end), v.slice(end + 1));
    }
    case 'URL':
      if (typeof v !== 'string') throw GIVE_UP;
      return new URL(v);
    case 'set':
      if (!Array.isArray(v)) throw GIVE_UP;
      return new Set(v);
    case 'map':
      if (!Array.isArray(v)) throw GIVE_UP;
      return new Map(v as [unknown, unknown][]);
    case 'Error': {
      if (typeof v !== 'object' || v === null) throw GIVE_UP;
      const fields = v as { name?: unknown; message?: unknown; cause?: unknown; stack?: unknown };
      // Exactly superjson's: the cause option is always given, so `cause` is an own property.
      const e = new Error(fields.message as string, { cause: fields.cause });
      e.name = fields.name as string;
      e.stack = fields.stack as string;
      return e;
    }
    default:
      throw GIVE_UP;
  }
}
