/**
 * The plain-data hints: the read stage marks a payload or result type as plain JSON data
 * exactly when every value of it is one `encodePlain` (src/plain-json.ts) accepts, and the
 * generated table carries `plainPayload: true` / `plainResult: true` only then.
 */
import path from 'node:path';
import test from 'ava';
import { buildOutputs } from '../../codegen/generate.js';
import { readContracts } from '../../codegen/read.js';
import { encodePlain } from '../../src/plain-json.js';
import { fixturesDir } from './_helpers.js';

const contract = path.join(fixturesDir, 'plain.contract.ts');
const read = readContracts([contract]);
const events = read.contracts[0]?.events ?? [];

/** The expected flags of the map events; every other event is plain when its name starts with `plain.`. */
const mapFlags: Readonly<Record<string, { plainPayload: boolean; plainResult: boolean }>> = {
  'plain.map': { plainPayload: true, plainResult: true },
  'plain.mapPayloadOnly': { plainPayload: true, plainResult: false },
  'plain.mapResultOnly': { plainPayload: false, plainResult: true },
  'not.void': { plainPayload: false, plainResult: false },
  'not.mapResultUndefined': { plainPayload: false, plainResult: false },
};

test('codegen - the plain fixture reads without diagnostics', (t) => {
  t.deepEqual(read.diagnostics, []);
  t.true(events.length >= 50);
});

test('codegen - marks exactly the plain payload and result types', (t) => {
  for (const event of events) {
    const expected = mapFlags[event.name] ?? { plainPayload: event.name.startsWith('plain.'), plainResult: false };
    t.deepEqual(
      { plainPayload: event.plainPayload, plainResult: event.plainResult },
      expected,
      `flags of '${event.name}'`,
    );
  }
  t.deepEqual(
    events.filter((e) => e.kind === 'map').map((e) => e.name),
    Object.keys(mapFlags).sort(),
  );
});

test('codegen - the model carries the flags as plain data', (t) => {
  const isData = (v: unknown): boolean =>
    v === null ||
    ['string', 'number', 'boolean', 'undefined'].includes(typeof v) ||
    (Array.isArray(v) && v.every(isData)) ||
    (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(isData));
  t.true(isData(read.contracts[0]));
  for (const event of events) {
    t.is(typeof event.plainPayload, 'boolean');
    t.is(typeof event.plainResult, 'boolean');
  }
});

test('codegen - marks the plain events in the generated table and omits false flags', (t) => {
  const content = buildOutputs([contract]).outputs[0]?.content ?? '';
  t.true(content.includes("  'plain.string': { kind: 'broadcast', plainPayload: true },\n"));
  t.true(content.includes("  'plain.interface': { kind: 'consume', timeoutMs: 5000, plainPayload: true },\n"));
  t.true(content.includes("  'plain.map': { kind: 'map', timeoutMs: 2000, plainPayload: true, plainResult: true },\n"));
  t.true(content.includes("  'plain.mapResultOnly': { kind: 'map', plainResult: true },\n"));
  t.true(content.includes("  'not.date': { kind: 'broadcast' },\n"));
  t.false(content.includes('false'));
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

/** Samples of the fixture's types that are not marked plain: the run-time check refuses them. */
test('codegen - values of the types not marked plain can fail the run-time check', (t) => {
  class Point {
    x = 0;
    y = 0;
  }
  const samples: unknown[] = [
    new Date(0),
    new Map([['a', 1]]),
    { tags: new Set(['a']) },
    1n,
    undefined,
    { id: 'w', note: undefined },
    /x/,
    new URL('https://example.com/'),
    new Error('boom'),
    new Uint8Array(1),
    { at: new Date(0) },
    new Point(),
    ['a', undefined],
  ];
  for (const sample of samples) t.is(encodePlain(sample), undefined, String(sample));
});
