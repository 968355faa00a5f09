/**
 * A contract of 1,000 events, the size the generator and the generated types are meant to
 * handle: it generates, the output and a consumer of part of it compile, a misuse is still the
 * error it is on a small contract, and a generated file left behind by the contract still does
 * not compile. Correctness only: how long it takes is `npm run bench -- --only gen,tsc`.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { generate } from '../../codegen/generate.js';
import { formatDiagnostic, runTsc, type Diagnostic } from '../types/tsc.js';
import { linkConsumerProject, removeTempDirs, runTimeTable, tempDir, writeFiles } from './_helpers.js';

test.after.always(removeTempDirs);

const EVENTS = 1000;
/** Events the consumer uses: the first ones, of every kind. */
const USED = 200;

const kinds = ['broadcast', 'consume', 'map'] as const;
const kindOf = (i: number): (typeof kinds)[number] => kinds[i % 3] ?? 'broadcast';
const nameOf = (i: number): string => `svc${i % 10}.event${i}`;

function contractSource(timeoutOf: (i: number) => number): string {
  const lines = [
    "import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';",
    '',
    'export interface Big {',
  ];
  for (let i = 0; i < EVENTS; i++) {
    const payload = `{ id: string; n${i}: number; at: Date; tags: string[]; meta?: { source: string } }`;
    lines.push(`  /** Event ${i}. */`);
    if (kindOf(i) === 'broadcast') lines.push(`  '${nameOf(i)}': Broadcast<${payload}>;`);
    else if (kindOf(i) === 'consume') {
      lines.push(`  '${nameOf(i)}': Consume<${payload}, { timeoutMs: ${timeoutOf(i)}; redeliver: false }>;`);
    } else lines.push(`  '${nameOf(i)}': MapCall<${payload}, { ok: boolean; v${i}: number }, { timeoutMs: 2000 }>;`);
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** Each misuse of the consumer, on its own line: the diagnostic it must give. */
const misuses = [
  {
    line: `  await bus.broadcast('${nameOf(1)}', { id: 'x', n1: 1, at: new Date(), tags: [] });`,
    code: 'TS2345',
    at: `'${nameOf(1)}'`,
    message: `Argument of type '"${nameOf(1)}"' is not assignable to parameter of type 'BroadcastEvents'.`,
  },
  {
    line: `  await bus.consume('${nameOf(4)}', { id: 4, n4: 4, at: new Date(), tags: [] });`,
    code: 'TS2322',
    at: 'id: 4',
    message: "Type 'number' is not assignable to type 'string'.",
  },
  {
    line: `  bus.on('${nameOf(5)}', () => ({ ok: 'yes', v5: 5 }));`,
    code: 'TS2322',
    at: 'ok:',
    message: "Type 'string' is not assignable to type 'boolean'.",
  },
];

function consumerSource(): string {
  const lines = [
    "import { eventNames, messenger as bus } from './big.bus.js';",
    '',
    'export async function useSome() {',
  ];
  lines.push('  let total = 0;');
  for (let i = 0; i < USED; i++) {
    const event = i % 2 === 0 ? `'${nameOf(i)}'` : `eventNames['${nameOf(i)}']`;
    const payload = `{ id: 'x', n${i}: ${i}, at: new Date(), tags: ['t'] }`;
    if (kindOf(i) === 'broadcast') {
      lines.push(`  bus.on(${event}, (p) => { total += p.n${i}; });`, `  await bus.broadcast(${event}, ${payload});`);
    } else if (kindOf(i) === 'consume') {
      lines.push(`  bus.on(${event}, (p) => p.at.getTime());`, `  await bus.consume(${event}, ${payload});`);
    } else {
      lines.push(`  bus.on(${event}, (p) => ({ ok: true, v${i}: p.n${i} }));`);
      lines.push(`  total += (await bus.map(${event}, ${payload}))[0]?.v${i} ?? 0;`);
    }
  }
  lines.push(...misuses.map((m) => m.line), '  return total;', '}', '');
  return lines.join('\n');
}

let dir = '';
let generated = '';
let firstRun: { exitCode: number; diagnostics: Diagnostic[] } | undefined;

test.before(async () => {
  dir = tempDir('clusterbus-scale-');
  linkConsumerProject(dir);
  writeFiles(dir, { 'big.contract.ts': contractSource((i) => 1000 + i), 'consumer.ts': consumerSource() });
  const result = generate({ cwd: dir, patterns: ['big.contract.ts'] });
  if (result.exitCode !== 0) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  generated = fs.readFileSync(path.join(dir, 'big.bus.ts'), 'utf8');
  firstRun = await runTsc(dir);
});

const where = (d: Diagnostic): string => formatDiagnostic(d, dir);

test('scale - gen writes a table entry and a marker for each of the 1,000 events', (t) => {
  const table = runTimeTable(generated);
  t.is(Object.keys(table).length, EVENTS);
  t.like(table[nameOf(999)], { kind: 'broadcast' });
  const markers = [...generated.matchAll(/^ {2}'(svc\d\.event\d+)': (Broadcast|Consume|MapCall)</gm)].map((m) => m[1]);
  t.is(new Set(markers).size, EVENTS);
});

test('scale - the generated file and a consumer of 200 events compile, only the misuses fail', (t) => {
  const run = firstRun;
  if (run === undefined) return t.fail('tsc did not run');
  const busErrors = run.diagnostics.filter((d) => d.file !== path.join(dir, 'consumer.ts'));
  t.deepEqual(busErrors.map(where), [], 'the contract and the generated file compile');
  const consumerLines = consumerSource().split('\n');
  const unexpected = run.diagnostics.filter(
    (d) => d.file === path.join(dir, 'consumer.ts') && !misuses.some((m) => consumerLines[d.line - 1] === m.line),
  );
  t.deepEqual(unexpected.map(where), [], 'the correct calls compile');
});

for (const misuse of misuses) {
  test(`scale - a misuse is still reported at its argument: ${misuse.message}`, (t) => {
    const line = consumerSource().split('\n').indexOf(misuse.line) + 1;
    const onLine = (firstRun?.diagnostics ?? []).filter(
      (d) => d.file === path.join(dir, 'consumer.ts') && d.line === line,
    );
    t.deepEqual(
      onLine.map((d) => [d.code, d.column]),
      [[misuse.code, misuse.line.indexOf(misuse.at) + 1]],
      onLine.map(where).join('\n'),
    );
    t.true(onLine[0]?.headline.includes(misuse.message), onLine[0]?.headline);
  });
}

test('scale - a generated file older than its 1,000-event contract does not compile, naming the change', async (t) => {
  const changed = 700; // a consume event
  t.is(kindOf(changed), 'consume');
  fs.writeFileSync(
    path.join(dir, 'big.contract.ts'),
    contractSource((i) => (i === changed ? 9 : 1000 + i)),
  );
  const run = await runTsc(dir);
  const stale = run.diagnostics.filter((d) => d.file === path.join(dir, 'big.bus.ts'));
  t.deepEqual(
    stale.map((d) => [d.code, d.headline]),
    [
      [
        'TS1360',
        `Type 'true' does not satisfy the expected type '"event ${nameOf(changed)} has timeoutMs ${1000 + changed} in this generated file but 9 in the contract: run \`clusterbus gen\`"'.`,
      ],
    ],
  );
});
