/**
 * Batches: how envelopes travel in bulk. All envelopes one side sends in one turn of the
 * event loop go out as a single string, so the channel pays one write (and one
 * serialisation) per turn instead of one per envelope, and payload bytes are copied as they
 * are instead of being escaped inside a JSON envelope. Which fields are payloads, ids, per
 * envelope or shared in a run, and which frames may run at all, comes from the frame
 * declarations (`FRAMES`, and the roles in `src/core/protocol/fields.ts`): a new field needs
 * nothing here.
 */
import { Env, generate, literal, read, type FrameSpec } from '../../core/protocol/compile.js';
import type { Role } from '../../core/protocol/fields.js';
import { FRAMES, type DownFrame, type UpFrame, type WireOutcome } from '../../core/protocol/frames.js';

// A batch is `BATCH_TAG` followed by records. A record is
//   `<header length>:<header JSON><payload count>:` then, per payload, `<length>:<payload>`
// where the header is the envelope without its payload strings (`p`, the `p` of each
// successful map outcome, or a broadcast run's `ps`, which the header replaces by their
// number), and lengths count UTF-16 code units. A run record stands for several envelopes
// that differ only in id and payloads: its header has `run` (their ids) instead of `id`, and
// for calls back to their own callers `own` (the requests they name, one per id). The reader
// only parses headers; payloads come out as slices of the batch, never decoded.

/** First characters of every batch; anything else on the channel is not a batch. */
export const BATCH_TAG = '\u0001cb1\u0001';

type AnyFrame = UpFrame | DownFrame;
/** An envelope read field by field, by the names the declarations give. */
type Loose = Record<string, unknown>;

/** How the records of one frame type are laid out. */
interface Layout {
  /** The field whose string travels as the record's one payload. */
  readonly payload: string;
  /** The field whose list of strings travels as the payloads; the header holds their number. */
  readonly list: string;
  /** The field of map outcomes whose successful results travel as the payloads. */
  readonly outcomes: string | undefined;
  /** Whether neighbours may share a run record. */
  readonly runs: boolean;
  /** Fields that differ per envelope of a run: a run header lists them under their own name. */
  readonly each: readonly { readonly name: string; readonly optional: boolean }[];
}

/** Whether every outcome succeeded: failed ones carry their error in the header, so only those runs share one. */
const allSucceeded = (r: unknown): boolean => Array.isArray(r) && r.length > 0 && r.every((o: WireOutcome) => o[1]);

/** Whether two outcome lists name the same workers (on the same hosts) in the same order. */
function sameWorkers(a: WireOutcome[], b: WireOutcome[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as WireOutcome;
    const y = b[i] as WireOutcome;
    if (x[0] !== y[0] || x[3] !== y[3]) return false;
  }
  return true;
}

/** A successful outcome in a header: `[worker, true]`, or `[worker, true, host]` for another host's worker. */
const headerOutcome = (o: WireOutcome): unknown[] => (o[3] === undefined ? [o[0], true] : [o[0], true, o[3]]);

/** Whether `o` is a successful outcome as a header holds it (its result travelling as a payload). */
const isHeaderSuccess = (o: unknown): o is [unknown, true] | [unknown, true, string] =>
  Array.isArray(o) && o[1] === true && (o.length === 2 || (o.length === 3 && typeof o[2] === 'string'));

/** The outcome of a header's successful `o` with its result put back. */
const withResult = (o: [unknown, true] | [unknown, true, string], p: string): unknown[] =>
  o.length === 2 ? [o[0], true, p] : [o[0], true, p, o[2]];

/** Moves the results of successful outcomes to `payloads`. */
function takeResults(r: WireOutcome[], payloads: string[]): void {
  for (const o of r) payloads.push(o[2] as string);
}

/** A run header's outcomes: the workers, each `[worker, true]`, their results travelling as payloads. */
const headerOutcomes = (r: WireOutcome[]): unknown[] => r.map(headerOutcome);

/** The one field of a role in a frame's declaration, if any. */
function fieldOf(t: string, spec: FrameSpec, role: Role): string | undefined {
  const names = Object.keys(spec.fields).filter((name) => spec.fields[name]?.role === role);
  if (names.length > 1) throw new Error(`protocol declaration: frame "${t}" has more than one ${role} field`);
  return names[0];
}

const specs = Object.entries(FRAMES as Record<string, FrameSpec>);
/**
 * For a record whose type declares no payload field, or is unknown: the reader does not judge
 * frames (the receiver validates them), so it reads every record with the payload names the
 * declarations use.
 */
const fallback: Layout = {
  payload: specs.map(([t, s]) => fieldOf(t, s, 'payload')).find((n) => n !== undefined) ?? 'p',
  list: specs.map(([t, s]) => fieldOf(t, s, 'payloads')).find((n) => n !== undefined) ?? 'ps',
  outcomes: undefined,
  runs: false,
  each: [],
};
const layouts = new Map<string, Layout>(
  specs.map(([t, spec]) => [
    t,
    {
      payload: fieldOf(t, spec, 'payload') ?? fallback.payload,
      list: fieldOf(t, spec, 'payloads') ?? fallback.list,
      outcomes: fieldOf(t, spec, 'outcomes'),
      runs: spec.runs !== undefined,
      each: Object.entries(spec.fields)
        .filter(([, field]) => field.role === 'each')
        .map(([name, field]) => ({ name, optional: field.optional })),
    },
  ]),
);

function layoutOf(t: unknown): Layout {
  return layouts.get(t as string) ?? fallback;
}

/** The code of one frame type's run records, as `case` bodies of the functions below. */
function runCases(env: Env, t: string, spec: FrameSpec, runs: (f: Loose) => boolean) {
  const key = fieldOf(t, spec, 'key');
  const payload = fieldOf(t, spec, 'payload');
  const outcomes = fieldOf(t, spec, 'outcomes');
  if (key === undefined || (payload === undefined) === (outcomes === undefined)) {
    throw new Error(`protocol declaration: frame "${t}" runs, so it needs a key and one payload or outcomes field`);
  }
  const joins = [`${env.bind(runs, 'runs')}(f)`];
  const same: string[] = [];
  // A run header holds declared fields only: the reader rebuilds those alone, so nothing else
  // of the envelopes would arrive anyway.
  const header: string[] = ['cb: first.cb', 't: first.t'];
  const head = ['cb: h.cb', 't: h.t'];
  const rest: string[] = [];
  const set = (name: string, value: string, optional: boolean): void => {
    if (optional) rest.push(`if (${read('h', name)} !== undefined) ${read('f', name)} = ${value};`);
    // Required fields before the first optional one go in the literal, the rest in order after.
    else if (rest.length === 0) head.push(`${name}: ${value}`);
    else rest.push(`${read('f', name)} = ${value};`);
  };
  for (const [name, field] of Object.entries(spec.fields)) {
    const mine = read('a', name);
    const theirs = read('b', name);
    switch (field.role) {
      case 'key':
        set(name, 'id', false);
        break;
      case 'shared':
        same.push(`${mine} === ${theirs}`);
        header.push(`${name}: ${read('first', name)}`);
        set(name, read('h', name), field.optional);
        break;
      case 'each': {
        const list = `run.map((f) => ${read('f', name)})`;
        if (field.optional) same.push(`(${mine} === undefined) === (${theirs} === undefined)`);
        header.push(`${name}: ${field.optional ? `${read('first', name)} === undefined ? undefined : ${list}` : list}`);
        set(name, `${read('h', name)}[i]`, field.optional);
        break;
      }
      case 'payload':
        joins.push(`typeof ${read('f', name)} === 'string'`);
        break;
      case 'outcomes':
        joins.push(`${env.bind(allSucceeded, 'allSucceeded')}(${read('f', name)})`);
        same.push(`${env.bind(sameWorkers, 'sameWorkers')}(${mine}, ${theirs})`);
        header.push(`${name}: ${env.bind(headerOutcomes, 'headerOutcomes')}(${read('first', name)})`);
        break;
      case 'payloads':
      case 'solo':
        joins.push(`${read('f', name)} === undefined`);
        break;
    }
  }
  header.push(`run: run.map((f) => ${read('f', key)})`);
  const take =
    payload !== undefined
      ? `payloads.push(${read('run[i]', payload)})`
      : `${env.bind(takeResults, 'takeResults')}(${read('run[i]', outcomes as string)}, payloads)`;
  const label = `  case ${literal(t)}:`;
  return {
    joins: `${label}\n    return ${joins.join(' && ')};`,
    sameShape: `${label}\n    return ${same.length === 0 ? 'true' : same.join(' && ')};`,
    header: `${label}\n    for (let i = 0; i < run.length; i++) ${take};\n    return JSON.stringify({ ${header.join(', ')} });`,
    // The payload goes last, where the reader of a single record attaches it.
    rebuild: `${label} {\n    const f = { ${head.join(', ')} };\n    ${rest.join('\n    ')}\n    ${read('f', (payload ?? outcomes) as string)} = payload;\n    return f;\n  }`,
  };
}

/**
 * Run records, compiled from the declarations into one function per job with a case per frame
 * type, as hand-written code would be: these run for every envelope a batch carries.
 */
const runCode = ((): {
  /** Whether an envelope may join a run at all. */
  joins: (f: Loose) => boolean;
  /** Whether `b` differs from `a` only in per-envelope fields, so one header describes both. */
  sameShape: (a: Loose, b: Loose) => boolean;
  /** The header of a run record; the payloads of its envelopes go to `payloads`, in order. */
  header: (run: Loose[], payloads: string[]) => string;
  /** Envelope `i` of a run record with header `h`: its id, and its payload (or outcomes). */
  rebuild: (h: Loose, id: unknown, i: number, payload: unknown) => Loose | undefined;
} => {
  const env = new Env();
  const cases = specs
    .filter(([, spec]) => spec.runs !== undefined)
    .map(([t, spec]) => runCases(env, t, spec, spec.runs as (f: Loose) => boolean));
  const body = (job: keyof (typeof cases)[number], on: string, otherwise: string): string =>
    `switch (${on}.t) {\n${cases.map((c) => c[job]).join('\n')}\n  default: return ${otherwise};\n}`;
  const b = env.bindings;
  return {
    joins: generate('runJoins', 'f', body('joins', 'f', 'false'), b),
    sameShape: generate(
      'runSameShape',
      'a, b',
      `if (a.t !== b.t) return false;\n${body('sameShape', 'a', 'false')}`,
      b,
    ),
    header: generate('runHeader', 'run, payloads', `const first = run[0];\n${body('header', 'first', "''")}`, b),
    rebuild: generate('runRebuild', 'h, id, i, payload', body('rebuild', 'h', 'undefined'), b),
  };
})();

/**
 * The last record written, by envelope: a broadcast sends one envelope to every worker in a
 * row, and its header is serialised once.
 */
let lastFrame: AnyFrame | undefined;
let lastRecord: string[] = [];
let lastLength = 0;

/** Drops the cached record, so a large payload is not held after its batch left. */
export function forgetLastRecord(): void {
  lastFrame = undefined;
  lastRecord = [];
  lastLength = 0;
}

/** Appends one envelope to a batch under construction; returns the characters added. */
export function appendRecord(parts: string[], frame: AnyFrame): number {
  if (frame === lastFrame) {
    for (const part of lastRecord) parts.push(part);
    return lastLength;
  }
  if (frame.t !== 'call' || frame.op !== 'b') return writeRecord(parts, frame);
  // Only a broadcast's envelope goes to several channels: keep its record for the next one.
  const start = parts.length;
  const added = writeRecord(parts, frame);
  lastFrame = frame;
  lastRecord = parts.slice(start);
  lastLength = added;
  return added;
}

function writeRecord(parts: string[], frame: AnyFrame): number {
  const layout = layoutOf(frame.t);
  const f = frame as unknown as Loose;
  let json: string;
  let payload: string | undefined;
  let payloads: string[] | undefined;
  if (layout.outcomes !== undefined) {
    payloads = [];
    const list = payloads;
    json = JSON.stringify({
      ...frame,
      [layout.outcomes]: (f[layout.outcomes] as WireOutcome[]).map((o): unknown => {
        if (o[1]) {
          list.push(o[2]);
          return headerOutcome(o);
        }
        return o;
      }),
    });
  } else if (f[layout.list] !== undefined) {
    // A broadcast run: the header says how many payloads follow in place of the list.
    payloads = f[layout.list] as string[];
    json = JSON.stringify({ ...frame, [layout.payload]: undefined, [layout.list]: payloads.length });
  } else if (typeof f[layout.payload] === 'string') {
    // JSON.stringify leaves out a property whose value is undefined: blanking the payload for
    // the call writes the header without copying the envelope (and keeps its shape for V8).
    payload = f[layout.payload] as string;
    f[layout.payload] = undefined;
    try {
      json = JSON.stringify(frame);
    } finally {
      f[layout.payload] = payload;
    }
  } else {
    json = JSON.stringify(frame);
  }
  if (payload !== undefined) {
    const head = `${json.length}:`;
    const length = `${payload.length}:`;
    parts.push(head, json, '1:', length, payload);
    return head.length + json.length + 2 + length.length + payload.length;
  }
  payloads ??= [];
  const head = `${json.length}:`;
  const count = `${payloads.length}:`;
  parts.push(head, json, count);
  let added = head.length + json.length + count.length;
  for (const p of payloads) {
    const length = `${p.length}:`;
    parts.push(length, p);
    added += length.length + p.length;
  }
  return added;
}

/** Starts a batch. */
export function newBatch(): string[] {
  return [BATCH_TAG];
}

/**
 * One batch under construction. Consecutive envelopes that differ only in id and payloads
 * (the calls of a burst of maps to one worker, the replies to them, the outcomes going back)
 * become one run record: a single header with `run` (the ids) in place of `id`, then every payload in
 * order. The reader gives them back as separate envelopes; only the header work is shared.
 */
export class BatchWriter {
  private parts: string[] = newBatch();
  private run: Loose[] = [];
  /** Envelopes added since the last `finish`. */
  records = 0;
  /** Characters added since the last `finish` (a close estimate until then). */
  chars = 0;

  /** Adds an envelope. */
  add(frame: AnyFrame): void {
    this.records++;
    const f = frame as unknown as Loose;
    const joins = runCode.joins(f);
    const first = this.run[0];
    if (first !== undefined && !(joins && runCode.sameShape(first, f))) this.endRun();
    if (joins) {
      this.run.push(f);
      this.chars += payloadChars(f) + 12;
      return;
    }
    this.chars += appendRecord(this.parts, frame);
  }

  /** Whether nothing was added since the last `finish`. */
  get empty(): boolean {
    return this.records === 0;
  }

  /** The batch, as one string; the writer starts a new one. */
  finish(): string {
    this.endRun();
    const batch = this.parts.join('');
    this.parts = newBatch();
    this.records = 0;
    this.chars = 0;
    forgetLastRecord();
    return batch;
  }

  private endRun(): void {
    const run = this.run;
    if (run.length === 0) return;
    this.run = [];
    if (run.length === 1) {
      appendRecord(this.parts, run[0] as unknown as AnyFrame);
      return;
    }
    const payloads: string[] = [];
    const header = runCode.header(run, payloads);
    const parts = this.parts;
    parts.push(`${header.length}:`, header, `${payloads.length}:`);
    for (const p of payloads) parts.push(`${p.length}:`, p);
  }
}

function payloadChars(frame: Loose): number {
  const layout = layoutOf(frame.t);
  if (layout.outcomes === undefined) return (frame[layout.payload] as string | undefined)?.length ?? 0;
  let n = 0;
  for (const o of frame[layout.outcomes] as WireOutcome[]) n += typeof o[2] === 'string' ? o[2].length : 0;
  return n;
}

/** Whether a channel message is a batch. */
export function isBatch(message: unknown): message is string {
  return typeof message === 'string' && message.startsWith(BATCH_TAG);
}

/** Most payload slots one record may claim; a larger count is malformed. */
const MAX_PAYLOADS_PER_RECORD = 100_000;

/**
 * Reads a batch into envelopes (not yet validated: the receiver validates each as it would a
 * single one). Stops at the first malformed record; returns what it read and whether the
 * whole batch was well formed.
 */
export function readBatch(batch: string): { frames: unknown[]; complete: boolean } {
  const frames: unknown[] = [];
  let at = BATCH_TAG.length;
  const readLength = (): number => {
    const colon = batch.indexOf(':', at);
    if (colon < 0 || colon - at > 10 || colon === at) return -1;
    let n = 0;
    for (let i = at; i < colon; i++) {
      const c = batch.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return -1;
      n = n * 10 + c;
    }
    at = colon + 1;
    return n;
  };
  const readPayloads = (count: number): string[] | undefined => {
    const payloads: string[] = [];
    for (let i = 0; i < count; i++) {
      const length = readLength();
      if (length < 0 || at + length > batch.length) return undefined;
      payloads.push(batch.slice(at, at + length));
      at += length;
    }
    return payloads;
  };
  while (at < batch.length) {
    const headerLength = readLength();
    if (headerLength < 0 || at + headerLength > batch.length) return { frames, complete: false };
    let header: unknown;
    try {
      header = JSON.parse(batch.slice(at, at + headerLength));
    } catch {
      return { frames, complete: false };
    }
    at += headerLength;
    const count = readLength();
    if (count < 0 || count > MAX_PAYLOADS_PER_RECORD) return { frames, complete: false };
    const h = typeof header === 'object' && header !== null ? (header as Loose) : undefined;
    const ids = h?.run;
    if (ids !== undefined) {
      // A run record: one envelope per id.
      const payloads = readPayloads(count);
      const run = payloads && expandRun(h as Loose, ids, payloads);
      if (!run) return { frames, complete: false };
      for (const f of run) frames.push(f);
      continue;
    }
    const layout = layoutOf(h?.t);
    let frame: unknown;
    if (count === 1 && h !== undefined && layout.outcomes === undefined && h[layout.list] === undefined) {
      // The common record: one payload, attached as the frame's payload field.
      const length = readLength();
      if (length < 0 || at + length > batch.length) return { frames, complete: false };
      frame = attachPayloads(layout, header, batch.slice(at, at + length));
      at += length;
    } else {
      const payloads = readPayloads(count);
      if (!payloads) return { frames, complete: false };
      frame = attachPayloads(layout, header, payloads);
    }
    if (frame === undefined) return { frames, complete: false };
    frames.push(frame);
  }
  return { frames, complete: true };
}

/** A run header's outcomes (each successful, in header form), or `undefined` if malformed. */
function successfulWorkers(r: unknown): ([unknown, true] | [unknown, true, string])[] | undefined {
  if (!Array.isArray(r) || r.length === 0) return undefined;
  for (const o of r) if (!isHeaderSuccess(o)) return undefined;
  return r as ([unknown, true] | [unknown, true, string])[];
}

/**
 * The envelopes of a run record, or `undefined` if its header and payloads disagree. Each is
 * built with its fields in the order a single record of its kind has once read, so that
 * envelopes from runs and from single records share their shape (and V8 keeps the code
 * that reads them fast). Unknown header fields are dropped; the receiver validates the rest.
 */
function expandRun(h: Loose, ids: unknown, payloads: string[]): unknown[] | undefined {
  if (!Array.isArray(ids) || ids.length < 2) return undefined;
  const layout = layoutOf(h.t);
  if (!layout.runs) return undefined;
  for (const { name, optional } of layout.each) {
    const list = h[name];
    if (list === undefined ? !optional : !Array.isArray(list) || list.length !== ids.length) return undefined;
  }
  const workers = layout.outcomes === undefined ? undefined : successfulWorkers(h[layout.outcomes]);
  if (layout.outcomes !== undefined && workers === undefined) return undefined;
  const per = workers === undefined ? 1 : workers.length;
  if (payloads.length !== ids.length * per) return undefined;
  const frames: unknown[] = [];
  for (let i = 0; i < ids.length; i++) {
    let payload: unknown = payloads[i];
    if (workers !== undefined) {
      const outcomes: unknown[] = [];
      for (let w = 0; w < per; w++)
        outcomes.push(withResult(workers[w] as [unknown, true], payloads[i * per + w] as string));
      payload = outcomes;
    }
    frames.push(runCode.rebuild(h, ids[i], i, payload));
  }
  return frames;
}

function attachPayloads(layout: Layout, header: unknown, payloads: string[] | string): unknown {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
  const h = header as Loose;
  if (typeof payloads === 'string') {
    // `h` is fresh from JSON.parse and nobody else holds it.
    h[layout.payload] = payloads;
    return h;
  }
  if (layout.outcomes !== undefined) {
    const outcomes = h[layout.outcomes];
    if (!Array.isArray(outcomes)) return undefined;
    let next = 0;
    const r: unknown[] = [];
    for (const o of outcomes as unknown[]) {
      if (isHeaderSuccess(o)) {
        if (next >= payloads.length) return undefined;
        r.push(withResult(o, payloads[next++] as string));
      } else {
        r.push(o);
      }
    }
    if (next !== payloads.length) return undefined;
    return { ...h, [layout.outcomes]: r };
  }
  if (h[layout.list] !== undefined) {
    // A broadcast run: its header counted the payloads, and the frame has no payload of its own.
    if (h[layout.list] !== payloads.length) return undefined;
    h[layout.payload] = '';
    h[layout.list] = payloads;
    return h;
  }
  if (payloads.length === 0) return h;
  if (payloads.length !== 1) return undefined;
  // `h` is fresh from JSON.parse and nobody else holds it.
  h[layout.payload] = payloads[0];
  return h;
}
