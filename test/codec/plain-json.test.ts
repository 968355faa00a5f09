import test from 'ava';
import superjson from 'superjson';
import { decode } from '../../src/codec/codec.js';
import { NO_COPY, copyPlain, encodePlain, plainText } from '../../src/codec/plain-json.js';
import { prng } from '../helpers/fuzz.js';

const specials: (() => unknown)[] = [
  () => undefined,
  () => NaN,
  () => Infinity,
  () => -Infinity,
  () => -0,
  () => new Date(1_700_000_000_000),
  () => new Map([['a', 1]]),
  () => new Set([1, 2]),
  () => 10n,
  () => /re/g,
  () => new URL('https://example.com/x'),
  () => new Error('boom'),
  () => Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 }),
  () => Object.assign(new Array<number>(3), { 0: 1, 2: 3 }), // a hole at index 1
];

function randomString(rnd: () => number): string {
  const alphabet = ['a', 'b', 'z', ' ', '"', '\\', '\n', '\u0000', 'é', '漢', '😀', '.', '__proto', 'json', 'meta'];
  let s = '';
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

function randomValue(rnd: () => number, depth: number, allowSpecial: boolean): unknown {
  const r = rnd();
  if (allowSpecial && r < 0.04) return specials[Math.floor(rnd() * specials.length)]!();
  if (depth > 4 || r < 0.35) {
    const k = Math.floor(rnd() * 5);
    if (k === 0) return randomString(rnd);
    if (k === 1) return rnd() < 0.5 ? Math.floor(rnd() * 1e6) - 5e5 : (rnd() - 0.5) * 1e-3;
    if (k === 2) return rnd() < 0.5;
    if (k === 3) return null;
    return Number.MAX_SAFE_INTEGER * (rnd() < 0.5 ? 1 : -1);
  }
  if (r < 0.65) {
    return Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(rnd, depth + 1, allowSpecial));
  }
  const o: Record<string, unknown> = {};
  const n = Math.floor(rnd() * 5);
  for (let i = 0; i < n; i++) o[randomString(rnd)] = randomValue(rnd, depth + 1, allowSpecial);
  return o;
}

/** 20,000 random values from `seed` (CODEC_SEED overrides it), every other one allowed specials. */
function* randomValues(seed: number): Generator<[i: number, value: unknown]> {
  const rnd = prng(seed);
  for (let i = 0; i < 20_000; i++) yield [i, randomValue(rnd, 0, i % 2 === 0)];
}

const seedOr = (fallback: number): number => Number(process.env.CODEC_SEED ?? fallback);

test('codec - the plain-JSON encoder writes exactly what superjson writes, on 20,000 random values', (t) => {
  const seed = seedOr(0x5eed);
  let fast = 0;
  let fellBack = 0;
  for (const [i, value] of randomValues(seed)) {
    const plain = encodePlain(value);
    const reference = superjson.stringify(value);
    if (plain === undefined) {
      fellBack++;
      continue;
    }
    fast++;
    if (plain !== reference) {
      t.fail(`seed ${seed}, value #${i}: ${plain} !== ${reference}`);
      return;
    }
    t.deepEqual(superjson.parse(plain), superjson.parse(reference));
  }
  t.log(`seed ${seed}: ${fast} values took the fast path, ${fellBack} fell back to superjson`);
  t.true(fast > 5_000);
  t.true(fellBack > 1_000);
});

test('codec - every value superjson annotates falls back to superjson', (t) => {
  for (const make of specials) {
    t.is(encodePlain(make()), undefined, String(make));
    t.is(encodePlain({ nested: [make()] }), undefined, `nested ${String(make)}`);
  }
  const shared = { x: 1 };
  t.is(encodePlain([shared, shared]), undefined, 'a shared reference keeps its identity only through superjson');
  class Point {
    constructor(readonly x: number) {}
  }
  t.is(encodePlain(new Point(1)), undefined);
});

test('codec - keys every receiver refuses are left to the slow path, which refuses them', (t) => {
  t.is(encodePlain(JSON.parse('{"a":{"__proto__":{"x":1}}}')), undefined, 'an own __proto__ key');
  t.is(encodePlain({ a: [{ constructor: { prototype: {} } }] }), undefined, 'a constructor holding a prototype');
  // Harmless keys of the same names stay on the fast path (decode accepts them).
  t.is(encodePlain({ constructor: 'x', prototype: { y: 1 } }), '{"json":{"constructor":"x","prototype":{"y":1}}}');
  t.is(encodePlain({ constructor: { name: 'x' } }), '{"json":{"constructor":{"name":"x"}}}');
});

test('codec - plain values round-trip through superjson unchanged', (t) => {
  const value = {
    s: 'a"b\\c',
    n: [1, 2.5, -3],
    b: true,
    z: null,
    deep: { list: [{ k: 'v' }] },
    nullProto: Object.assign(Object.create(null) as object, { a: 1 }),
  };
  const encoded = encodePlain(value);
  t.is(encoded, superjson.stringify(value));
  t.deepEqual(superjson.parse(encoded!), JSON.parse(JSON.stringify(value)));
});

test('codec - a plain copy equals what its encoding decodes to, on 20,000 random values', (t) => {
  const seed = seedOr(0xc0b1);
  let copied = 0;
  let refused = 0;
  for (const [i, value] of randomValues(seed)) {
    const copy = copyPlain(value);
    if (copy === NO_COPY) {
      refused++;
      // Everything copyPlain refuses that the plain encoder takes is left to decoding, which
      // gives the same value: the two paths never disagree on what a receiver gets.
      continue;
    }
    copied++;
    const text = plainText(copy);
    if (text !== superjson.stringify(value)) {
      t.fail(`seed ${seed}, value #${i}: the copy encodes as ${text}, superjson wrote ${superjson.stringify(value)}`);
      return;
    }
    const decoded = decode(text, 'e', 1);
    t.deepEqual(copy, decoded);
    if (typeof value === 'object' && value !== null) t.not(copy, value, 'a copy, not the value itself');
  }
  t.log(`seed ${seed}: ${copied} values copied, ${refused} left to decoding`);
  t.true(copied > 5_000);
  t.true(refused > 1_000);
});

test('codec - copyPlain refuses what decoding treats specially, and shares nothing with the value', (t) => {
  for (const make of specials) {
    t.is(copyPlain(make()), NO_COPY, String(make));
    t.is(copyPlain({ nested: [make()] }), NO_COPY, `nested ${String(make)}`);
  }
  const shared = { x: 1 };
  t.is(copyPlain([shared, shared]), NO_COPY, 'a shared reference');
  t.is(copyPlain(JSON.parse('{"a":{"__proto__":{"x":1}}}')), NO_COPY, 'an own __proto__ key');
  t.is(copyPlain({ constructor: { prototype: {} } }), NO_COPY, 'a constructor key');
  const value = { list: [{ k: 'v' }], nullProto: Object.assign(Object.create(null) as object, { a: 1 }), s: 'x' };
  const copy = copyPlain(value) as typeof value;
  t.deepEqual(copy, JSON.parse(JSON.stringify(value)) as typeof value);
  t.not(copy.list, value.list);
  t.not(copy.list[0], value.list[0]);
  t.is(Object.getPrototypeOf(copy.nullProto), Object.prototype, 'as JSON.parse makes it');
  value.list[0]!.k = 'changed';
  t.is(copy.list[0]!.k, 'v');
});
