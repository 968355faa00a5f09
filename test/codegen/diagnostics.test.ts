/**
 * Diagnostics of broken contracts: for each code, the exact code, line and column, and a
 * part of the message. The fixtures live in test/fixtures/codegen/broken/ (excluded from
 * the repo's typecheck); a few contracts are written to a temp dir instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Code, formatDiagnostic, type Diagnostic } from '../../codegen/diagnostics.js';
import { buildOutputs } from '../../codegen/generate.js';
import { readContracts } from '../../codegen/read/index.js';
import { brokenDir, removeTempDirs, repoRoot, tempDir, writeFiles, entryOf } from './_helpers.js';

test.after.always(removeTempDirs);

/** [code, line, col, message part] */
type Expected = readonly [string, number, number, string];

const expectations: Readonly<Record<string, readonly Expected[]>> = {
  'unknown-marker.contract.ts': [
    ['CBG001', 5, 19, "'not.a.marker' in event interface BadEvents has type { id: string }"],
    ['CBG001', 6, 3, "'a.method' in event interface BadEvents is not a property"],
    ['CBG001', 7, 17, "event 'no.payload': Broadcast takes a payload type and optional options, not 0 type arguments"],
  ],
  'duplicate-event.contract.ts': [
    ['CBG002', 9, 3, "duplicate event 'user.created': it is already declared at line 4, column 3"],
  ],
  'options.contract.ts': [
    ['CBG003', 4, 44, "event 'non.literal': option 'timeoutMs' must be a number literal such as 5000, not number"],
    ['CBG003', 5, 52, "option 'redeliver' must be a boolean literal such as true, not boolean"],
    ['CBG003', 6, 48, "option 'timeoutMs' must not be optional"],
    ['CBG003', 7, 44, 'the options of a Consume must be an object type with literal properties'],
    ['CBG004', 8, 47, "unknown option 'timeoutMS' for a Consume (did you mean 'timeoutMs'?)"],
    ['CBG004', 9, 52, "unknown option 'redeliver' for a Broadcast; its options are maxPayloadBytes"],
    ['CBG005', 10, 43, `option 'timeoutMs' must be a number literal such as 5000, not "5000"`],
    ['CBG005', 11, 59, "option 'maxResultBytes' must be a number literal such as 5000, not true"],
    ['CBG006', 12, 42, "option 'timeoutMs' must be a positive integer, not 0"],
    ['CBG006', 13, 59, "option 'maxPayloadBytes' must be a positive integer, not 1.5"],
    ['CBG006', 14, 69, "option 'timeoutMs' must be a positive integer, not -1"],
    [
      'CBG015',
      15,
      46,
      "event 'consume.result': a Consume has no result: its second type argument is its options (timeoutMs, redeliver, maxPayloadBytes), and { priceCents: number; } has none of them; for one answer per worker, declare it MapCall<Payload, Result>",
    ],
    ['CBG015', 16, 50, "event 'broadcast.result': a Broadcast has no result"],
  ],
  'not-serializable.contract.ts': [
    ['CBG007', 11, 20, "event 'nested.function': payload.deep.handler is a function"],
    ['CBG007', 15, 41, "event 'fn.payload': payload.cb is a function, which cannot cross a process boundary"],
    ['CBG007', 16, 33, "event 'symbol.payload': payload.tag is a symbol"],
    [
      'CBG007',
      17,
      31,
      "event 'class.instance': payload.counter is an instance of class Counter with methods (increment)",
    ],
    ['CBG007', 18, 45, "event 'promise.result': result is a Promise"],
    ['CBG007', 19, 31, "event 'weak.payload': payload.cache is a WeakMap"],
    ['CBG007', 19, 63, "event 'weak.payload': payload.seen is a WeakSet"],
    ['CBG007', 21, 37, "event 'array.of.functions': payload.hooks[] is a function"],
    ['CBG007', 22, 28, "event 'map.value': payload.handlers<value> is a function"],
    ['CBG007', 23, 45, "event 'method.signature': payload.target.run is a function"],
    ['CBG007', 24, 31, "event 'whole.function': payload is a function"],
    [
      'CBG007',
      25,
      45,
      "event 'buffer.payload': payload.data is a Buffer, which cannot arrive as one (superjson writes it as a typed array that no receiver can decode, so the sender refuses it with a BadPayloadError): declare and send a Uint8Array (new Uint8Array(buf))",
    ],
    [
      'CBG007',
      26,
      29,
      "event 'error.fields': payload.err is HttpError, an Error subclass with its own fields (status): only an Error's name, message and cause arrive (as a plain Error); send a plain object ({ name, message, status })",
    ],
    [
      'CBG007',
      27,
      33,
      "event 'error.accessor': payload.err is TimeoutError, an Error subclass with its own fields (status): only an Error's name, message and cause arrive",
    ],
    [
      'CBG007',
      28,
      34,
      "event 'error.interface': payload.err is CodedError, an Error with its own fields (code): only an Error's name, message and cause arrive (as a plain Error); send a plain object ({ name, message, code })",
    ],
    [
      'CBG007',
      29,
      49,
      "event 'error.intersection': result is Error & { status: number; }, an Error with its own fields (status)",
    ],
    [
      'CBG007',
      30,
      32,
      "event 'error.methods': payload.err is DescribedError, an Error subclass with methods (describe): it arrives as a plain Error with only its name, message and cause; declare it Error, or send a plain object",
    ],
    [
      'CBG007',
      31,
      29,
      "event 'data.class': payload.point is an instance of class Point, which the sender refuses (the class of an object does not cross, only plain objects and the library objects superjson rebuilds do): declare its fields in an interface and send a plain object ({ x, y })",
    ],
    [
      'CBG007',
      32,
      31,
      "event 'map.subclass': payload.registry is an instance of class Registry, a subclass of Map, which the sender refuses (only a Map itself crosses, not its subclasses): declare and send a Map",
    ],
    [
      'CBG007',
      33,
      30,
      "event 'date.fields': payload.at is ZonedDate, a Date with its own fields (zone): only its time arrives (as a plain Date); send a plain object that holds the Date and them",
    ],
    [
      'CBG007',
      34,
      41,
      "event 'symbol.key': payload[secret] is keyed by a symbol, which does not arrive (neither JSON nor superjson writes it): give it a string key",
    ],
    [
      'CBG007',
      35,
      31,
      "event 'symbol.index': payload[symbol] is an index signature with symbol keys, which do not arrive (neither JSON nor superjson writes them): use string keys",
    ],
    [
      'CBG007',
      36,
      31,
      "event 'bigint.array': payload.ids is a BigInt64Array, which cannot cross a process boundary: of the typed arrays only Int8Array … Float64Array cross; send a bigint[]",
    ],
    [
      'CBG007',
      37,
      28,
      `event 'proto.key': payload["__proto__"] is an own "__proto__" property, which every receiver refuses: rename it`,
    ],
    [
      'CBG007',
      38,
      34,
      `event 'constructor.key': payload.constructor is a "constructor" key, which superjson refuses: only plain JSON data may have one, and not every payload of this type is (the sender refuses those that are not); rename it`,
    ],
    [
      'CBG007',
      39,
      31,
      "event 'array.fields': payload.rows is a TaggedRows, an array with fields of its own (tag), which do not arrive: an array crosses as its elements; send an object with the array in one field and the others beside it",
    ],
    // Line 41 ('error.plain': Error, RangeError, an Error subclass without fields, a branded string, Uint8Array) and
    // line 43 ('array.interface': interfaces that extend Array or ReadonlyArray): no diagnostic.
  ],
  'not-exported.contract.ts': [['CBG008', 3, 11, 'event interface HiddenEvents is not exported']],
  'event-name.contract.ts': [
    ['CBG009', 7, 3, 'event name [name] is not a string literal'],
    ['CBG009', 8, 3, 'event name 42 is not a string literal'],
    ['CBG009', 9, 3, 'an event name must not be empty'],
    ['CBG009', 10, 3, 'an index signature cannot declare events'],
    ['CBG009', 11, 3, "'__proto__' cannot be an event name"],
  ],
  'no-events.contract.ts': [['CBG010', 1, 1, 'no event interface']],
  'generic.contract.ts': [['CBG011', 3, 32, 'event interface GenericEvents has type parameters']],
  'optional-event.contract.ts': [['CBG012', 5, 19, "event 'optional.event' is optional"]],
  'extends.contract.ts': [['CBG014', 7, 28, 'event interface AllEvents extends BaseEvents: declare its events']],
};

function simplify(diagnostics: readonly Diagnostic[]): [string, number, number][] {
  return diagnostics.map((d) => [d.code, d.loc?.line ?? 0, d.loc?.col ?? 0]);
}

const broken = Object.keys(expectations).map((name) => path.join(brokenDir, name));
const result = buildOutputs(broken);

test('codegen - a broken contract generates nothing', (t) => {
  t.deepEqual(result.outputs, []);
  t.deepEqual(
    fs.readdirSync(brokenDir).filter((name) => !name.endsWith('.contract.ts')),
    [],
    'every file in broken/ is a contract with an expectation',
  );
  t.deepEqual(
    fs.readdirSync(brokenDir).sort(),
    Object.keys(expectations).sort(),
    'every broken fixture has expectations',
  );
});

for (const [name, expected] of Object.entries(expectations)) {
  const codes = [...new Set(expected.map((e) => e[0]))].join(', ');
  test(`codegen - reports ${codes} at the offending node of ${name}`, (t) => {
    const file = path.join(brokenDir, name);
    const found = result.diagnostics.filter((d) => d.loc?.file === file);
    t.deepEqual(
      simplify(found),
      expected.map(([code, line, col]) => [code, line, col]),
    );
    expected.forEach(([, , , part], i) => {
      t.true(found[i]?.message.includes(part), `${found[i]?.message ?? '(none)'} should include ${part}`);
    });
  });
}

test('codegen - formats a diagnostic as path:line:col error CBGnnn message, relative to the cwd', (t) => {
  const first = result.diagnostics.find((d) => d.code === Code.DuplicateEvent);
  t.truthy(first);
  if (first === undefined) return;
  t.is(
    formatDiagnostic(first, repoRoot),
    "test/fixtures/codegen/broken/duplicate-event.contract.ts:9:3 error CBG002 duplicate event 'user.created': it is already declared at line 4, column 3",
  );
});

test('codegen - reports CBG013 for a syntax error in a contract', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'bad.contract.ts': [
      "import type { Broadcast } from 'clusterbus/contract';",
      'export interface X {',
      "  'a': Broadcast<{ id: string }>;",
      "  'b' Broadcast<{ id: string }>;",
      '}',
      '',
    ].join('\n'),
  });
  const { diagnostics, outputs } = buildOutputs([path.join(dir, 'bad.contract.ts')]);
  t.deepEqual(outputs, []);
  t.true(diagnostics.length > 0);
  t.true(diagnostics.every((d) => d.code === Code.Syntax));
  t.deepEqual(simplify(diagnostics.slice(0, 1)), [['CBG013', 4, 3]]);
  t.true(diagnostics[0]?.message.startsWith('syntax error: '));
});

test('codegen - recognises markers by their import when clusterbus/contract cannot be resolved', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'a.contract.ts': [
      "import type { Broadcast as B, MapCall } from 'clusterbus/contract';",
      "import type * as cb from 'clusterbus/contract';",
      "import type { Other } from './other.js';",
      '',
      'export interface AEvents {',
      "  'a.one': B<{ at: Date; other: Other }, { maxPayloadBytes: 10 }>;",
      "  'a.two': MapCall<{ id: string }, { pid: number }, { timeoutMs: 100 }>;",
      "  'a.three': cb.Consume<{ fn: () => void }, { timeoutMS: 5 }>;",
      "  'a.four': NotImported<{ id: string }>;",
      '}',
      '',
    ].join('\n'),
    'other.ts': 'export interface Other {\n  run(): void;\n}\n',
  });
  const { diagnostics } = buildOutputs([path.join(dir, 'a.contract.ts')]);
  t.deepEqual(simplify(diagnostics), [
    ['CBG007', 6, 26],
    ['CBG007', 8, 27],
    ['CBG004', 8, 47],
    ['CBG001', 9, 13],
  ]);
  t.true(diagnostics[0]?.message.includes('payload.other.run is a function'));
});

test('codegen - reads a contract outside any tsconfig with the nodenext defaults', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'ok.contract.ts': [
      "import type { Broadcast, Consume } from 'clusterbus/contract';",
      "import type { Payload } from './payload.js';",
      '',
      'export interface OkEvents {',
      '  /** Documented. */',
      "  'ok.b': Broadcast<Payload>;",
      "  'ok.c': Consume<{ id: string }, { timeoutMs: 10; redeliver: false }>;",
      '}',
      '',
    ].join('\n'),
    'payload.ts': 'export interface Payload {\n  at: Date;\n  tags: Set<string>;\n}\n',
  });
  const { diagnostics, outputs } = buildOutputs([path.join(dir, 'ok.contract.ts')]);
  t.deepEqual(diagnostics, []);
  t.is(outputs.length, 1);
  t.true(outputs[0]?.content.includes("  /** Documented. */\n  'ok.b': Broadcast<never>;"));
  t.is(entryOf(outputs[0]?.content ?? '', 'ok.b'), "{ kind: 'broadcast', plainPayload: false }");
  t.true(
    entryOf(outputs[0]?.content ?? '', 'ok.c') ===
      "{ kind: 'consume', timeoutMs: 10, redeliver: false, plainPayload: true }",
  );
});

test('codegen - CBG007 accepts what arrives as sent and refuses a constructor key that holds a prototype', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'cross.contract.ts': [
      "import type { Broadcast } from 'clusterbus/contract';",
      '',
      'declare const brand: unique symbol;',
      "type Tagged = { id: string } & { readonly [brand]: 'Tagged' };",
      'interface JustDate extends Date {}',
      'interface Counts extends Map<string, number> {}',
      'class NotFound extends Error {',
      "  override name = 'NotFound' as const;",
      '}',
      '',
      'export interface CrossEvents {',
      "  'ok.brands': Broadcast<{ tagged: Tagged; at: Date & { readonly [brand]: 'At' } }>;",
      "  'ok.extends': Broadcast<{ at: JustDate; counts: Counts; err: NotFound; range: RangeError }>;",
      "  'ok.constructor': Broadcast<{ constructor: string; prototype: { n: number } }>;",
      "  'bad.constructor': Broadcast<{ constructor: { prototype: string } }>;",
      '}',
      '',
    ].join('\n'),
  });
  const { diagnostics, outputs } = buildOutputs([path.join(dir, 'cross.contract.ts')]);
  t.deepEqual(outputs, []);
  t.deepEqual(
    diagnostics.map((d) => [d.code, d.loc?.line, d.loc?.col, d.message]),
    [
      [
        'CBG007',
        15,
        34,
        `event 'bad.constructor': payload.constructor is a "constructor" key holding an object with a "prototype" key, which every receiver refuses: rename it`,
      ],
    ],
  );
});

test('codegen - recursive and expanding generic payload types do not hang the checker', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'rec.contract.ts': [
      "import type { Broadcast } from 'clusterbus/contract';",
      '',
      'interface Box<T> {',
      '  value: T;',
      '  inner: Box<Box<T>> | null;',
      '}',
      'type List = { head: number; tail: List } | null;',
      'interface A {',
      '  b: B;',
      '}',
      'interface B {',
      '  a: A;',
      '  f: () => void;',
      '}',
      '',
      'export interface RecEvents {',
      "  'rec.box': Broadcast<Box<string>>;",
      "  'rec.list': Broadcast<List>;",
      "  'rec.cycle': Broadcast<A>;",
      '}',
      '',
    ].join('\n'),
  });
  const { diagnostics } = buildOutputs([path.join(dir, 'rec.contract.ts')]);
  t.deepEqual(simplify(diagnostics), [['CBG007', 13, 3]]);
  t.true(diagnostics[0]?.message.includes("event 'rec.cycle': payload.b.f is a function"));
});

test('codegen - recursive and expanding generic payload types are not plain, and do not hang the plain check', (t) => {
  const dir = tempDir();
  writeFiles(dir, {
    'rec.contract.ts': [
      "import type { Broadcast, MapCall } from 'clusterbus/contract';",
      '',
      'interface Box<T> {',
      '  value: T;',
      '  inner: Box<Box<T>>;',
      '}',
      'type List = { head: number; tail: List } | null;',
      'interface A {',
      '  b: B;',
      '}',
      'interface B {',
      '  a: A;',
      '}',
      '',
      'export interface RecEvents {',
      "  'rec.box': Broadcast<Box<string>>;",
      "  'rec.list': Broadcast<List>;",
      "  'rec.cycle': MapCall<A, [B, B]>;",
      '}',
      '',
    ].join('\n'),
  });
  const { diagnostics, contracts } = readContracts([path.join(dir, 'rec.contract.ts')]);
  t.deepEqual(diagnostics, []);
  t.deepEqual(
    contracts[0]?.events.map((e) => [e.name, e.plainPayload, e.plainResult]),
    [
      ['rec.box', 'unknown', 'unknown'],
      ['rec.cycle', 'unknown', 'unknown'],
      ['rec.list', 'unknown', 'unknown'],
    ],
  );
});

test('codegen - every diagnostic code is documented in docs/codegen.md', (t) => {
  const docs = fs.readFileSync(path.join(repoRoot, 'docs/codegen.md'), 'utf8');
  for (const code of Object.values(Code)) t.regex(docs, new RegExp(`^#+ .*${code}`, 'm'), `${code} has a heading`);
});
