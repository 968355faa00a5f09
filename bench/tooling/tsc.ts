/**
 * `tsc --noEmit` (the repository's TypeScript 7) on a consumer of the 500-event contract that
 * uses its generated messenger (on + broadcast / consume / map for every event), against the
 * same consumer written on plain functions taking `unknown` / `any`. Typed and plain runs
 * alternate; each is a fresh process, start-up included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../driver.js';
import type { ToolRow } from '../report.js';
import { firstLine, toolRow } from './gen.js';
import { shellLine, timeProcess } from './timing.js';
import { consumerSource, tsconfigSource, type Workspace } from './workspace.js';

const EVENTS = 500;

export async function benchTsc(ws: Workspace, repeats: number, log: (line: string) => void): Promise<ToolRow[]> {
  if (!fs.existsSync(ws.generated(EVENTS))) {
    const { generate } = await import('../../codegen/generate.js');
    const result = generate({ cwd: ws.dir, patterns: [ws.contract(EVENTS)] });
    if (result.exitCode !== 0)
      throw new Error(`gen of the ${EVENTS}-event contract failed: ${result.diagnostics[0]?.message ?? ''}`);
  }
  const variants = [
    { name: 'typed', label: `tsc consumer of ${EVENTS} events, clusterbus types` },
    { name: 'plain', label: `tsc same consumer, plain unknown/any` },
  ] as const;
  for (const v of variants) {
    const file = `consumer-${v.name}.ts`;
    fs.writeFileSync(path.join(ws.dir, file), consumerSource(EVENTS, v.name === 'typed'));
    fs.writeFileSync(path.join(ws.dir, `tsconfig.${v.name}.json`), tsconfigSource(file));
  }
  // The repository's `npx tsc`: node_modules/.bin/tsc, run directly to keep npm's start-up out of the timing.
  const tsc = path.join(REPO, 'node_modules', '.bin', 'tsc');
  const runs = { typed: [] as number[], plain: [] as number[] };
  const check = { typed: [] as number[], plain: [] as number[] };
  const failures: Partial<Record<'typed' | 'plain', string>> = {};
  const argsOf = (name: string): string[] => [
    '-p',
    path.join(ws.dir, `tsconfig.${name}.json`),
    '--noEmit',
    '--extendedDiagnostics',
  ];
  for (let i = 0; i < repeats; i++) {
    for (const v of i % 2 === 0 ? variants : [...variants].reverse()) {
      const t = await timeProcess(tsc, argsOf(v.name), ws.dir);
      runs[v.name].push(t.ms);
      const checkTime = /Check time:\s*([\d.]+)(m?s)/.exec(t.output);
      if (checkTime?.[1]) check[v.name].push(Number(checkTime[1]) * (checkTime[2] === 's' ? 1000 : 1));
      if (t.code !== 0)
        failures[v.name] = firstLine(t.output.replace(/^\s*(Files|Lines|Identifiers|Symbols|Types).*$/gm, ''));
    }
  }
  const rows = variants.map((v): ToolRow => {
    const ms = check[v.name];
    const checkNote = ms.length > 0 ? `check time ${ms.map((x) => x.toFixed(0)).join(', ')} ms` : undefined;
    const failure = failures[v.name];
    return {
      ...toolRow(
        'tsc',
        v.label,
        runs[v.name],
        shellLine('node_modules/.bin/tsc', argsOf(v.name)),
        failure === undefined,
      ),
      ...(failure !== undefined ? { note: failure } : checkNote ? { note: checkNote } : {}),
    };
  });
  log(
    `tsc: typed ${runs.typed.map((r) => r.toFixed(0)).join(', ')} ms; plain ${runs.plain.map((r) => r.toFixed(0)).join(', ')} ms`,
  );
  return rows;
}
