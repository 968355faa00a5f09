/**
 * `tsc --noEmit` (the repository's TypeScript 7) on consumers of generated contracts that use
 * their generated messenger (on + broadcast / consume / map for each event used), each against
 * the same consumer written on plain functions taking `unknown` / `any`: every event of the
 * 500-event contract, and 200 events of the 1,000-event one (a large contract of which one
 * service uses a part; target: typed ≤ 1.5× plain). Every run is a fresh process, start-up
 * included; all variants run in each round, in an order that rotates.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../driver.js';
import type { ToolRow } from '../report.js';
import { median } from '../stats.js';
import { firstLine, toolRow } from './gen.js';
import { shellLine, timeProcess } from './timing.js';
import { consumerSource, tsconfigSource, type Workspace } from './workspace.js';

/** A typed consumer and its plain twin. */
interface Pair {
  /** Events of the contract. */
  readonly events: number;
  /** Events the consumer uses (the first ones). */
  readonly used: number;
  readonly typedLabel: string;
  readonly plainLabel: string;
  /** Most typed/plain the typed consumer may take, if the issue sets a target. */
  readonly target?: number;
}

const PAIRS: readonly Pair[] = [
  {
    events: 500,
    used: 500,
    typedLabel: 'tsc consumer of 500 events, clusterbus types',
    plainLabel: 'tsc same consumer, plain unknown/any',
  },
  {
    events: 1000,
    used: 200,
    typedLabel: 'tsc 200 of 1000 events, clusterbus types',
    plainLabel: 'tsc same 200 events, plain unknown/any',
    target: 1.5,
  },
];

interface Variant {
  readonly name: string;
  readonly label: string;
  readonly pair: Pair;
  readonly typed: boolean;
}

export async function benchTsc(ws: Workspace, repeats: number, log: (line: string) => void): Promise<ToolRow[]> {
  const variants: Variant[] = [];
  for (const pair of PAIRS) {
    if (!fs.existsSync(ws.generated(pair.events))) {
      const { generate } = await import('../../codegen/generate.js');
      const result = generate({ cwd: ws.dir, patterns: [ws.contract(pair.events)] });
      if (result.exitCode !== 0) {
        throw new Error(`gen of the ${pair.events}-event contract failed: ${result.diagnostics[0]?.message ?? ''}`);
      }
    }
    for (const typed of [true, false]) {
      const name = `${typed ? 'typed' : 'plain'}-${pair.used}-of-${pair.events}`;
      variants.push({ name, label: typed ? pair.typedLabel : pair.plainLabel, pair, typed });
      const file = `consumer-${name}.ts`;
      fs.writeFileSync(path.join(ws.dir, file), consumerSource(pair.events, typed, pair.used));
      fs.writeFileSync(path.join(ws.dir, `tsconfig.${name}.json`), tsconfigSource(file));
    }
  }
  // The repository's `npx tsc`: node_modules/.bin/tsc, run directly to keep npm's start-up out of the timing.
  const tsc = path.join(REPO, 'node_modules', '.bin', 'tsc');
  const runs = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const check = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const failures = new Map<string, string>();
  const argsOf = (name: string): string[] => [
    '-p',
    path.join(ws.dir, `tsconfig.${name}.json`),
    '--noEmit',
    '--extendedDiagnostics',
  ];
  for (let i = 0; i < repeats; i++) {
    const order = variants.map((_, j) => variants[(i + j) % variants.length] as Variant);
    for (const v of order) {
      const t = await timeProcess(tsc, argsOf(v.name), ws.dir);
      runs.get(v.name)?.push(t.ms);
      const checkTime = /Check time:\s*([\d.]+)(m?s)/.exec(t.output);
      if (checkTime?.[1]) check.get(v.name)?.push(Number(checkTime[1]) * (checkTime[2] === 's' ? 1000 : 1));
      if (t.code !== 0) {
        failures.set(v.name, firstLine(t.output.replace(/^\s*(Files|Lines|Identifiers|Symbols|Types).*$/gm, '')));
      }
    }
  }
  const rows = variants.map((v): ToolRow => {
    const ms = runs.get(v.name) ?? [];
    const notes: string[] = [];
    if (v.typed) {
      // Per round, so that both runs of a ratio saw the same load.
      const plain = runs.get(variants.find((p) => p.pair === v.pair && !p.typed)?.name ?? '') ?? [];
      const ratio = median(ms.map((typedMs, i) => typedMs / (plain[i] ?? Number.NaN)).filter(Number.isFinite));
      if (ratio !== undefined) {
        const target =
          v.pair.target === undefined
            ? ''
            : ` (target ≤ ${v.pair.target}x: ${ratio <= v.pair.target ? 'met' : 'MISSED'})`;
        notes.push(`${ratio.toFixed(2)}x plain${target}`);
      }
    }
    const checkMs = check.get(v.name) ?? [];
    if (checkMs.length > 0) notes.push(`check time ${checkMs.map((x) => x.toFixed(0)).join(', ')} ms`);
    const failure = failures.get(v.name);
    const note = failure ?? (notes.length > 0 ? notes.join('; ') : undefined);
    return {
      ...toolRow('tsc', v.label, ms, shellLine('node_modules/.bin/tsc', argsOf(v.name)), failure === undefined),
      ...(note !== undefined ? { note } : {}),
    };
  });
  for (const v of variants) log(`tsc: ${v.name} ${(runs.get(v.name) ?? []).map((r) => r.toFixed(0)).join(', ')} ms`);
  return rows;
}
