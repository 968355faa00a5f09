/**
 * Golden outputs: every fixture contract of test/fixtures/codegen is generated in-process
 * and compared byte for byte with the committed `.bus.ts` next to it. To accept a deliberate
 * change of the output, run `CLUSTERBUS_UPDATE_GOLDENS=1 npx ava test/codegen/golden.test.ts`
 * and review the diff.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { GENERATED_MARKER } from '../../codegen/emit.js';
import { buildOutputs } from '../../codegen/generate.js';
import { fixturesDir, format } from './_helpers.js';

const contracts = fs
  .readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.contract.ts'))
  .sort()
  .map((name) => path.join(fixturesDir, name));

const update = process.env['CLUSTERBUS_UPDATE_GOLDENS'] === '1';
const built = buildOutputs(contracts);

test('codegen - every fixture contract generates without diagnostics', (t) => {
  t.true(contracts.length >= 8);
  t.deepEqual(built.diagnostics, []);
  t.is(built.outputs.length, contracts.length);
});

for (const contract of contracts) {
  const name = path.basename(contract, '.contract.ts');
  test(`codegen - emits the golden output for the ${name} contract`, (t) => {
    const output = built.outputs.find((o) => o.contract === contract);
    if (output === undefined) return t.fail(`no output for ${contract}`);
    t.is(output.file, path.join(fixturesDir, `${name}.bus.ts`));
    if (update) fs.writeFileSync(output.file, output.content);
    const golden = fs.readFileSync(output.file, 'utf8');
    t.is(output.content, golden, `${path.basename(output.file)} differs from the generated output`);
  });

  test(`codegen - the ${name} golden is formatted as prettier formats it`, async (t) => {
    const golden = fs.readFileSync(path.join(fixturesDir, `${name}.bus.ts`), 'utf8');
    t.is(await format(golden), golden);
    for (const line of golden.split('\n')) t.true(line.length <= 120, line);
  });
}

test('codegen - emits byte-identical output for the same contract', (t) => {
  const again = buildOutputs([...contracts].reverse());
  const byFile = new Map(again.outputs.map((o) => [o.file, o.content]));
  for (const output of built.outputs) t.is(byFile.get(output.file), output.content);
});

test('codegen - output has LF line ends, the generated header and no timestamp', (t) => {
  for (const output of built.outputs) {
    t.false(output.content.includes('\r'));
    t.true(output.content.endsWith(';\n'));
    t.true(output.content.startsWith(`${GENERATED_MARKER} from ./`));
    t.regex(output.content.split('\n')[1] ?? '', /Do not edit/);
    t.notRegex(output.content, /\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}/);
  }
});

test('codegen - the header names the contract relative to the output, with POSIX separators', (t) => {
  const outDir = path.join(fixturesDir, 'generated', 'nested');
  const [output] = buildOutputs([path.join(fixturesDir, 'simple.contract.ts')], outDir).outputs;
  t.is(output?.file, path.join(outDir, 'simple.bus.ts'));
  t.true(output?.content.startsWith(`${GENERATED_MARKER} from ../../simple.contract.ts\n`));
  t.true(output?.content.includes("import type { SimpleEvents } from '../../simple.contract.js';"));
  t.regex(
    output?.content ?? '',
    /createMessenger<Events, Kinds>\(\s*'test\/fixtures\/codegen\/simple\.contract\.ts',\s*events,?\s*\)/,
  );
});

test('codegen - imports the contract interfaces with import type and never re-prints their types', (t) => {
  const output = built.outputs.find((o) => o.contract.endsWith('imported.contract.ts'));
  t.truthy(output);
  t.true(output?.content.includes("import type { BillingEvents } from './imported.contract.js';"));
  t.false(output?.content.includes('Invoice'));
  t.false(output?.content.includes('bigint'));
});

test('codegen - events are sorted by name and carry their JSDoc', (t) => {
  const output = built.outputs.find((o) => o.contract.endsWith('jsdoc.contract.ts'))?.content ?? '';
  const names = [...output.matchAll(/^ {2}'([^']+)':/gm)].map((m) => m[1]);
  t.deepEqual(names, ['doc.block', 'doc.example', 'doc.many', 'doc.none', 'doc.one']);
  t.true(output.includes("  /** One line of documentation. */\n  'doc.one'"));
  t.true(output.includes('   *   console.log(stats);\n'));
  t.true(output.includes('   * @deprecated use `doc.one`.\n'));
  t.false(output.includes('line comment'));
  t.false(output.includes('block comment'));
});
