// Seeded generators of random and malformed bus envelopes, shared by the fuzz test (frames the
// master throws at a worker) and the fixture worker (frames a worker throws at the master).
// Everything is derived from one seed, so a failure is reproduced by re-running with it.

/** A small, fast, seedable PRNG (mulberry32). Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;

const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, items: readonly T[]): T => items[int(r, items.length)] as T;
const chance = (r: Rand, p: number): boolean => r() < p;

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789_.-:é€😀\u0000"\\{}[]';

function randomString(r: Rand, max = 24): string {
  let s = '';
  const n = int(r, max);
  for (let i = 0; i < n; i++) s += alphabet[int(r, alphabet.length)];
  return s;
}

/** Numbers a well-behaved peer never sends as an id or a size. */
const oddNumbers = [
  0,
  -1,
  1.5,
  -0,
  2 ** 31,
  2 ** 32 + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  1e300,
  -1e300,
  Number.MIN_VALUE,
];

function randomNumber(r: Rand): number {
  return chance(r, 0.5) ? pick(r, oddNumbers) : int(r, 1_000_000) - 1000;
}

/** Any JSON value, nested up to `depth`. */
export function randomJson(r: Rand, depth = 3): unknown {
  const k = int(r, depth > 0 ? 8 : 5);
  switch (k) {
    case 0:
      return null;
    case 1:
      return chance(r, 0.5);
    case 2:
      return randomNumber(r);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return Array.from({ length: int(r, 5) }, () => randomJson(r, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 5); i > 0; i--) o[randomString(r, 8)] = randomJson(r, depth - 1);
      return o;
    }
  }
}

/** Something in place of a field of a given type: usually the wrong type. */
function wrongValue(r: Rand): unknown {
  return pick(r, [
    () => randomNumber(r),
    () => randomString(r),
    () => null,
    () => chance(r, 0.5),
    () => [randomJson(r, 1)],
    () => ({ x: randomJson(r, 1) }),
  ])();
}

/** Payload texts: garbage, valid superjson, and texts that try to pollute a prototype. */
export function randomPayloadText(r: Rand): string {
  return pick(r, [
    () => randomString(r, 40),
    () => '{"json":' + JSON.stringify(randomJson(r, 2)) + '}',
    () => '{"json":{"tag":"fz"}}',
    () => '{"json":{"__proto__":{"polluted":true}}}',
    () => '{"json":{"a":{"constructor":{"prototype":{"polluted":true}}}}}',
    () => '{"json":{"tag":"fz"},"meta":{"values":{"tag":["bogus"]}}}',
    () => '{"json":"x","meta":{"values":["Date"]}}',
    () => '['.repeat(int(r, 4000)),
    () => '',
  ])();
}

/** A JSON object with an own `__proto__` key (an object literal would set the prototype instead). */
export function protoObject(inner: unknown): Record<string, unknown> {
  return JSON.parse(`{"cb":1,"t":"req","__proto__":${JSON.stringify(inner)}}`) as Record<string, unknown>;
}

function mutate(r: Rand, frame: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(frame);
  const out = { ...frame };
  switch (int(r, 4)) {
    case 0: // drop a field
      delete out[pick(r, keys)];
      break;
    case 1: // wrong type of a field
      out[pick(r, keys)] = wrongValue(r);
      break;
    case 2: // an extra field
      out[randomString(r, 6) || 'extra'] = randomJson(r, 1);
      break;
    default: // a hostile key
      return { ...JSON.parse(`{"__proto__":{"polluted":true}}`), ...out } as Record<string, unknown>;
  }
  return out;
}

/** Options of `upFrames`. */
export interface UpFuzzOptions {
  /** Delivery ids the sender owes a reply for: never forge a reply for them. */
  avoidIds: ReadonlySet<number>;
  /** Delivery ids near which forged replies are aimed (recent ones, so some hit live deliveries). */
  nearId: number;
}

/** Event names forged requests may use: none of them has a handler that records or misbehaves. */
const forgedRequestEvents = ['fuzz.a', 'fuzz.b', 'test.nobody.map', 'test.nobody.task', 'test.nobody.note'];
// (And `test.echo`, as a map only: its handler answers at once unless told otherwise, which random
// payloads never do.)

/**
 * One message a worker throws at the master: random JSON, user messages, and frames that are
 * almost, or exactly, well-formed. Forged requests use ids at or above 1e9 (so their answers
 * never collide with the worker's own calls) and events whose handlers are harmless; forged
 * replies are aimed around `nearId`, so some of them answer live deliveries before the
 * handler does.
 */
export function upMessage(r: Rand, o: UpFuzzOptions): unknown {
  const hugeId = 1e9 + int(r, 1e9);
  const replyId = (): number => {
    for (;;) {
      const id = chance(r, 0.7) ? Math.max(1, o.nearId + int(r, 200) - 100) : pick(r, [hugeId, 2 ** 53 - 1]);
      if (!o.avoidIds.has(id)) return id;
    }
  };
  switch (int(r, 13)) {
    case 12:
      // A map every worker runs (the sender included, so forged replies can hit live deliveries),
      // often with a payload that tries to pollute the receiving workers' prototypes.
      return {
        cb: 1,
        t: 'req',
        id: hugeId,
        ev: 'test.echo',
        op: 'm',
        p: pick(r, [
          '{"json":{"tag":"fz"}}',
          '{"json":{"tag":"fz","__proto__":{"polluted":true}}}',
          '{"json":{"tag":"fz","constructor":{"prototype":{"polluted":true}}}}',
          randomPayloadText(r),
        ]),
        ms: 1 + int(r, 500),
      };
    case 0:
      return randomJson(r);
    case 1:
      return { act: 'fuzz', n: randomJson(r, 1) };
    case 2:
      return { cb: pick(r, [0, 2, '1', true, null]), t: 'req', id: hugeId, ev: 'fuzz.a', op: 'b', p: '{}' };
    case 3:
      return { cb: 1, t: pick(r, ['x', '', 'REQ', 'call', 'done', 'mapped', null, 7]), id: randomNumber(r) };
    case 4: {
      const valid = {
        cb: 1,
        t: 'req',
        id: hugeId,
        ev: pick(r, forgedRequestEvents),
        op: pick(r, ['b', 'c', 'm']),
        p: randomPayloadText(r),
        ms: 1 + int(r, 200),
      };
      return chance(r, 0.5) ? valid : mutate(r, valid);
    }
    case 5: {
      // A request the master must reject for its size, or route: a broadcast nobody handles.
      const p = 'x'.repeat(int(r, 300));
      return { cb: 1, t: 'req', id: hugeId, ev: 'fuzz.b', op: 'b', p, mp: 1 + int(r, 200) };
    }
    case 6: {
      const res = { cb: 1, t: 'res', id: replyId(), ok: true, p: randomPayloadText(r) };
      return chance(r, 0.6) ? res : mutate(r, res);
    }
    case 7: {
      const e = { c: pick(r, ['CB_HANDLER_FAILED', 'CB_TIMEOUT', 'CB_NO_HANDLER', 'NOPE', '']), m: randomString(r) };
      const res = { cb: 1, t: 'res', id: replyId(), ok: false, e: chance(r, 0.5) ? e : mutate(r, e) };
      return chance(r, 0.6) ? res : mutate(r, res);
    }
    case 8: {
      const t = pick(r, ['hello', 'handlers']);
      const ev = chance(r, 0.7) ? Array.from({ length: int(r, 4) }, () => randomString(r, 10)) : wrongValue(r);
      return { cb: 1, t, ev };
    }
    case 9:
      return protoObject({ polluted: true, t: 'req' });
    case 10: {
      // A request with a huge or nonsensical id or deadline.
      return {
        cb: 1,
        t: 'req',
        id: pick(r, [2 ** 53, 1e300, -5, 0, 1.25, hugeId]),
        ev: 'fuzz.a',
        op: 'm',
        p: '{"json":1}',
        ms: pick(r, [0, -1, 1.5, 2 ** 40, 1e300, 1]),
      };
    }
    default:
      return pick(r, ['', 'hello', 42, [], [1, 'cb'], { cb: 1 }, { t: 'req' }, { cb: 1, t: 'res' }]);
  }
}

/** Event names forged calls may use: none of them records, misbehaves or calls out. */
const forgedCallEvents = [
  'test.echo',
  'test.note',
  'test.nobody.map',
  'fuzz.a',
  '__proto__',
  'constructor',
  'toString',
];

/** One message the master throws at a worker: random JSON, and calls and replies it never asked for. */
export function downMessage(r: Rand): unknown {
  const hugeId = 1e9 + int(r, 1e9);
  switch (int(r, 9)) {
    case 0:
      return randomJson(r);
    case 1:
      return { act: 'fuzz', n: randomJson(r, 1) };
    case 2:
    case 3: {
      const call = {
        cb: 1,
        t: 'call',
        id: pick(r, [0, hugeId, int(r, 100)]),
        ev: pick(r, forgedCallEvents),
        op: pick(r, ['b', 'c', 'm']),
        p: randomPayloadText(r),
        from: int(r, 5),
      };
      return chance(r, 0.6) ? call : mutate(r, call);
    }
    case 4: {
      const done = { cb: 1, t: 'done', id: hugeId, ok: chance(r, 0.5), e: { c: 'CB_TIMEOUT', m: 'x' } };
      return chance(r, 0.5) ? done : mutate(r, done);
    }
    case 5: {
      const outcome = chance(r, 0.5) ? [int(r, 5), true, randomPayloadText(r)] : [int(r, 5), false, { c: 'X', m: 'y' }];
      const mapped = { cb: 1, t: 'mapped', id: hugeId, r: chance(r, 0.7) ? [outcome] : wrongValue(r) };
      return chance(r, 0.5) ? mapped : mutate(r, mapped);
    }
    case 6:
      return { cb: 1, t: pick(r, ['req', 'res', 'hello', 'x', 5]), id: randomNumber(r) };
    case 7:
      return protoObject({ polluted: true, t: 'call' });
    default:
      return pick(r, ['', 'call', 0, [], { cb: 1 }, { cb: 2, t: 'call' }, { t: 'done', id: 1, ok: true }]);
  }
}
