/**
 * The codec's own table of shared references (src/codec/refs.ts): its wire format, the shapes
 * superjson alone restores wrongly, texts written by superjson itself, and tables a hostile or
 * broken peer may send, which must give a `BadPayloadError` and nothing else.
 */
import test from 'ava';
import superjson from 'superjson';
import { decode, encode } from '../../src/codec/codec.js';
import { BadPayloadError } from '../../src/errors.js';
import { prng, type Rand } from '../helpers/fuzz.js';

const EV = 'refs.test';
const roundTrip = (value: unknown): unknown => decode(encode(value, EV, 0), EV, 1);

test('codec - the reference table: the first place of each thing, then its other places', (t) => {
  // superjson's own table travels too, for receivers that read only it.
  const o = { k: 1 };
  t.is(
    encode({ a: o, s: new Set([o]) }, EV, 0),
    '{"json":{"a":{"k":1},"s":[{}]},"meta":{"values":{"s":["set"]},"referentialEqualities":{"a":["s.0"]},"v":1,' +
      '"cbRefs":[[["a"],["s",0]]]}}',
  );
  const root: Record<string, unknown> = {};
  root['m'] = new Map<unknown, unknown>([[root, new Error('e', { cause: root })]]);
  t.is(
    encode(root, EV, 0),
    '{"json":{"m":[[{},{"name":"Error","message":"e","cause":{}}]]},"meta":{"values":{"m":["map",{"0.1":["Error"]}]},' +
      '"referentialEqualities":[["m.0.0","m.0.1.cause"]],"v":1,"cbRefs":[[[],["m",0,0],["m",0,1,"cause"]]]}}',
  );
  // A key '' is not the root.
  t.is(encode({ '': o, b: o, n: [NaN, NaN] }, EV, 0).includes('"cbRefs":[[[""],["b"]],[["n",0],["n",1]]]'), true);
});

test('codec - a value with nothing met twice is written exactly as superjson writes it', (t) => {
  const value = { typed: new Int8Array([1, 2]), e: new Error('m', { cause: { at: new Date(3) } }), s: new Set([1n]) };
  t.is(encode(value, EV, 0), superjson.stringify(value));
});

test('codec - a shared object is written once, however often it is met', (t) => {
  let v: unknown = { leaf: new Int8Array(1) };
  for (let i = 0; i < 40; i++) v = [v, v];
  const text = encode(v, EV, 0);
  // superjson alone writes every copy: 2^40 leaves.
  t.true(text.length < 10_000, `${text.length} characters`);
  let back = roundTrip(v) as unknown[];
  for (let i = 0; i < 40; i++) {
    t.is(back[0], back[1]);
    back = back[0] as unknown[];
  }
  t.deepEqual(back, { leaf: new Int8Array(1) });
});

test('codec - cycles that are Set items or Map keys keep their places, next to null', (t) => {
  const root: Record<string, unknown> = {};
  const inner: Record<string, unknown> = { root };
  root['inner'] = inner;
  root['s'] = new Set<unknown>([null, root, 'x', inner]);
  root['m'] = new Map<unknown, unknown>([
    [root, 1],
    [null, 2],
    [inner, 3],
  ]);
  const back = roundTrip(root) as typeof root;
  const s = back['s'] as Set<unknown>;
  const m = back['m'] as Map<unknown, unknown>;
  t.deepEqual([...s], [null, back, 'x', back['inner']]);
  t.is([...s][1], back);
  t.is([...s][3], back['inner']);
  t.deepEqual([...m.values()], [1, 2, 3]);
  t.deepEqual(
    [...m.keys()].map((k) => (k === back ? 'root' : k === back['inner'] ? 'inner' : k)),
    ['root', null, 'inner'],
  );
});

test('codec - an Error that is its own cause, a shared name, repeated bigints and NaNs', (t) => {
  const e = new Error('self');
  Object.defineProperty(e, 'cause', { value: e, writable: true, enumerable: false, configurable: true });
  const name = { code: 7 };
  const named = Object.assign(new Error('named'), { name });
  const value = { e, named, name, big: [5n, 5n, new Set([5n, NaN])], nan: NaN };
  const back = roundTrip(value) as typeof value;
  t.is(back.e.cause, back.e);
  t.false(Object.prototype.propertyIsEnumerable.call(back.e, 'cause'));
  t.is(back.named.name as unknown, back.name);
  t.deepEqual(back.big, [5n, 5n, new Set([5n, NaN])]);
  t.true(Number.isNaN(back.nan));
});

/**
 * A receiver that leaves the text to superjson (an older clusterbus, during a rolling reload)
 * reads superjson's table, which travels beside the codec's: it gets each shared thing as one
 * and each cycle back, not the `{}`s the codec writes in their later places.
 */
test('codec - an older receiver still gets shared references and cycles', (t) => {
  const olderReceiver = (value: unknown): unknown => superjson.parse(encode(value, EV, 0));

  const o = { k: { deep: 1 } };
  const shared = olderReceiver({ a: o, b: o }) as { a: object; b: object };
  t.is(shared.a, shared.b);
  t.deepEqual(shared.a, o);

  const list = [1, 'two', { three: 3 }];
  const slots = olderReceiver([list, list, 4]) as [unknown[], unknown[], number];
  t.is(slots[0], slots[1]);
  t.deepEqual(slots, [list, list, 4]);

  const root: Record<string, unknown> = { n: 1 };
  root['self'] = root;
  root['inner'] = { up: root };
  const cycle = olderReceiver(root) as { n: number; self: unknown; inner: { up: unknown } };
  t.is(cycle.self, cycle);
  t.is(cycle.inner.up, cycle);
  t.is(cycle.n, 1);

  const d = new Date(1_234);
  const dates = olderReceiver({ a: d, b: d }) as { a: Date; b: Date };
  t.is(dates.a, dates.b);
  t.true(dates.a instanceof Date);
  t.is(dates.a.getTime(), 1_234);

  const inMap = olderReceiver({ o, m: new Map<string, unknown>([['x', o]]) }) as { o: object; m: Map<string, unknown> };
  t.is(inMap.m.get('x'), inMap.o);
  t.deepEqual(inMap.o, o);
});

test('codec - a receiver that reads the codec’s table ignores superjson’s', (t) => {
  // superjson's table, applied as well, would move the Set item to the end; here it even
  // disagrees with the codec's, and names a polluting path: neither is followed.
  const text = withRefs(
    '[[["o"],["a",0]]]',
    ',"referentialEqualities":{"o":["s.0","b.constructor.prototype"],"a.1":["o.__proto__"]}',
  );
  const back = decode(text, EV, 1) as Record<string, unknown>;
  t.is((back['a'] as unknown[])[0], back['o']);
  t.deepEqual([...(back['s'] as Set<unknown>)], [{}, 2]);
  t.not([...(back['s'] as Set<unknown>)][0], back['o']);
  t.deepEqual(back['o'], { k: { deep: 1 } });
  t.is(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  // The codec's own text: superjson's table there would move the Set item, and decode puts it
  // back where it was.
  const o = { k: 1 };
  const value = { o, s: new Set<unknown>([o, 2]) };
  const sent = encode(value, EV, 0);
  t.true(sent.includes('"referentialEqualities"'));
  const got = decode(sent, EV, 1) as typeof value;
  t.deepEqual([...got.s], [o, 2]);
  t.is([...got.s][0], got.o);
});

test('codec - superjson’s own reference tables are still read', (t) => {
  const shared = { n: 1 };
  const text = superjson.stringify({ a: shared, b: [shared] });
  t.true(text.includes('referentialEqualities'));
  const back = decode(text, EV, 1) as { a: object; b: [object] };
  t.is(back.a, back.b[0]);
});

// ---- hostile tables ------------------------------------------------------------------------

const JSON_PART =
  '{"o":{"k":{"deep":1}},"a":[{},{"x":1}],"s":[{},2],"m":[[{},{}]],"d":"1970-01-01T00:00:00.000Z",' +
  '"e":{"name":"Error","message":"m","cause":{}},"t":[1,2]}';
const VALUES = '{"s":["set"],"m":["map"],"d":["Date"],"e":["Error"],"t":[["typed-array","Int8Array"]]}';

/** A text like the codec's, with `refs` as its table. */
const withRefs = (refs: string, extra = ''): string =>
  `{"json":${JSON_PART},"meta":{"values":${VALUES},"cbRefs":${refs}${extra},"v":1}}`;

test('codec - the test’s hostile-table frame decodes with a well-formed table', (t) => {
  const back = decode(withRefs('[[["o"],["a",0],["s",0],["m",0,0],["m",0,1],["e","cause"]]]'), EV, 1) as Record<
    string,
    unknown
  >;
  const o = back['o'];
  t.is((back['a'] as unknown[])[0], o);
  t.deepEqual([...(back['s'] as Set<unknown>)], [o, 2]);
  t.deepEqual([...(back['m'] as Map<unknown, unknown>)], [[o, o]]);
  t.is((back['e'] as Error).cause, o);
});

const hostile: [string, string][] = [
  ['a table that is not a list', withRefs('{"o":["a.0"]}')],
  ['a group of one path', withRefs('[[["o"]]]')],
  ['a group that is not a list', withRefs('["o"]')],
  ['a path that is not a list', withRefs('[["o","a.0"]]')],
  ['a replaced root', withRefs('[[["o"],[]]]')],
  ['a first path to a primitive', withRefs('[[["a",1,"x"],["a",0]]]')],
  ['__proto__', withRefs('[[["o"],["__proto__"]]]')],
  ['__proto__ deeper', withRefs('[[["o"],["o","__proto__","polluted"]]]')],
  ['constructor.prototype', withRefs('[[["o"],["o","constructor","prototype"]]]')],
  ['prototype', withRefs('[[["o"],["prototype"]]]')],
  ['a key the object does not have', withRefs('[[["o"],["nope"]]]')],
  ['an inherited key', withRefs('[[["o"],["o","hasOwnProperty"]]]')],
  ['a key into an array', withRefs('[[["o"],["a","length"]]]')],
  ['an index into an object', withRefs('[[["o"],[0]]]')],
  ['an index out of range', withRefs('[[["o"],["a",2]]]')],
  ['a negative index', withRefs('[[["o"],["a",-1]]]')],
  ['a fractional index', withRefs('[[["o"],["a",0.5]]]')],
  ['a huge index', withRefs('[[["o"],["s",1e300]]]')],
  ['an index written as a string', withRefs('[[["o"],["a","0"]]]')],
  ['a Set item out of range', withRefs('[[["o"],["s",2]]]')],
  ['a Map entry without a side', withRefs('[[["o"],["m",0]]]')],
  ['a Map entry with a side of 2', withRefs('[[["o"],["m",0,2]]]')],
  ['a step into a Date', withRefs('[[["o"],["d",0]]]')],
  ['a step into a typed array', withRefs('[[["o"],["t",0]]]')],
  ['the message of an Error', withRefs('[[["o"],["e","message"]]]')],
  ['the stack of an Error', withRefs('[[["o"],["e","stack"]]]')],
  ['a step into a primitive', withRefs('[[["o"],["a",1,"x","y"]]]')],
  ['a step of another type', withRefs('[[["o"],["a",null]]]')],
  ['a table around a value with no containers', '{"json":"1","meta":{"values":["bigint"],"cbRefs":[[[],[0]]],"v":1}}'],
];

for (const [name, text] of hostile) {
  test(`codec - decode refuses a reference table with ${name}`, (t) => {
    t.throws(() => decode(text, EV, 3), { instanceOf: BadPayloadError });
    t.is(({} as Record<string, unknown>)['polluted'], undefined);
    t.is(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  });
}

test('codec - a table of very long paths costs no more than its length', (t) => {
  // An array nested 5,000 deep, and a table that walks it to the bottom 200 times.
  const depth = 5_000;
  const json = '['.repeat(depth) + '{}' + ']'.repeat(depth);
  const path = JSON.stringify(Array.from({ length: depth }, () => 0));
  const groups = Array.from({ length: 200 }, () => `[[],${path}]`).join(',');
  const text = `{"json":[${json},{}],"meta":{"cbRefs":[${groups},[[0],[1],[7]]],"v":1}}`;
  const started = performance.now();
  t.throws(() => decode(text, EV, 1), { instanceOf: BadPayloadError });
  t.true(performance.now() - started < 2_000);
});

/** Something a step, a path or a group might be instead. */
function junk(r: Rand): unknown {
  return [0, 1, 2, -1, 0.5, 1e9, 'o', 'k', 'a', 's', 'm', 'e', 'cause', 'name', '', '__proto__', null, [], {}, true][
    Math.floor(r() * 20)
  ];
}

/** `v` with one random change: a step, a path or a group replaced, dropped, or added. */
function mutate(r: Rand, v: unknown, depth = 0): unknown {
  if (!Array.isArray(v) || v.length === 0 || r() < 0.2 * depth) return r() < 0.5 ? junk(r) : v;
  const copy = [...v] as unknown[];
  const i = Math.floor(r() * copy.length);
  const k = r();
  if (k < 0.15) copy.splice(i, 1);
  else if (k < 0.3) copy.splice(i, 0, junk(r));
  else if (k < 0.4) copy.push(...copy.slice(0, 1));
  else copy[i] = mutate(r, copy[i], depth + 1);
  return copy;
}

test('codec - randomly broken tables give a value or a BadPayloadError, nothing else (seeded)', (t) => {
  const seed = Number(process.env['CODEC_REFS_SEED'] ?? 0x7ef5);
  const r = prng(seed);
  const o = { k: { deep: 1 } };
  const root: Record<string, unknown> = { o, a: [o, { x: 1 }], d: new Date(0), t: new Int8Array(2) };
  root['s'] = new Set<unknown>([o, root, NaN]);
  root['m'] = new Map<unknown, unknown>([
    [root, o],
    [NaN, 1n],
  ]);
  root['e'] = new Error('m', { cause: root });
  root['n'] = [NaN, 1n, o];
  const text = encode(root, EV, 0);
  const parsed = JSON.parse(text) as { json: unknown; meta: { cbRefs: unknown } };
  const outcomes = { decoded: 0, refused: 0 };
  for (let i = 0; i < 5_000; i++) {
    const broken = { ...parsed, meta: { ...parsed.meta, cbRefs: mutate(r, parsed.meta.cbRefs) } };
    try {
      decode(JSON.stringify(broken), EV, 1);
      outcomes.decoded++;
    } catch (err) {
      if (!(err instanceof BadPayloadError)) {
        t.fail(`seed ${seed}, #${i}: ${String(err)}\n  ${JSON.stringify(broken.meta.cbRefs)}`);
        return;
      }
      outcomes.refused++;
    }
  }
  t.is(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  t.log(`seed ${seed}:`, outcomes);
  t.true(outcomes.decoded > 100 && outcomes.refused > 100);
});
