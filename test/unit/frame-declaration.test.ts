// Everything the frame declaration (`FRAMES`) and the error table drive, checked field by field
// from the declaration itself: the validators, batch records (single and runs) and the error
// wire mapping. A new field needs one declaration line and its sample values in `values` (or
// `errorValues` for an error's field); nothing else here names a field.
import test from 'ava';
import { expectTypeOf } from 'expect-type';
import { BusError, ErrorCodes, type ErrorCode } from '../../src/errors.js';
import { localHost } from '../../src/core/peer-id.js';
import type { FrameSpec } from '../../src/core/protocol/compile.js';
import {
  FRAMES,
  PROTOCOL_VERSION,
  errorFromWire,
  errorToWire,
  parseDownFrame,
  parseUpFrame,
  type CallFrame,
  type FrameType,
  type ReplyFrame,
  type RequestFrame,
  type WireError,
} from '../../src/core/protocol/frames.js';
import { wireFieldsOf } from '../../src/core/protocol/wire-errors.js';
import { BatchWriter, readBatch } from '../../src/transports/stream/batch.js';

type Frame = Record<string, unknown>;

/** A well-formed and a malformed value for every field name the declarations use. */
const values: Record<string, [good: unknown, bad: unknown]> = {
  id: [5, '5'],
  ev: ['e', 5],
  op: ['b', 'x'],
  p: ['', 5],
  ps: [['{}', 'x'], [1]],
  mp: [6, 1.5],
  ms: [10, 0],
  rd: [true, 1],
  dk: ['k', 7],
  mr: [5, -5],
  from: [2, '2'],
  fh: ['host-b', 2],
  fp: ['0123456789abcdef', 7],
  fps: [['0123456789abcdef'], 'x'],
  ok: [true, 'true'],
  e: [{ c: 'CB_TIMEOUT', m: 'late' }, 'boom'],
  r: [
    [
      [1, true, '{}'],
      [2, false, { c: 'CB_TIMEOUT', m: 'late' }],
      [1, true, '{}', 'host-b'],
    ],
    {},
  ],
  ids: [[1, 2], [0]],
};
/** Where a field name's kind differs between frames. */
const byFrame: Partial<Record<FrameType, Record<string, [good: unknown, bad: unknown]>>> = {
  hello: { ev: [['a'], 'a'] },
  handlers: { ev: [['a'], 'a'] },
  req: { own: [true, 1] },
  call: { own: [3, true] },
};
/** Fields a frame's rules forbid together: each sample has one of them only. */
const apart: Partial<Record<FrameType, string[][]>> = {
  call: [['own', 'ps']],
};
/** What makes a sample one that may share a run record (see each frame's `runs`). */
const runnable: Partial<Record<FrameType, Frame>> = {
  req: { op: 'c', ps: undefined },
  call: { op: 'm', ps: undefined },
  res: { ok: true, e: undefined },
  mapped: { r: [[1, true, '{}']] },
};

const frames = Object.entries(FRAMES) as [FrameType, FrameSpec][];
const parse = (spec: FrameSpec, f: unknown): unknown => (spec.dir === 'up' ? parseUpFrame(f) : parseDownFrame(f));
const sample = (t: FrameType, name: string): [unknown, unknown] => {
  const v = byFrame[t]?.[name] ?? values[name];
  if (v === undefined) throw new Error(`no sample values for "${t}.${name}": add them to \`values\``);
  return v;
};
const patch = (f: Frame, p: Frame): Frame => {
  const out = { ...f, ...p };
  for (const [k, v] of Object.entries(p)) if (v === undefined) delete out[k];
  return out;
};
/** Well-formed frames of type `t` that together have every declared field. */
function samples(t: FrameType, spec: FrameSpec): Frame[] {
  const full: Frame = { cb: PROTOCOL_VERSION, t };
  for (const name of Object.keys(spec.fields)) full[name] = sample(t, name)[0];
  const groups = apart[t] ?? [];
  if (groups.length === 0) return [full];
  return groups.flatMap((group) =>
    group.map((keep) => patch(full, Object.fromEntries(group.filter((n) => n !== keep).map((n) => [n, undefined])))),
  );
}
/** Canonical JSON: the order of keys is not part of a frame. */
const canon = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x,
  );
const roundTrip = (list: Frame[]): { frames: unknown[]; batch: string } => {
  const writer = new BatchWriter();
  for (const f of list) writer.add(f as never);
  const batch = writer.finish();
  const read = readBatch(batch);
  if (!read.complete) throw new Error(`incomplete batch ${batch}`);
  return { frames: read.frames, batch };
};
const records = (batch: string): number => batch.split(`"cb":${PROTOCOL_VERSION}`).length - 1;

for (const [t, spec] of frames) {
  const fields = Object.entries(spec.fields);

  test(`protocol - declaration: every field of "${t}" is in a sample the validator accepts`, (t_) => {
    const list = samples(t, spec);
    const seen = new Set(list.flatMap((f) => Object.keys(f)));
    for (const [name] of fields) t_.true(seen.has(name), `no sample has "${name}"`);
    for (const f of list) t_.deepEqual(parse(spec, f), f, canon(f));
  });

  test(`protocol - declaration: the "${t}" validator rejects each field with a wrong value, or missing when required`, (t_) => {
    // A frame without fields comes back as a fresh `{ cb, t }`, whatever else the message held.
    if (fields.length === 0)
      t_.deepEqual(parse(spec, { cb: PROTOCOL_VERSION, t, stray: 1 }), { cb: PROTOCOL_VERSION, t });
    for (const base of samples(t, spec)) {
      for (const [name, field] of fields) {
        if (!(name in base)) continue;
        // A field that depends on another one is looked at only when that one has its value.
        const f = field.when ? patch(base, { [field.when.field]: field.when.is }) : base;
        const bad = sample(t, name)[1];
        t_.false(field.check(bad), `the bad sample of "${name}" is not bad`);
        t_.is(parse(spec, patch(f, { [name]: bad })), undefined, `${name}: ${canon(bad)}`);
        const without = parse(spec, patch(f, { [name]: undefined }));
        if (field.optional && !field.when) t_.truthy(without, `${name} is optional`);
        else t_.is(without, undefined, `${name} is required`);
      }
    }
  });

  test(`protocol - declaration: "${t}" frames survive a batch alone and next to their like`, (t_) => {
    for (const f of samples(t, spec)) {
      const alone = roundTrip([f]);
      t_.deepEqual(alone.frames, [f]);
      t_.is(records(alone.batch), 1);

      // Two neighbours that differ in their per-envelope fields only.
      const first = spec.runs && runnable[t] ? patch(f, runnable[t]) : f;
      const second = { ...first };
      for (const [name, field] of fields) {
        if (first[name] === undefined) continue;
        if (field.role === 'key' || (field.role === 'each' && typeof first[name] === 'number')) {
          second[name] = (first[name] as number) + 1;
        } else if (field.role === 'payload') {
          // Unless the rules pin it (a call back to its sender has no payload of its own).
          if (parse(spec, { ...second, [name]: 'other' })) second[name] = 'other';
        } else if (field.role === 'outcomes') {
          second[name] = (first[name] as unknown[][]).map((o) => (o[1] ? [o[0], true, 'other'] : o));
        }
      }
      const pair = roundTrip([first, second]);
      t_.is(canon(pair.frames), canon([first, second]));
      for (const g of pair.frames) t_.truthy(parse(spec, g), canon(g));
      // Frames that may run share one record; the others travel one record each.
      t_.is(records(pair.batch), spec.runs?.(first as never) ? 1 : 2, pair.batch);
    }
  });
}

test('protocol - declaration: every frame that may run has a sample that does', (t) => {
  for (const [type, spec] of frames) {
    if (!spec.runs) continue;
    const f = patch(samples(type, spec)[0] as Frame, runnable[type] ?? {});
    t.true(spec.runs(f as never), `add a \`runnable\` patch for "${type}"`);
  }
});

// ---- the error table --------------------------------------------------------------------------

/** A value for every wire field an error code maps. */
const errorValues: Record<string, unknown> = {
  m: 'the message',
  n: 'TypeError',
  x: 'E_CODE',
  s: 'TypeError: the message\n    at somewhere',
  ms: 500,
  sz: 2048,
  lim: 1024,
  wh: 'result',
  rs: 'the cluster is shutting down',
  fx: '0123456789abcdef',
  fa: 'fedcba9876543210',
};

for (const code of Object.values(ErrorCodes) as ErrorCode[]) {
  test(`protocol - error table: ${code} round-trips every field it maps, and a remote host`, (t) => {
    const mapped = wireFieldsOf(code);
    const wire: WireError = { c: code, m: 'the message', ev: 'ev', w: 3, h: 'elsewhere' };
    for (const k of Object.keys(mapped)) {
      t.true(k in errorValues, `no sample for the wire field "${k}": add it to \`errorValues\``);
      (wire as Record<string, unknown>)[k] = errorValues[k];
    }
    const err = errorFromWire(wire, 'fallback');
    t.true(err instanceof BusError);
    t.is(err.code, code);
    t.is(err.event, 'ev');
    t.is(err.host, 'elsewhere');

    const again = errorToWire(err, 'other', 9);
    t.truthy(parseUpFrame({ cb: 1, t: 'res', id: 1, ok: false, e: again }));
    t.is(again.h, 'elsewhere');
    for (const k of Object.keys(mapped)) {
      t.deepEqual((again as Record<string, unknown>)[k], errorValues[k], `${code}: ${k}`);
    }
    const back = errorFromWire(JSON.parse(JSON.stringify(again)) as WireError, 'fallback');
    t.is(back.constructor, err.constructor);
    t.is(back.message, err.message);
    t.is(back.host, 'elsewhere');
    t.deepEqual(errorToWire(back, 'other', 9), again);
  });
}

test('protocol - error table: a host travels only when it is not this one', (t) => {
  const here = errorFromWire({ c: ErrorCodes.TIMEOUT, m: 'late', ev: 'ev', w: 2, ms: 5 }, 'ev');
  t.is(here.host, localHost());
  t.is(errorToWire(here, 'ev', 2).h, undefined);
  const there = errorFromWire({ c: ErrorCodes.TIMEOUT, m: 'late', ev: 'ev', w: 2, ms: 5, h: 'b' }, 'ev');
  t.is(there.host, 'b');
  t.is(errorToWire(there, 'ev', 2).h, 'b');
  const generic = errorFromWire({ c: ErrorCodes.MAP_FAILED, m: 'x', w: 1, h: 'b' }, 'ev');
  t.is(generic.host, 'b');
  t.deepEqual(Object.getOwnPropertyDescriptor(there, 'host'), Object.getOwnPropertyDescriptor(generic, 'host'));
});

test('protocol - declaration: the frame types come from it', (t) => {
  expectTypeOf<RequestFrame['own']>().toEqualTypeOf<true | undefined>();
  expectTypeOf<CallFrame['own']>().toEqualTypeOf<number | undefined>();
  expectTypeOf<RequestFrame['op']>().toEqualTypeOf<'b' | 'c' | 'm'>();
  expectTypeOf<ReplyFrame['e']>().toEqualTypeOf<WireError | undefined>();
  expectTypeOf<CallFrame['t']>().toEqualTypeOf<'call'>();
  t.pass();
});
