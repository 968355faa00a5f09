import test from 'ava';
import { BadPayloadError, ErrorCodes } from 'clusterbus';
import { decode, encode, exceeds } from '../../src/codec/codec.js';

const roundTrip = <T>(value: T): unknown => decode(encode(value, 'unit.ev', 0), 'unit.ev', 0);

test('codec - Date, Map, Set, bigint, undefined, RegExp and URL round-trip', (t) => {
  const value = {
    at: new Date('2026-01-02T03:04:05.678Z'),
    map: new Map<unknown, unknown>([
      ['a', 1],
      [2, new Date(0)],
    ]),
    set: new Set(['x', 7n]),
    big: 12345678901234567890n,
    nothing: undefined,
    re: /a+b?/gi,
    url: new URL('https://example.com/a?b=1#c'),
    odd: [NaN, Infinity, -Infinity, -0],
  };
  const back = roundTrip(value) as typeof value;
  t.deepEqual(back, value);
  t.true(back.at instanceof Date);
  t.true(back.map instanceof Map);
  t.true(back.set instanceof Set);
  t.is(typeof back.big, 'bigint');
  t.true('nothing' in back);
  t.is(back.nothing, undefined);
  t.true(back.re instanceof RegExp);
  t.is(back.re.flags, 'gi');
  t.true(back.url instanceof URL);
  t.is(back.url.href, 'https://example.com/a?b=1#c');
  t.true(Object.is(back.odd[3], -0));
});

test('codec - an Error round-trips with its name and message', (t) => {
  const back = roundTrip(new RangeError('out of range')) as Error;
  t.true(back instanceof Error);
  t.is(back.message, 'out of range');
  t.is(back.name, 'RangeError');
});

test('codec - nested structures and top-level primitives round-trip', (t) => {
  const nested = {
    list: [1, 'two', { three: new Set([new Map([['four', [new Date(4), undefined, 5n]]])]) }],
    deep: { a: { b: { c: { d: [[[new Date(1)]]] } } } },
  };
  t.deepEqual(roundTrip(nested), nested);
  for (const v of [null, undefined, 0, 'text', true, 1n, new Date(9)]) t.deepEqual(roundTrip(v), v);
  t.deepEqual(roundTrip([undefined, undefined]), [undefined, undefined]);
});

test('codec - repeated and circular references survive', (t) => {
  const shared = { n: 1 };
  const value: { a: object; b: object; self?: unknown } = { a: shared, b: shared };
  value.self = value;
  const back = roundTrip(value) as typeof value;
  t.is(back.a, back.b);
  t.is(back.self, back);
});

const polluting: [string, string][] = [
  ['__proto__ at the top', '{"json":{"__proto__":{"polluted":true}}}'],
  ['__proto__ nested', '{"json":{"a":{"b":[{"__proto__":{"polluted":true}}]}}}'],
  ['constructor.prototype', '{"json":{"constructor":{"prototype":{"polluted":true}}}}'],
  ['constructor.prototype nested in an array', '{"json":[1,{"x":{"constructor":{"prototype":{"polluted":true}}}}]}'],
  ['__proto__ spelled with a JSON escape', '{"json":{"\\u005f_proto__":{"polluted":true}}}'],
  [
    '__proto__ fully escaped',
    '{"json":{"\\u005f\\u005f\\u0070\\u0072\\u006f\\u0074\\u006f\\u005f\\u005f":{"polluted":true}}}',
  ],
  ['prototype spelled with a JSON escape', '{"json":{"constructor":{"\\u0070rototype":{"polluted":true}}}}'],
  [
    '__proto__ in the meta',
    '{"json":{"a":{"polluted":true}},"meta":{"values":{"a":["undefined"]},"__proto__":{"x":1}}}',
  ],
  ['__proto__ in a value path', '{"json":{"a":"1"},"meta":{"values":{"a.__proto__.polluted":["bigint"]}}}'],
  ['prototype in a value path', '{"json":{"a":"1"},"meta":{"values":{"constructor.prototype.polluted":["bigint"]}}}'],
  [
    'prototype in a referential-equality path',
    '{"json":{"a":{"polluted":true},"b":{}},"meta":{"referentialEqualities":{"a":["b.constructor.prototype"]}}}',
  ],
];

for (const [name, text] of polluting) {
  test(`codec - decode rejects a payload with ${name}`, (t) => {
    const err = t.throws(() => decode(text, 'unit.ev', 3), { instanceOf: BadPayloadError });
    t.is(err.code, ErrorCodes.BAD_PAYLOAD);
    t.is(err.event, 'unit.ev');
    t.is(err.worker, 3);
    t.is(({} as Record<string, unknown>).polluted, undefined);
    t.is((Object.prototype as Record<string, unknown>).polluted, undefined);
  });
}

test('codec - harmless keys named like the dangerous ones are allowed', (t) => {
  t.deepEqual(decode('{"json":{"constructor":"x","prototype":1,"proto":2}}', 'e', 0), {
    constructor: 'x',
    prototype: 1,
    proto: 2,
  });
  t.deepEqual(decode('{"json":{"a":{"prototype":{"x":1}}}}', 'e', 0), { a: { prototype: { x: 1 } } });
  t.deepEqual(decode('{"json":"caf\\u00e9"}', 'e', 0), 'café');
});

test('codec - malformed texts are BadPayloadError, never another error', (t) => {
  for (const text of ['', '{', 'undefined', '{"json":1,"meta":{"values":["bogus"]}}', '['.repeat(100_000)]) {
    t.throws(() => decode(text, 'e', 0), { instanceOf: BadPayloadError }, JSON.stringify(text.slice(0, 40)));
  }
});

test('codec - exceeds measures UTF-8 bytes against the limit', (t) => {
  t.is(exceeds('abc', 3), undefined);
  t.is(exceeds('abcd', 3), 4);
  t.is(exceeds('é', 1), 2);
  t.is(exceeds('😀', 3), 4);
  t.is(exceeds('€'.repeat(10), 30), undefined);
  t.is(exceeds('€'.repeat(11), 30), 33);
});
