/**
 * The plain-data hints: the read stage marks a payload or result type `'plain'` exactly when
 * every value of it is one `encodePlain` (src/plain-json.ts) accepts, `'rich'` when no value
 * of it is (each holds a `Date`, `Map`, `Set`, `bigint`… at a place every value has), and
 * `'unknown'` otherwise; the generated table says `plainPayload: true` / `plainResult: true`
 * for the first, `false` for the second and nothing for the third.
 */
import path from 'node:path';
import test from 'ava';
import { buildOutputs } from '../../codegen/generate.js';
import type { Plainness } from '../../codegen/model.js';
import { readContracts } from '../../codegen/read/index.js';
import { encodePlain } from '../../src/codec/plain-json.js';
import { contractSource, entryOf, fixturesDir, removeTempDirs, runTimeTable, tempDir, writeFiles } from './_helpers.js';

test.after.always(removeTempDirs);

const contract = path.join(fixturesDir, 'plain.contract.ts');
const read = readContracts([contract]);
const events = read.contracts[0]?.events ?? [];

/** The expected hints of the map events; every other event's payload is what its name starts with. */
const mapFlags: Readonly<Record<string, { plainPayload: Plainness; plainResult: Plainness }>> = {
  'plain.map': { plainPayload: 'plain', plainResult: 'plain' },
  'plain.mapPayloadOnly': { plainPayload: 'plain', plainResult: 'rich' },
  'plain.mapResultOnly': { plainPayload: 'rich', plainResult: 'plain' },
  'rich.mapBoth': { plainPayload: 'rich', plainResult: 'rich' },
  'rich.mapResultUnknown': { plainPayload: 'rich', plainResult: 'unknown' },
  'unknown.mapPlainOrDate': { plainPayload: 'unknown', plainResult: 'unknown' },
  'unknown.void': { plainPayload: 'unknown', plainResult: 'unknown' },
};

/** The plainness an event's name announces: `plain.*`, `rich.*` or `unknown.*`. */
function fromName(name: string): Plainness {
  const prefix = name.slice(0, name.indexOf('.'));
  if (prefix === 'plain' || prefix === 'rich' || prefix === 'unknown') return prefix;
  throw new Error(`event '${name}' does not say what it is`);
}

test('codegen - the plain fixture reads without diagnostics', (t) => {
  t.deepEqual(read.diagnostics, []);
  t.true(events.length >= 75);
  for (const prefix of ['plain.', 'rich.', 'unknown.']) {
    t.true(events.filter((e) => e.name.startsWith(prefix)).length >= 20, prefix);
  }
});

test('codegen - tells the plain, the certainly rich and the unknown payload and result types apart', (t) => {
  for (const event of events) {
    const expected = mapFlags[event.name] ?? { plainPayload: fromName(event.name), plainResult: 'unknown' };
    t.deepEqual(
      { plainPayload: event.plainPayload, plainResult: event.plainResult },
      expected,
      `hints of '${event.name}'`,
    );
  }
  t.deepEqual(
    events.filter((e) => e.kind === 'map').map((e) => e.name),
    Object.keys(mapFlags).sort(),
  );
});

test('codegen - the model carries the hints as plain data', (t) => {
  const isData = (v: unknown): boolean =>
    v === null ||
    ['string', 'number', 'boolean', 'undefined'].includes(typeof v) ||
    (Array.isArray(v) && v.every(isData)) ||
    (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(isData));
  t.true(isData(read.contracts[0]));
  const states: readonly unknown[] = ['plain', 'rich', 'unknown'];
  for (const event of events) {
    t.true(states.includes(event.plainPayload), event.name);
    t.true(states.includes(event.plainResult), event.name);
  }
});

test('codegen - writes true for plain types, false for rich ones and nothing for unknown ones', (t) => {
  const content = buildOutputs([contract]).outputs[0]?.content ?? '';
  const has = (line: string): void => {
    const [, event, entry] = /^'([^']+)': (\{.*\}),$/.exec(line) ?? [];
    t.is(entryOf(content, event ?? ''), entry, line);
  };
  has("'plain.string': { kind: 'broadcast', plainPayload: true },");
  has("'plain.interface': { kind: 'consume', timeoutMs: 5000, plainPayload: true },");
  has("'plain.map': { kind: 'map', timeoutMs: 2000, plainPayload: true, plainResult: true },");
  has("'plain.mapPayloadOnly': { kind: 'map', plainPayload: true, plainResult: false },");
  has("'plain.mapResultOnly': { kind: 'map', plainPayload: false, plainResult: true },");
  has("'rich.date': { kind: 'broadcast', plainPayload: false },");
  has("'rich.nestedMap': { kind: 'consume', plainPayload: false },");
  has("'rich.mapBoth': { kind: 'map', plainPayload: false, plainResult: false },");
  has("'rich.mapResultUnknown': { kind: 'map', plainPayload: false },");
  has("'unknown.optionalDate': { kind: 'broadcast' },");
  has("'unknown.unknown': { kind: 'broadcast' },");
  has("'unknown.mapPlainOrDate': { kind: 'map' },");
  for (const [event, entry] of Object.entries(runTimeTable(content))) {
    if (event.startsWith('unknown.')) t.false('plainPayload' in entry || 'plainResult' in entry, event);
    if (event.startsWith('rich.')) t.is(entry['plainPayload'], false, event);
  }
});

/** Samples of the fixture's plain types: the run-time check accepts every one of them. */
test('codegen - values of the types marked plain pass the run-time check', (t) => {
  const order = { id: 'o1', lines: [{ sku: 'a', quantity: 2 }], note: null, status: 'open' };
  const samples = [
    'text',
    42,
    true,
    null,
    'a',
    { level: 1, color: 'red', one: 1 },
    'order-7',
    ['a', 'b'],
    { a: [1], b: [false], c: [['x']] },
    ['a', 1],
    [1, 2, 'rest'],
    order,
    { a: 'x', b: { c: [1], d: null } },
    { anything: 1 },
    { byCurrency: { EUR: 1, USD: 2 }, byName: { home: { x: 1, y: 2 } } },
    { r: order, q: { id: 'w', note: 'n' }, p: { id: 'i', lines: [{ sku: 's', quantity: 1 }] } },
    { x: 1, y: 2, label: 'p' },
    { sku: 's', quantity: 1 },
    { id: 'a', [Symbol('tag')]: new Date(0) },
    {
      from: { x: 0, y: 0 },
      to: { x: 1, y: 1 },
      path: [
        { x: 0, y: 0 },
        { x: 1, y: 1 },
      ],
    },
  ];
  for (const sample of samples) t.not(encodePlain(sample), undefined, JSON.stringify(sample));
});

/** Samples of the fixture's types marked rich: the run-time check refuses every one of them. */
test('codegen - values of the types marked rich all fail the run-time check', (t) => {
  class HttpError extends Error {
    override name = 'HttpError' as const;
  }
  const position = { x: 1, y: 2 };
  const samples: unknown[] = [
    new Date(0),
    new Map([['a', 1]]),
    { tags: new Set(['a']) },
    1n,
    { version: 1n },
    /x/,
    new URL('https://example.com/'),
    new Error('boom'),
    { error: new HttpError('boom') },
    new RangeError('boom'),
    new Uint8Array(1),
    { samples: new Float64Array(1) },
    { id: 'a', at: new Date(0) },
    { id: 'a', outer: { inner: { index: new Map([['p', position]]) } } },
    { ids: new Set(['a']) },
    { at: new Date(0) },
    { ids: new Set<string>() },
    { ...position, tags: new Set<string>() },
    ['a', new Date(0)],
    { id: 'a', gone: undefined },
    { at: undefined },
    { ok: { ok: { ok: [], no: 1n } } },
    { id: 'i', total: 1n, lines: [], issuedAt: new Date(0) },
  ];
  for (const sample of samples) t.is(encodePlain(sample), undefined, String(sample));
});

/** Pairs of values of one type marked unknown: the run-time check accepts the first, refuses the second. */
test('codegen - the types left unknown have values of both sorts', (t) => {
  const pairs: [string, unknown, unknown][] = [
    ['unknown.optional', { id: 'w' }, { id: 'w', note: undefined }],
    ['unknown.optionalDate', { id: 'a' }, { id: 'a', at: new Date(0) }],
    ['unknown.unknown', 'text', new Date(0)],
    ['unknown.orUndefined', 'text', undefined],
    ['unknown.propertyOrUndefined', { note: 'n' }, { note: undefined }],
    ['unknown.orDate', { at: 'today' }, { at: new Date(0) }],
    ['unknown.plainOrDate', 'today', new Date(0)],
    ['unknown.plainOrRich', { x: 1, y: 2 }, { at: new Date(0) }],
    ['unknown.dates', [], [new Date(0)]],
    ['unknown.dateRecord', {}, { a: new Date(0) }],
    ['unknown.optionalDateElement', ['a'], ['a', new Date(0)]],
    ['unknown.restDates', ['a'], ['a', new Date(0)]],
    ['unknown.mapPlainOrDate', 1, new Date(0)],
    ['unknown.symbolKeyedDate', { [Symbol('tag')]: new Date(0) }, { id: undefined, [Symbol('tag')]: new Date(0) }],
  ];
  for (const [name, plain, rich] of pairs) {
    t.not(encodePlain(plain), undefined, `${name}: ${JSON.stringify(plain)}`);
    t.is(encodePlain(rich), undefined, `${name}: ${String(rich)}`);
  }
  for (const [name] of pairs) {
    const event = events.find((e) => e.name === name);
    // For the map event, the pair is of its result.
    t.is(event?.kind === 'map' ? event.plainResult : event?.plainPayload, 'unknown', name);
  }
});

test('codegen - without strictNullChecks no type is certainly rich', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'tsconfig.json': JSON.stringify({
      compilerOptions: { target: 'ES2022', lib: ['ES2023'], module: 'nodenext', strict: false, noEmit: true },
    }),
    'loose.contract.ts': contractSource('LooseEvents', {
      'a.date': 'Broadcast<{ at: Date }>',
      'a.plain': 'Broadcast<{ n: number }>',
      'a.map': 'MapCall<bigint, Map<string, number>>',
    }),
  });
  const { diagnostics, contracts } = readContracts([path.join(dir, 'loose.contract.ts')]);
  t.deepEqual(diagnostics, []);
  t.deepEqual(
    contracts[0]?.events.map((e) => [e.name, e.plainPayload, e.plainResult]),
    [
      ['a.date', 'unknown', 'unknown'],
      ['a.map', 'unknown', 'unknown'],
      ['a.plain', 'plain', 'unknown'],
    ],
  );
});

test('codegen - walks a type reached along many paths once', (t) => {
  // L40 reaches L0 along 2^40 paths; none of them is plain (an optional property) or rich.
  const levels = ['type L0 = { n?: number };'];
  for (let i = 1; i <= 40; i++) levels.push(`type L${i} = { a: L${i - 1}; b: L${i - 1} };`);
  const dir = tempDir();
  writeFiles(dir, {
    'dag.contract.ts': [
      "import type { Broadcast } from 'clusterbus/contract';",
      ...levels,
      'type R0 = { n?: number; at: Date };',
      ...levels.slice(1).map((l) => l.replaceAll('L', 'R')),
      'export interface DagEvents {',
      "  'dag.unknown': Broadcast<L40>;",
      "  'dag.rich': Broadcast<R40>;",
      '}',
      '',
    ].join('\n'),
  });
  const started = Date.now();
  const { diagnostics, contracts } = readContracts([path.join(dir, 'dag.contract.ts')]);
  t.deepEqual(diagnostics, []);
  t.deepEqual(
    contracts[0]?.events.map((e) => [e.name, e.plainPayload]),
    [
      ['dag.rich', 'rich'],
      ['dag.unknown', 'unknown'],
    ],
  );
  t.true(Date.now() - started < 30_000);
});
