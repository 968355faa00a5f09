import test from 'ava';
import { BadPayloadError, ErrorCodes } from 'clusterbus';
import { decode, encode } from '../../src/codec/codec.js';
import { encodePlain } from '../../src/codec/plain-json.js';
import { encodeRich } from '../../src/codec/rich-json.js';
import { MAX_NESTING, SHOWN_STEPS, findUnsendable } from '../../src/codec/sendable.js';
import { prng } from '../helpers/fuzz.js';

const EV = 'orders.new';
const roundTrip = (value: unknown): unknown => decode(encode(value, EV, 0), EV, 0);

/** The error `encode` throws for `value`, which must be a `BadPayloadError`. */
function refusal(value: unknown, what?: 'payload' | 'result', plain?: boolean): BadPayloadError {
  try {
    encode(value, EV, 4, plain, what);
  } catch (err) {
    if (err instanceof BadPayloadError) return err;
    throw err;
  }
  throw new Error('encode accepted the value');
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}
class Registry extends Map<string, number> {}
class Bytes extends Uint8Array {}

/** An object with an own `__proto__` key, as `JSON.parse` makes one. */
const withProto = (): unknown => JSON.parse('{"ok":1,"__proto__":{"polluted":true}}');
/**
 * Something only superjson's path carries (a typed array): the fast encoders take plain and
 * common rich values without looking for properties JSON never sees.
 */
const slow = (): Int8Array => new Int8Array([1]);
const CLASSES = 'only plain objects, arrays, Date, Map, Set, RegExp, URL, Error and typed arrays do';

const refused: [name: string, value: () => unknown, message: string][] = [
  ['a function deep in a list', () => ({ items: [1, 2, { cb: () => 1 }] }), 'payload.items[2].cb is a function'],
  ['a function as the payload', () => () => 1, 'payload is a function'],
  [
    'a function under a key that is not an identifier',
    () => ({ 'weird key': () => 1 }),
    'payload["weird key"] is a function',
  ],
  ['a symbol', () => ({ s: Symbol('tag') }), 'payload.s is a symbol (Symbol(tag))'],
  [
    'a symbol-keyed property',
    () => ({ o: { [Symbol('k')]: 1 }, slow: slow() }),
    'payload.o[Symbol(k)] is a property keyed by a symbol, which does not travel (only string keys do)',
  ],
  [
    'a class instance with methods',
    () => ({ at: new Point(1, 2) }),
    `payload.at is an instance of Point, which does not travel (${CLASSES})`,
  ],
  [
    'an object with a prototype of its own',
    () => ({ o: Object.create({ inherited: 1 }) as object }),
    `payload.o is an object whose prototype is not Object.prototype, which does not travel (${CLASSES})`,
  ],
  [
    'a subclass of Map',
    () => ({ r: new Registry() }),
    `payload.r is an instance of Registry, which does not travel (${CLASSES})`,
  ],
  ['a Buffer', () => ({ b: Buffer.from('hi') }), 'payload.b is a Buffer; send a Uint8Array (new Uint8Array(buf))'],
  [
    'a subclass of Uint8Array',
    () => [new Bytes(1)],
    'payload[0] is a Bytes, which does not travel (of the typed arrays, only Int8Array, Uint8Array, ' +
      'Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array and Float64Array do)',
  ],
  [
    'a BigInt64Array',
    () => new BigInt64Array(1),
    'payload is a BigInt64Array, which does not travel (of the typed arrays, only Int8Array, Uint8Array, ' +
      'Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array and Float64Array do)',
  ],
  [
    'a DataView',
    () => ({ v: new DataView(new ArrayBuffer(2)) }),
    'payload.v is a DataView; send a Uint8Array (new Uint8Array(view.buffer))',
  ],
  [
    'an ArrayBuffer',
    () => ({ v: new ArrayBuffer(2) }),
    'payload.v is an ArrayBuffer; send a Uint8Array (new Uint8Array(buffer))',
  ],
  [
    'NaN in a Float64Array',
    () => ({ f: new Float64Array([1, NaN]) }),
    'payload.f[1] is NaN in a Float64Array (it would arrive as 0)',
  ],
  [
    '-0 in a Float32Array',
    () => ({ f: new Float32Array([-0]) }),
    'payload.f[0] is -0 in a Float32Array (it would arrive as 0)',
  ],
  [
    'a boxed primitive',
    () => ({ s: new String('x') }),
    'payload.s is a String object (a boxed primitive); send the primitive value',
  ],
  ['a promise', () => ({ p: Promise.resolve(1) }), 'payload.p is a Promise; await it and send its value'],
  [
    'an own __proto__ key',
    () => ({ a: withProto() }),
    'payload.a["__proto__"] is an own "__proto__" property, which every receiver refuses',
  ],
  [
    'an own __proto__ key in a Map value',
    () => new Map([['k', withProto()]]),
    'payload<map value 0>["__proto__"] is an own "__proto__" property, which every receiver refuses',
  ],
  [
    'a constructor holding a prototype',
    () => ({ a: { constructor: { prototype: { polluted: true } } } }),
    'payload.a.constructor is an object with a "prototype" key, which every receiver refuses',
  ],
  [
    'a constructor key next to something only superjson carries',
    () => ({ constructor: 'x', slow: slow() }),
    'payload.constructor is a "constructor" key, which superjson refuses (only plain JSON data, which does not ' +
      'need superjson, may have one)',
  ],
  [
    'an Error with a property of its own',
    () => ({ e: Object.assign(new Error('no such file'), { code: 'ENOENT' }) }),
    'payload.e.code is a property of an Error, which does not travel (only name, message and cause do)',
  ],
  [
    'a function in the cause of an Error',
    () => ({ e: new Error('outer', { cause: { retry: () => 1 } }) }),
    'payload.e.cause.retry is a function',
  ],
  [
    'a sparse array',
    () => ({ list: [1, , 3] }), // eslint-disable-line no-sparse-arrays
    'payload.list[1] is a hole in a sparse array (it would arrive as null)',
  ],
  [
    'an array with a property that is not an index',
    () => ({ list: Object.assign([1, 2], { total: 3 }), slow: slow() }),
    'payload.list.total is a property of an array that is not an index (only items travel)',
  ],
  [
    'a Date with a property of its own',
    () => ({ d: Object.assign(new Date(0), { zone: 'UTC' }), slow: slow() }),
    'payload.d.zone is a property of a Date, which does not travel (only its time does)',
  ],
  ['an invalid Date', () => ({ at: new Date(NaN) }), 'payload.at is an invalid Date (it would arrive as null)'],
  ['a function as a Map key', () => ({ m: new Map([[() => 1, 'v']]) }), 'payload.m<map key 0> is a function'],
  [
    'a symbol as a Map value',
    () => ({
      m: new Map<string, unknown>([
        ['a', 1],
        ['b', Symbol('late')],
      ]),
    }),
    'payload.m<map value 1> is a symbol (Symbol(late))',
  ],
  [
    'an Error message that is not a string',
    () => ({ e: Object.assign(new Error('m'), { message: { code: 1 } }), slow: slow() }),
    'payload.e.message is an Error message that is not a string (it would arrive as a string)',
  ],
  [
    'a class instance in a Set',
    () => new Set([1, new Point(0, 0)]),
    `payload<set item 1> is an instance of Point, which does not travel (${CLASSES})`,
  ],
];

for (const [name, make, message] of refused) {
  test(`codec - ${name} is refused in the sender with its path`, (t) => {
    const err = refusal(make());
    t.is(err.message, `cannot send "${EV}": ${message}`);
    t.is(err.code, ErrorCodes.BAD_PAYLOAD);
    t.is(err.event, EV);
    t.is(err.worker, 4);
    // The same whatever the generator said about the type: plain-JSON first or not.
    t.is(refusal(make(), 'payload', false).message, err.message);
    t.is(refusal(make(), 'payload', true).message, err.message);
  });
}

test('codec - a map result is refused with a path that starts at result', (t) => {
  const err = refusal({ items: [{ cb: () => 1 }] }, 'result');
  t.is(err.message, `cannot send "${EV}": result.items[0].cb is a function`);
  t.is(
    refusal(withProto(), 'result').message,
    `cannot send "${EV}": result["__proto__"] is an own "__proto__" property, which every receiver refuses`,
  );
});

test('codec - nesting deeper than the limit is refused, the path shortened in the middle', (t) => {
  const chain = (levels: number): unknown => {
    let v: unknown = { leaf: 1 };
    for (let i = 0; i < levels; i++) v = { a: v };
    return v;
  };
  // The root is level 0: MAX_NESTING levels of objects below it are fine...
  t.deepEqual(roundTrip([new Int8Array(1), chain(MAX_NESTING - 1)]), [new Int8Array(1), chain(MAX_NESTING - 1)]);
  // ... one more is not.
  const err = refusal(chain(MAX_NESTING + 1));
  const steps = MAX_NESTING + 1;
  const half = '.a'.repeat(SHOWN_STEPS / 2);
  t.is(
    err.message,
    `cannot send "${EV}": payload${half}…(${steps - SHOWN_STEPS} more steps)…${half} is nested more than ` +
      `${MAX_NESTING} levels deep`,
  );
  // Maps nest twice as deep inside superjson; the limit holds for them without overflowing its stack.
  let maps: unknown = 1;
  for (let i = 0; i < MAX_NESTING + 1; i++) maps = new Map([[i, maps]]);
  t.notThrows(() => roundTrip(maps));
  t.regex(
    refusal(new Map([['x', maps]])).message,
    new RegExp(
      `^cannot send "orders\\.new": payload<map value 0><map value 0>.* is nested more than ${MAX_NESTING} levels deep$`,
    ),
  );
});

test('codec - cycles and shared references are carried, each object checked once', (t) => {
  const shared = { n: 1, at: new Date(5) };
  const value: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
  value.self = value;
  value.map = new Map<unknown, unknown>([[value, shared]]);
  const back = roundTrip(value) as typeof value;
  t.is(back.a, back.b);
  t.is(back.self, back);
  t.is((back.list as unknown[])[0], back.a);
  t.deepEqual([...(back.map as Map<unknown, unknown>)], [[back, back.a]]);
  t.deepEqual(back.a, { n: 1, at: new Date(5) });
  // A bad thing in a shared object is reported where the walk meets it first.
  const bad = { fn: () => 1 };
  t.is(refusal({ first: bad, second: bad }).message, `cannot send "${EV}": payload.first.fn is a function`);
});

test('codec - a NaN Map key travels, alone or next to other NaNs, in its place', (t) => {
  const alone = { m: new Map<unknown, unknown>([[NaN, 'nan']]), n: [1, 'NaN', new Int8Array(1)] };
  t.deepEqual(roundTrip(alone), alone);
  const m = new Map<unknown, unknown>([
    ['x', 1],
    [NaN, NaN],
    ['y', 3],
  ]);
  const value = { first: NaN, m, s: new Set([NaN, 'z']) };
  const back = roundTrip(value) as typeof value;
  t.deepEqual(back, value);
  t.deepEqual([...back.m.keys()], ['x', NaN, 'y']);
  t.deepEqual([...back.s], [NaN, 'z']);
});

test('codec - every kind the codec carries round-trips unchanged', (t) => {
  const value = {
    text: 'a"b\\c é 😀',
    numbers: [0, -1.5, NaN, Infinity, -Infinity, -0, Number.MAX_SAFE_INTEGER],
    big: -12345678901234567890n,
    flags: [true, false, null, undefined],
    nullProto: Object.assign(Object.create(null) as object, { a: 1 }),
    at: new Date('2026-01-02T03:04:05.678Z'),
    re: /a+b?/gi,
    url: new URL('https://example.com/a?b=1#c'),
    map: new Map<unknown, unknown>([
      [{ key: 'object' }, new Set([1n])],
      [undefined, null],
    ]),
    set: new Set<unknown>(['x', new Date(0), [1, 2]]),
    error: new Error('boom', { cause: { why: new Date(1) } }),
    named: Object.assign(new Error('typed'), { name: 'TypeError' }),
    typed: [
      new Int8Array([-1, 2]),
      new Uint8Array([255]),
      new Uint8ClampedArray([7]),
      new Int16Array([-300]),
      new Uint16Array([65535]),
      new Int32Array([-70000]),
      new Uint32Array([4000000000]),
      new Float32Array([1.5]),
      new Float64Array([Math.PI]),
    ],
    'weird key': { '': 0, 'a.b': 1, constant: 'constructor' },
  };
  t.is(findUnsendable(value), undefined);
  const back = roundTrip(value) as typeof value;
  t.deepEqual(back, value);
  t.is(back.error.message, 'boom');
  t.deepEqual(back.error.cause, { why: new Date(1) });
  t.is(back.named.name, 'TypeError');
  t.true(back.typed.every((a, i) => a.constructor === value.typed[i]!.constructor));
  t.true(Object.is(back.numbers[5], -0));
});

test('codec - a constructor or prototype key still travels in plain JSON data', (t) => {
  for (const value of [{ constructor: 'x' }, { prototype: { x: 1 } }, [{ constructor: 1 }]]) {
    t.deepEqual(roundTrip(value), value);
  }
});

test('codec - properties JSON never sees are looked for only on superjson’s path (documented)', (t) => {
  // Plain and common rich values take the fast encoders, which leave them out as JSON.stringify does.
  const plain = { o: { [Symbol('k')]: 1, a: 1 }, list: Object.assign([1], { total: 1 }) };
  t.deepEqual(roundTrip(plain), { o: { a: 1 }, list: [1] });
  const rich = { at: Object.assign(new Date(0), { zone: 'UTC' }) };
  t.deepEqual(roundTrip(rich), { at: new Date(0) });
  // The check that runs before superjson does look for them.
  t.is(findUnsendable(plain)?.path, 'payload.o[Symbol(k)]');
  t.is(findUnsendable(rich)?.path, 'payload.at.zone');
});

// ---- seeded property tests ---------------------------------------------------------------

const seedOr = (fallback: number): number => Number(process.env.SENDABLE_SEED ?? fallback);
type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, items: readonly T[]): T => items[int(r, items.length)] as T;

const KEYS = ['a', 'b', 'items', '$x', '_y', 'weird key', 'a.b', '', '0', '12', 'é', 'x-y', 'json', 'meta'];
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A path step as the refusal writes it (the format documented in src/sendable.ts). */
const keyStep = (key: string): string =>
  IDENTIFIER.test(key) && key !== '__proto__' ? `.${key}` : `[${JSON.stringify(key)}]`;

/** A container of a generated value, where one bad thing may be planted. */
interface Spot {
  readonly path: string;
  readonly container: Record<string, unknown> | unknown[] | Map<unknown, unknown> | Set<unknown>;
}

function randomLeaf(r: Rand): unknown {
  switch (int(r, 14)) {
    case 0:
      return undefined;
    case 1:
      return pick(r, [NaN, Infinity, -Infinity, -0, 0.5, -7, 2 ** 53]);
    case 2:
      return BigInt(int(r, 1e6)) * 1_000_000_007n;
    case 3:
      return new Date(int(r, 2e12));
    case 4:
      return new RegExp(`a${int(r, 9)}`, pick(r, ['', 'g', 'iu']));
    case 5:
      return new URL(`https://example.com/p${int(r, 9)}?q=${int(r, 9)}`);
    case 6:
      return r() < 0.5 ? new Error(`boom ${int(r, 9)}`) : new Error('with cause', { cause: randomLeaf(r) });
    case 7: {
      const ctor = pick(r, [
        Int8Array,
        Uint8Array,
        Uint8ClampedArray,
        Int16Array,
        Uint16Array,
        Int32Array,
        Uint32Array,
      ]);
      return new ctor(Array.from({ length: int(r, 4) }, () => int(r, 100)));
    }
    case 8:
      return new (pick(r, [Float32Array, Float64Array]))(Array.from({ length: int(r, 3) }, () => int(r, 1000) / 8));
    case 9:
      return null;
    case 10:
      return r() < 0.5;
    default:
      return pick(r, KEYS) + pick(r, ['', ' "q"', '\\', '😀']);
  }
}

/**
 * A random value of kinds the codec carries; its containers are listed in `spots` with their
 * paths. Shared references point only at objects that are no spot, and cycles only at an
 * ancestor, so the path of a spot is where the check meets it first. Either may be a Set item
 * or a Map key itself.
 */
function randomValue(
  r: Rand,
  depth: number,
  path: string,
  spots: Spot[],
  ancestors: object[],
  shared: object,
): unknown {
  const k = r();
  if (depth > 4 || k < 0.35) return randomLeaf(r);
  if (k < 0.4) return shared;
  if (k < 0.43) return pick(r, ancestors);
  const n = int(r, 4);
  if (k < 0.6) {
    const list: unknown[] = [];
    spots.push({ path, container: list });
    for (let i = 0; i < n; i++)
      list.push(randomValue(r, depth + 1, `${path}[${i}]`, spots, [...ancestors, list], shared));
    return list;
  }
  if (k < 0.7) {
    const map = new Map<unknown, unknown>();
    spots.push({ path, container: map });
    for (let i = 0; i < n; i++) {
      const key =
        r() < 0.8
          ? pick(r, KEYS)
          : randomValue(r, depth + 1, `${path}<map key ${i}>`, spots, [...ancestors, map], shared);
      if (map.has(key)) break;
      map.set(key, randomValue(r, depth + 1, `${path}<map value ${i}>`, spots, [...ancestors, map], shared));
    }
    return map;
  }
  if (k < 0.78) {
    const set = new Set<unknown>();
    spots.push({ path, container: set });
    for (let i = 0; i < n; i++) {
      const item = randomValue(r, depth + 1, `${path}<set item ${set.size}>`, spots, [...ancestors, set], shared);
      set.add(item);
    }
    return set;
  }
  const o: Record<string, unknown> = r() < 0.1 ? (Object.create(null) as Record<string, unknown>) : {};
  spots.push({ path, container: o });
  for (let i = 0; i < n; i++) {
    const key = pick(r, KEYS);
    if (key in o) continue;
    o[key] = randomValue(r, depth + 1, path + keyStep(key), spots, [...ancestors, o], shared);
  }
  return o;
}

/** A random carried value with a plain object at its root. */
function randomPayload(r: Rand): { value: Record<string, unknown>; spots: Spot[] } {
  const spots: Spot[] = [];
  const value: Record<string, unknown> = {};
  spots.push({ path: 'payload', container: value });
  const shared = { shared: true, at: new Date(0) };
  for (let i = int(r, 4); i >= 0; i--) {
    const key = pick(r, KEYS);
    if (key in value) continue;
    value[key] = randomValue(r, 1, `payload${keyStep(key)}`, spots, [value], shared);
  }
  return { value, spots };
}

test('codec - random values of every carried kind round-trip unchanged (seeded)', (t) => {
  const seed = seedOr(0x5e4d);
  const r = prng(seed);
  const took = { plain: 0, rich: 0, superjson: 0 };
  for (let i = 0; i < 3_000; i++) {
    const { value } = randomPayload(r);
    took[encodePlain(value) !== undefined ? 'plain' : encodeRich(value) !== undefined ? 'rich' : 'superjson']++;
    let back: unknown;
    try {
      back = roundTrip(value);
    } catch (err) {
      t.fail(`seed ${seed}, value #${i}: ${(err as Error).message}`);
      return;
    }
    t.deepEqual(back, value, `seed ${seed}, value #${i}`);
  }
  t.log(`seed ${seed}: encoded by`, took);
  // Every path is exercised, the checked one (superjson's) most.
  t.true(took.plain > 100 && took.rich > 100 && took.superjson > 1_000);
});

/** Bad things to plant: the thing, and what the path of the refusal adds to where it was put. */
const plants: [name: string, make: () => unknown, suffix: string][] = [
  ['function', () => () => 1, ''],
  ['symbol', () => Symbol('planted'), ''],
  ['class instance', () => new Point(1, 1), ''],
  ['Buffer', () => Buffer.from('x'), ''],
  ['own __proto__', withProto, '["__proto__"]'],
  ['constructor.prototype', () => ({ constructor: { prototype: {} } }), '.constructor'],
  ['Error with a code', () => Object.assign(new Error('x'), { code: 'E' }), '.code'],
  ['sparse array', () => [1, , 3], '[1]'], // eslint-disable-line no-sparse-arrays
  ['invalid Date', () => new Date(NaN), ''],
  ['NaN in a Float64Array', () => new Float64Array([NaN]), '[0]'],
  ['subclass of Map', () => new Registry(), ''],
];

/** Puts `bad` into `spot` as a new member; returns the path of that member. */
function plant(r: Rand, spot: Spot, bad: unknown): string {
  const c = spot.container;
  if (Array.isArray(c)) {
    c.push(bad);
    return `${spot.path}[${c.length - 1}]`;
  }
  if (c instanceof Map) {
    const i = c.size;
    if (r() < 0.5) {
      c.set(bad, 'value');
      return `${spot.path}<map key ${i}>`;
    }
    c.set(`planted-${i}`, bad);
    return `${spot.path}<map value ${i}>`;
  }
  if (c instanceof Set) {
    c.add(bad);
    return `${spot.path}<set item ${c.size - 1}>`;
  }
  const key = pick(r, ['planted', 'weird key', 'x.y', '7']);
  c[key] = bad;
  return spot.path + keyStep(key);
}

test('codec - one bad thing planted anywhere in a random value is refused, naming its path (seeded)', (t) => {
  const seed = seedOr(0xbad5eed);
  const r = prng(seed);
  for (let i = 0; i < 3_000; i++) {
    const { value, spots } = randomPayload(r);
    const [kind, make, suffix] = pick(r, plants);
    const where = plant(r, pick(r, spots), make()) + suffix;
    let message: string;
    try {
      encode(value, EV, 0, pick(r, [undefined, true, false]));
      t.fail(`seed ${seed}, value #${i}: a ${kind} at ${where} was accepted`);
      return;
    } catch (err) {
      if (!(err instanceof BadPayloadError)) throw err;
      message = err.message;
    }
    if (!message.startsWith(`cannot send "${EV}": ${where} is`)) {
      t.fail(`seed ${seed}, value #${i}: a ${kind} at ${where}, refused as: ${message}`);
      return;
    }
  }
  t.pass();
});

test('codec - properties only superjson’s path looks for are refused there, naming their path (seeded)', (t) => {
  const seed = seedOr(0x5e1f);
  const r = prng(seed);
  for (let i = 0; i < 1_000; i++) {
    const { value, spots } = randomPayload(r);
    const candidates = spots.filter((s) => !(s.container instanceof Map) && !(s.container instanceof Set));
    const spot = pick(r, candidates);
    let where: string;
    if (Array.isArray(spot.container)) {
      Object.assign(spot.container, { total: 1 });
      where = `${spot.path}.total`;
    } else {
      (spot.container as Record<symbol, unknown>)[Symbol('planted')] = 1;
      where = `${spot.path}[Symbol(planted)]`;
    }
    value.zzSlow = slow();
    const err = t.throws(() => encode(value, EV, 0), { instanceOf: BadPayloadError });
    if (!err?.message.startsWith(`cannot send "${EV}": ${where} is`)) {
      t.fail(`seed ${seed}, value #${i}: planted at ${where}, refused as: ${err?.message}`);
      return;
    }
  }
});
