/**
 * `clusterbus gen` on generated contracts of 10, 100, 500 and 1,000 events: the wall time of
 * the CLI process as users run it (`node bin/clusterbus.js gen <file>`, over the build in dist/,
 * start-up included; target for 1,000 events: 2 s), the start-up alone (`gen --help` loads the
 * same modules), and the generator called in-process (codegen/generate.ts `generate`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../driver.js';
import type { ToolRow } from '../report.js';
import { median } from '../stats.js';
import { shellLine, timeProcess } from './timing.js';
import { SIZES, type Workspace } from './workspace.js';

// The installed CLI as users run it: bin/clusterbus.js over the build in dist/.
const CLI = path.join(REPO, 'bin', 'clusterbus.js');
const FLAGS: string[] = [];

/** Most milliseconds `gen` may take as a process, by contract size, where the issue sets a target. */
const PROCESS_TARGET_MS: Readonly<Record<number, number>> = { 1000: 2000 };

export async function benchGen(ws: Workspace, repeats: number, log: (line: string) => void): Promise<ToolRow[]> {
  const rows: ToolRow[] = [];
  const node = process.execPath;

  // Start-up only: node and the generator's modules (ts-morph included), no contract. `gen --help`,
  // because the run time's command answers a bare `--help` without loading the generator.
  {
    const args = [...FLAGS, CLI, 'gen', '--help'];
    const runs: number[] = [];
    let ok = true;
    for (let i = 0; i < repeats; i++) {
      const t = await timeProcess(node, args, REPO);
      runs.push(t.ms);
      ok &&= t.code === 0;
    }
    rows.push(toolRow('gen', 'gen --help (process start-up only)', runs, shellLine('node', args), ok));
    log(`gen: start-up ${runs.map((r) => r.toFixed(0)).join(', ')} ms`);
  }

  for (const n of SIZES) {
    const file = ws.contract(n);
    const args = [...FLAGS, CLI, 'gen', file];
    const runs: number[] = [];
    let ok = true;
    let note: string | undefined;
    for (let i = 0; i < repeats; i++) {
      fs.rmSync(ws.generated(n), { force: true });
      const t = await timeProcess(node, args, REPO);
      runs.push(t.ms);
      if (t.code !== 0 || !fs.existsSync(ws.generated(n))) {
        ok = false;
        note = firstLine(t.output);
      }
    }
    const row = toolRow('gen', `gen ${n} events (process)`, runs, shellLine('node', args), ok);
    const target = PROCESS_TARGET_MS[n];
    if (note === undefined && target !== undefined && row.medianMs !== undefined) {
      note = `target ≤ ${target} ms: ${row.medianMs <= target ? 'met' : 'MISSED'}`;
    }
    rows.push({ ...row, ...(note ? { note } : {}) });
    log(`gen: ${n} events, process ${runs.map((r) => r.toFixed(0)).join(', ')} ms`);
  }

  // In-process: the generator's own function, after its modules are loaded and one warm-up run.
  const { generate } = await import('../../codegen/generate.js');
  const generateOnce = (n: number): { ms: number; error: string | undefined } => {
    fs.rmSync(ws.generated(n), { force: true });
    const start = process.hrtime.bigint();
    const result = generate({ cwd: ws.dir, patterns: [ws.contract(n)] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms, error: result.exitCode === 0 ? undefined : (result.diagnostics[0]?.message ?? 'failed') };
  };
  const warm = generateOnce(SIZES[1]);
  log(`gen: in-process warm-up (${SIZES[1]} events) ${warm.ms.toFixed(0)} ms`);
  for (const n of SIZES) {
    const runs: number[] = [];
    let error: string | undefined;
    for (let i = 0; i < Math.max(2, repeats); i++) {
      const once = generateOnce(n);
      runs.push(once.ms);
      error ??= once.error;
    }
    rows.push({
      ...toolRow(
        'gen',
        `gen ${n} events (in-process)`,
        runs,
        `generate({ cwd: '${ws.dir}', patterns: ['${path.basename(ws.contract(n))}'] }) from codegen/generate.ts`,
        error === undefined,
      ),
      ...(error !== undefined ? { note: error } : {}),
    });
    log(`gen: ${n} events, in-process ${runs.map((r) => r.toFixed(0)).join(', ')} ms`);
  }
  return rows;
}

export function toolRow(mode: 'gen' | 'tsc', label: string, runs: number[], command: string, ok: boolean): ToolRow {
  return { kind: 'tool', mode, label, medianMs: median(runs), runsMs: runs, command, ok };
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  ).slice(0, 200);
}
