/**
 * What an editor shows for an event name in a call, asked of TypeScript's language service (the
 * one ts-morph bundles, as an editor's TypeScript server answers): go-to-definition and hover on
 * `eventNames['…']` or `eventNames.x`, the generated file's names, reach the event's declaration
 * in the contract and its doc comment; on the string literal of a plain call they reach nothing,
 * though completion and find-all-references work there. docs/codegen.md ("In an editor") says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Project, ts } from 'ts-morph';
import { generate } from '../../codegen/generate.js';
import { eventNamesOf } from '../../src/messenger/messenger.js';
import { linkConsumerProject, removeTempDirs, tempDir, writeFiles } from './_helpers.js';

test.after.always(removeTempDirs);

const contract = [
  "import type { Broadcast, MapCall } from 'clusterbus/contract';",
  '',
  'export interface ShopEvents {',
  '  /** Drop cached entries on every worker. */',
  "  'cache.invalidate': Broadcast<{ keys: string[] }>;",
  '  /**',
  '   * Quote a price for a SKU; every worker answers.',
  '   * @deprecated use `price.quote2`.',
  '   */',
  "  'price.quote': MapCall<{ sku: string }, { cents: number }, { timeoutMs: 3000 }>;",
  '  /** Are you there? */',
  '  ping: Broadcast<null>;',
  '}',
  '',
].join('\n');

const consumer = [
  "import { eventNames, messenger } from './shop.bus.js';",
  '',
  'export async function quote(): Promise<number> {',
  "  const viaName = await messenger.map(eventNames['price.quote'], { sku: 'a' });",
  "  const viaLiteral = await messenger.map('price.quote', { sku: 'a' });",
  '  await messenger.broadcast(eventNames.ping, null);',
  '  return (viaName[0]?.cents ?? 0) + (viaLiteral[0]?.cents ?? 0);',
  '}',
  '',
].join('\n');

interface Setup {
  readonly dir: string;
  readonly service: ts.LanguageService;
  readonly consumerFile: string;
  readonly contractFile: string;
}

let setup: Setup | undefined;

test.before(() => {
  const dir = tempDir();
  linkConsumerProject(dir);
  writeFiles(dir, { 'shop.contract.ts': contract, 'consumer.ts': consumer });
  const result = generate({ cwd: dir, patterns: ['shop.contract.ts'] });
  if (result.exitCode !== 0) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  const project = new Project({ tsConfigFilePath: path.join(dir, 'tsconfig.json') });
  setup = {
    dir,
    service: project.getLanguageService().compilerObject,
    consumerFile: path.join(dir, 'consumer.ts'),
    contractFile: path.join(dir, 'shop.contract.ts'),
  };
});

function ready(): Setup {
  if (setup === undefined) throw new Error('the project was not set up');
  return setup;
}

/** The position of the first character of `inner` inside the first `around` of the consumer. */
function positionOf(around: string, inner: string): number {
  const at = consumer.indexOf(around);
  if (at < 0 || !around.includes(inner)) throw new Error(`${around} / ${inner} not in the consumer`);
  return at + around.indexOf(inner);
}

/** The file, 1-based line and text of a definition or a reference. */
function located(span: { readonly fileName: string; readonly textSpan: ts.TextSpan }): {
  file: string;
  line: number;
  text: string;
} {
  const text = fs.readFileSync(span.fileName, 'utf8');
  const { start, length } = span.textSpan;
  return {
    file: path.resolve(span.fileName),
    line: text.slice(0, start).split('\n').length,
    text: text.slice(start, start + length),
  };
}

/** The 1-based line of the contract that declares `key`. */
function contractLine(key: string): number {
  return contract.split('\n').findIndex((line) => line.startsWith(`  ${key}:`)) + 1;
}

function documentation(info: ts.QuickInfo | undefined): string {
  return (info?.documentation ?? []).map((part) => part.text).join('');
}

test('editor - go to definition on eventNames[name] in a call lands on the event in the contract', (t) => {
  const { service, consumerFile, contractFile } = ready();
  const definitions = service.getDefinitionAtPosition(consumerFile, positionOf("eventNames['price.quote']", 'quote'));
  t.is(definitions?.length, 1);
  const [definition] = definitions ?? [];
  if (definition === undefined) return;
  t.deepEqual(located(definition), { file: contractFile, line: contractLine("'price.quote'"), text: "'price.quote'" });
});

test('editor - hover on eventNames[name] shows the event and its doc comment from the contract', (t) => {
  const { service, consumerFile } = ready();
  const info = service.getQuickInfoAtPosition(consumerFile, positionOf("eventNames['price.quote']", 'price'));
  t.is(documentation(info), 'Quote a price for a SKU; every worker answers.');
  t.deepEqual(
    info?.tags?.map((tag) => [tag.name, (tag.text ?? []).map((part) => part.text).join('')]),
    [['deprecated', 'use `price.quote2`.']],
  );
  t.is((info?.displayParts ?? []).map((part) => part.text).join(''), `(property) 'price.quote': "price.quote"`);
});

test('editor - go to definition and hover work on eventNames.name for an identifier event', (t) => {
  const { service, consumerFile, contractFile } = ready();
  const position = positionOf('eventNames.ping', 'ping');
  const [definition] = service.getDefinitionAtPosition(consumerFile, position) ?? [];
  t.truthy(definition);
  if (definition === undefined) return;
  t.deepEqual(located(definition), { file: contractFile, line: contractLine('ping'), text: 'ping' });
  t.is(documentation(service.getQuickInfoAtPosition(consumerFile, position)), 'Are you there?');
});

test('editor - a string literal event name in a call leads nowhere: no definition, no hover', (t) => {
  const { service, consumerFile } = ready();
  const position = positionOf("messenger.map('price.quote'", 'price');
  t.deepEqual(service.getDefinitionAtPosition(consumerFile, position) ?? [], []);
  t.is(service.getQuickInfoAtPosition(consumerFile, position), undefined);
});

test('editor - completion in a string literal event name lists the events of the call kind', (t) => {
  const { service, consumerFile } = ready();
  const completions = service.getCompletionsAtPosition(
    consumerFile,
    positionOf("messenger.map('price.quote'", 'price'),
    {},
  );
  t.deepEqual(
    completions?.entries.map((entry) => entry.name),
    ['price.quote'],
  );
});

test('editor - references on a string literal event name reach the contract, not the other way round', (t) => {
  const { service, consumerFile, contractFile } = ready();
  // The generated file names every event too (its markers and its unions of each kind): what
  // matters here is that the consumer's literal reaches the contract.
  const lines = (references: readonly ts.ReferencedSymbol[] | undefined): string[] =>
    (references ?? [])
      .flatMap((symbol) => symbol.references)
      .filter((reference) => !reference.fileName.endsWith('.bus.ts'))
      .map((reference) => {
        const where = located(reference);
        return `${path.basename(where.file)}:${where.line}`;
      })
      .sort();
  const consumerLine = (around: string): string =>
    `consumer.ts:${consumer.slice(0, consumer.indexOf(around)).split('\n').length}`;
  const contractAt = `shop.contract.ts:${contractLine("'price.quote'")}`;
  t.deepEqual(
    lines(service.findReferences(consumerFile, positionOf("messenger.map('price.quote'", 'price'))),
    [consumerLine("messenger.map('price.quote'"), contractAt].sort(),
  );
  t.deepEqual(
    lines(service.findReferences(contractFile, contract.indexOf("'price.quote'") + 1)),
    [consumerLine("eventNames['price.quote']"), contractAt].sort(),
  );
});

test('editor - a call through eventNames compiles as the one with the string literal does', (t) => {
  const { service, consumerFile } = ready();
  const diagnostics = [
    ...service.getSyntacticDiagnostics(consumerFile),
    ...service.getSemanticDiagnostics(consumerFile),
  ].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.deepEqual(diagnostics, []);
});

test("editor - eventNames holds each event's name under its own name, frozen", (t) => {
  const names = eventNamesOf<{ 'price.quote': unknown; ping: unknown }>({
    'price.quote': { kind: 'map' },
    ping: { kind: 'broadcast' },
  });
  t.deepEqual({ ...names }, { 'price.quote': 'price.quote', ping: 'ping' });
  t.true(Object.isFrozen(names));
});
