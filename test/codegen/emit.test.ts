/**
 * The emit stage on synthetic models: whatever the names and paths, the output is what
 * prettier (printWidth 120, singleQuote, trailingComma all) would print.
 */
import path from 'node:path';
import test from 'ava';
import { emitContract, isGenerated, outputPathFor, quote } from '../../codegen/emit.js';
import type { ContractModel, EventModel, Plainness } from '../../codegen/model.js';
import { format, runTimeTable } from './_helpers.js';

const root = path.resolve('/project');
const loc = { file: path.join(root, 'contracts/x.contract.ts'), line: 1, col: 1 };

function event(
  name: string,
  kind: EventModel['kind'],
  options: EventModel['options'] = [],
  doc?: string[],
  plain: { payload?: Plainness; result?: Plainness } = {},
): EventModel {
  return {
    name,
    kind,
    options,
    plainPayload: plain.payload ?? 'unknown',
    plainResult: plain.result ?? 'unknown',
    fingerprint: `fp-${name}`,
    doc,
    interfaceName: 'X',
    loc,
  };
}

const bothPlain = { payload: 'plain', result: 'plain' } as const;
const bothRich = { payload: 'rich', result: 'rich' } as const;

function model(interfaces: string[], events: EventModel[], file = loc.file): ContractModel {
  return { file, interfaces: interfaces.map((name) => ({ name, loc })), events };
}

const allConsume: EventModel['options'] = [
  { name: 'timeoutMs', value: 600000 },
  { name: 'redeliver', value: false },
  { name: 'maxPayloadBytes', value: 1048576 },
];

/** Event names and paths of many lengths, to cross every layout boundary. */
const cases: { title: string; model: ContractModel; source: string }[] = [];
for (const length of [10, 60, 75, 80, 85, 90, 95, 100, 105, 110, 112, 113, 114, 115, 116, 117, 118, 119, 125, 140]) {
  const name = 'e'.repeat(length);
  cases.push({
    title: `event name of ${length} characters`,
    model: model(
      ['X'],
      [event(`a.${name}`, 'consume', allConsume), event(name, 'map', [{ name: 'timeoutMs', value: 5 }])],
    ),
    source: 'contracts/x.contract.ts',
  });
}
for (const length of [
  10, 40, 41, 42, 43, 44, 45, 46, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115, 120,
]) {
  const name = 'p'.repeat(length);
  cases.push({
    title: `event name of ${length} characters with the plain hints`,
    model: model(
      ['X'],
      [
        event(`a.${name}`, 'consume', allConsume, undefined, { payload: 'plain' }),
        event(`b.${name}`, 'map', [{ name: 'timeoutMs', value: 5 }], undefined, bothPlain),
        event(`c.${name}`, 'map', [], undefined, { result: 'plain' }),
      ],
    ),
    source: 'contracts/x.contract.ts',
  });
  cases.push({
    title: `event name of ${length} characters with the rich hints`,
    model: model(
      ['X'],
      [
        event(`a.${name}`, 'consume', allConsume, undefined, { payload: 'rich' }),
        event(`b.${name}`, 'map', [{ name: 'timeoutMs', value: 5 }], undefined, bothRich),
        event(`c.${name}`, 'map', [], undefined, { payload: 'plain', result: 'rich' }),
      ],
    ),
    source: 'contracts/x.contract.ts',
  });
}
for (const length of [30, 44, 45, 46, 47, 48, 60, 120]) {
  cases.push({
    title: `source of ${length} characters`,
    model: model(['X'], [event('a', 'broadcast'), event(`b.${'x'.repeat(100)}`, 'consume', allConsume)]),
    source: `${'s'.repeat(length - 12)}.contract.ts`,
  });
}
for (const length of [20, 35, 40, 45, 60, 110, 118, 125]) {
  cases.push({
    title: `three interface names of ${length} characters`,
    model: model(
      [`A${'a'.repeat(length - 1)}`, `B${'b'.repeat(length - 1)}`, `C${'c'.repeat(length - 1)}`],
      [event('a', 'broadcast')],
    ),
    source: 'contracts/x.contract.ts',
  });
  cases.push({
    title: `one interface name of ${length + 80} characters`,
    model: model([`A${'a'.repeat(length + 79)}`], [event('a', 'broadcast')]),
    source: 'contracts/x.contract.ts',
  });
}
cases.push({
  title: 'names that need quotes or escapes',
  model: model(
    ['X'],
    [
      event("it's", 'broadcast'),
      event('say "hi"', 'broadcast'),
      event(`both ' and "" `, 'broadcast'),
      event('back\\slash', 'broadcast'),
      event('new\nline', 'broadcast'),
      event('class', 'broadcast'),
      event('$dollar_ok', 'broadcast'),
      event('ünïcode', 'broadcast'),
      event('1starts.with.digit', 'broadcast'),
      event('12', 'broadcast'),
      event('kebab-case', 'broadcast'),
      event('emoji😀', 'broadcast'),
    ].sort((a, b) => (a.name < b.name ? -1 : 1)),
  ),
  source: "it's/x.contract.ts",
});
for (const [count, length] of [
  [4, 20],
  [5, 20],
  [8, 12],
  [12, 20],
] as const) {
  cases.push({
    title: `${count} broadcasts of ${length} characters (the union of a kind on one line, the next, or one a line)`,
    model: model(
      ['X'],
      Array.from({ length: count }, (_, i) => event(`b${i}.${'e'.repeat(length)}`, 'broadcast')),
    ),
    source: 'contracts/x.contract.ts',
  });
}
cases.push({
  title: 'JSDoc of one and several lines',
  model: model(
    ['X'],
    [
      event('a', 'broadcast', [], ['One line.']),
      event(
        'b',
        'consume',
        [{ name: 'redeliver', value: true }],
        ['First.', '', '```ts', '  indented();', '```', '@deprecated'],
      ),
    ],
  ),
  source: 'contracts/x.contract.ts',
});
cases.push({
  title: 'reserved interface names',
  model: model(['Events', 'Messenger', 'createMessenger', 'messenger'], [event('a', 'broadcast')]),
  source: 'contracts/x.contract.ts',
});

for (const { title, model: m, source } of cases) {
  test(`codegen - emits prettier-formatted code for ${title}`, async (t) => {
    const text = emitContract(m, { outFile: path.join(root, 'contracts/x.bus.ts'), source });
    t.is(text, await format(text));
  });
}

test('codegen - quote() picks the quote prettier picks', (t) => {
  t.is(quote('a.b'), "'a.b'");
  t.is(quote("it's"), `"it's"`);
  t.is(quote(`'"'`), `"'\\"'"`);
  t.is(quote(`"'"`), `'"\\'"'`);
  t.is(quote('a\\b'), "'a\\\\b'");
  t.is(quote('a\nb'), "'a\\nb'");
});

test('codegen - outputPathFor() puts X.bus.ts next to X.contract.ts or in the out directory', (t) => {
  t.is(outputPathFor(path.join(root, 'contracts/shop.contract.ts')), path.join(root, 'contracts/shop.bus.ts'));
  t.is(
    outputPathFor(path.join(root, 'contracts/shop.contract.ts'), path.join(root, 'gen')),
    path.join(root, 'gen/shop.bus.ts'),
  );
});

test('codegen - isGenerated() recognises the header only at the start of the file', (t) => {
  const text = emitContract(model(['X'], [event('a', 'broadcast')]), {
    outFile: path.join(root, 'contracts/x.bus.ts'),
    source: 'x',
  });
  t.true(isGenerated(text));
  t.false(isGenerated(`// hand-written\n${text}`));
  t.false(isGenerated('export const messenger = {};\n'));
});

test('codegen - writes the plain hints after the options: true when plain, false when rich, nothing when unknown', (t) => {
  const text = emitContract(
    model(
      ['X'],
      [
        event('b', 'broadcast', [{ name: 'maxPayloadBytes', value: 64 }], undefined, { payload: 'plain' }),
        event('c', 'consume', [], undefined, { payload: 'unknown' }),
        event('d', 'broadcast', [], undefined, { payload: 'rich' }),
        event('m', 'map', [{ name: 'timeoutMs', value: 5 }], undefined, bothPlain),
        event('n', 'map', [], undefined, { result: 'plain' }),
        event('o', 'map', [], undefined, bothRich),
        event('p', 'map', [{ name: 'timeoutMs', value: 5 }], undefined, { payload: 'rich', result: 'plain' }),
        event('q', 'map', [], undefined, { payload: 'unknown', result: 'rich' }),
        event('r', 'consume', [], undefined, bothPlain),
        event('s', 'consume', [], undefined, bothRich),
      ],
    ),
    { outFile: path.join(root, 'contracts/x.bus.ts'), source: 'x' },
  );
  t.deepEqual(runTimeTable(text), {
    b: { kind: 'broadcast', maxPayloadBytes: 64, plainPayload: true, fp: 'fp-b' },
    c: { kind: 'consume', fp: 'fp-c' },
    d: { kind: 'broadcast', plainPayload: false, fp: 'fp-d' },
    m: { kind: 'map', timeoutMs: 5, plainPayload: true, plainResult: true, fp: 'fp-m' },
    n: { kind: 'map', plainResult: true, fp: 'fp-n' },
    o: { kind: 'map', plainPayload: false, plainResult: false, fp: 'fp-o' },
    p: { kind: 'map', timeoutMs: 5, plainPayload: false, plainResult: true, fp: 'fp-p' },
    q: { kind: 'map', plainResult: false, fp: 'fp-q' },
    // A result hint on a kind without a result is not written.
    r: { kind: 'consume', plainPayload: true, fp: 'fp-r' },
    s: { kind: 'consume', plainPayload: false, fp: 'fp-s' },
  });
  // The keys of a JSON object keep their order when parsed: kind, options, hints, fingerprint.
  t.deepEqual(Object.keys(runTimeTable(text)['m'] ?? {}), ['kind', 'timeoutMs', 'plainPayload', 'plainResult', 'fp']);
});

test('codegen - the run-time table carries any event name and option exactly, in JSON a template literal holds', (t) => {
  const names = ['back\\slash', 'back`tick', 'dollar${brace}', 'new\nline', `it's "quoted"`, 'emoji😀', '\u2028sep'];
  const text = emitContract(
    model(
      ['X'],
      names.map((name) => event(name, 'consume', [{ name: 'timeoutMs', value: 7 }])),
    ),
    { outFile: path.join(root, 'contracts/x.bus.ts'), source: 'x' },
  );
  const table = runTimeTable(text);
  t.deepEqual(Object.keys(table).sort(), [...names].sort());
  for (const name of names) t.like(table[name], { kind: 'consume', timeoutMs: 7 });
});
