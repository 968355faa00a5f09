import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import superjson from 'superjson';
import { decodeRich, encodeRich } from '../../src/codec/rich-json.js';
import { prng } from '../helpers/fuzz.js';

const keys = ['a', 'b', 'a.b', 'x\\y', '0', '12', 'json', 'meta', 'values', 'v', 'é', ''];

function randomLeaf(rnd: () => number): unknown {
  switch (Math.floor(rnd() * 16)) {
    case 0:
      return undefined;
    case 1:
      return [NaN, Infinity, -Infinity, -0][Math.floor(rnd() * 4)];
    case 2:
      return new Date(Math.floor(rnd() * 2e12));
    case 3:
      return BigInt(Math.floor(rnd() * 1e6)) * (rnd() < 0.5 ? -1n : 1n) * 1_000_000_007n;
    case 4:
      return new RegExp(`a${Math.floor(rnd() * 9)}`, rnd() < 0.5 ? 'g' : 'i');
    case 5:
      return new URL(`https://example.com/p${Math.floor(rnd() * 9)}?q=${Math.floor(rnd() * 9)}`);
    case 6:
      return new (rnd() < 0.5 ? Error : TypeError)(`boom ${Math.floor(rnd() * 9)}`);
    case 7:
      return null;
    case 8:
      return rnd() < 0.5;
    case 9:
      return keys[Math.floor(rnd() * keys.length)];
    default:
      return Math.floor(rnd() * 2000) - 1000 + (rnd() < 0.3 ? 0.5 : 0);
  }
}

function randomValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.4) return randomLeaf(rnd);
  const n = Math.floor(rnd() * 4);
  if (r < 0.55) return Array.from({ length: n }, () => randomValue(rnd, depth + 1));
  if (r < 0.7) return new Map(Array.from({ length: n }, () => [randomLeafKey(rnd), randomValue(rnd, depth + 1)]));
  if (r < 0.8) return new Set(Array.from({ length: n }, () => randomValue(rnd, depth + 1)));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) o[keys[Math.floor(rnd() * keys.length)] as string] = randomValue(rnd, depth + 1);
  return o;
}

function randomLeafKey(rnd: () => number): unknown {
  const k = randomLeaf(rnd);
  return k instanceof Error || k instanceof URL || k instanceof RegExp ? String(k) : k;
}

test('codec - the rich encoder writes exactly what superjson writes, on 20,000 random values', (t) => {
  const seed = Number(process.env.CODEC_SEED ?? 0xc0ffee);
  const rnd = prng(seed);
  let fast = 0;
  let fellBack = 0;
  for (let i = 0; i < 20_000; i++) {
    const value = randomValue(rnd, 0);
    const ours = encodeRich(value);
    if (ours === undefined) {
      fellBack++;
      continue;
    }
    fast++;
    const reference = superjson.stringify(value);
    if (ours !== reference) {
      t.fail(`seed ${seed}, value #${i}:\n ours ${ours}\n  sj  ${reference}`);
      return;
    }
  }
  t.log(`seed ${seed}: ${fast} values encoded by the rich encoder, ${fellBack} left to superjson`);
  t.true(fast > 15_000);
});

test('codec - what superjson records as shared, or handles specially, is left to superjson', (t) => {
  const d = new Date(0);
  const o = { x: 1 };
  class Point {
    constructor(readonly x: number) {}
  }
  for (const value of [
    [d, d],
    [o, o],
    [10n, 10n],
    { at: new Date(NaN) },
    { s: Symbol('s') },
    new Point(1),
    new Uint8Array(2),
    Object.assign(new Array<number>(3), { 0: 1, 2: 3 }),
    { constructor: 1 },
    { fn: () => 1 },
    { e: Object.assign(new Error('x'), { code: 'E_X' }) },
    { e: new Error('x', { cause: 1 }) },
  ]) {
    t.is(encodeRich(value), undefined, String(value));
  }
});

test('codec - rich values round-trip through superjson.parse', (t) => {
  const value = {
    at: new Date('2026-01-02T03:04:05.678Z'),
    m: new Map<unknown, unknown>([
      ['k', new Set([1n, new Date(5)])],
      [2, undefined],
    ]),
    list: [NaN, -0, Infinity, /x/g, new URL('https://e.com/a'), 'a.b'],
    'dotted.key': { 'back\\slash': 7n },
  };
  const encoded = encodeRich(value);
  t.is(encoded, superjson.stringify(value));
  t.deepEqual(superjson.parse(encoded!), value);
});

test('codec - the rich decoder restores exactly what superjson restores, on 20,000 random values', (t) => {
  const seed = Number(process.env.CODEC_SEED ?? 0xdecade);
  const rnd = prng(seed);
  let fast = 0;
  for (let i = 0; i < 20_000; i++) {
    const text = superjson.stringify(randomValue(rnd, 0));
    const ours = decodeRich(JSON.parse(text) as { json: unknown; meta?: unknown });
    const reference = superjson.parse(text);
    if (ours === undefined) continue;
    fast++;
    if (!isDeepStrictEqual(ours.value, reference)) {
      t.fail(`seed ${seed}, value #${i}: ${text}`);
      return;
    }
  }
  t.log(`seed ${seed}: ${fast} values restored by the rich decoder`);
  t.true(fast > 10_000);
});

test('codec - the rich decoder restores errors exactly as superjson does', (t) => {
  const text = superjson.stringify({ e: new TypeError('boom') });
  const ours = decodeRich(JSON.parse(text) as { json: unknown; meta?: unknown })!.value as { e: Error };
  const reference = superjson.parse<{ e: Error }>(text);
  t.true(isDeepStrictEqual(ours, reference));
  t.deepEqual(Object.getOwnPropertyNames(ours.e).sort(), Object.getOwnPropertyNames(reference.e).sort());
  t.is(ours.e.name, 'TypeError');
});

test('codec - the rich decoder leaves what it does not know to superjson', (t) => {
  for (const meta of [
    { values: { a: ['class', 'Point'] }, v: 1 },
    { values: { a: ['Date'] }, referentialEqualities: { a: ['b'] }, v: 1 },
    { values: { a: ['Date'] } },
    { values: { 'constructor.prototype': ['Date'] }, v: 1 },
    { values: { 'x.y': ['Date'] }, v: 1 },
  ]) {
    t.is(decodeRich({ json: { a: '2020-01-01T00:00:00.000Z', b: 1 }, meta }), undefined, JSON.stringify(meta));
  }
});
