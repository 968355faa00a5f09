/**
 * `npm run bench`: relay, think, superjson-relay and clusterbus side by side on this machine,
 * then the tooling (`clusterbus gen`, `tsc`). See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import superjson from 'superjson';
import { parseArgs, rerunCommand, USAGE, UsageError, type Options } from './args.js';
import { killAll } from './cleanup.js';
import { runClusterRows, type RowOutcome } from './cluster-bench.js';
import { NODE_FLAGS, REPO } from './driver.js';
import { planRows } from './modes.js';
import { makeBody } from './payloads.js';
import { PAYLOADS, type SystemName } from './protocol.js';
import { formatClusterTable, formatToolTable, JsonlWriter, type ToolRow } from './report.js';
import { benchGen } from './tooling/gen.js';
import { benchTsc } from './tooling/tsc.js';
import { createWorkspace } from './tooling/workspace.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)}s] ${line}\n`);
};
const startedAt = new Date();

function masterCommand(system: SystemName, workers: number): string {
  return ['node', ...NODE_FLAGS, 'bench/cluster/master.ts', system, String(workers)].join(' ');
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

async function main(options: Options): Promise<void> {
  const writer = new JsonlWriter(path.join(REPO, 'bench', 'results'), startedAt);
  const command = ['npm run bench --', ...process.argv.slice(2)].join(' ');
  const payloadBytes = Object.fromEntries(
    PAYLOADS.map((p) => {
      const sample = { seq: 12345, body: makeBody(p) };
      return [
        p,
        { json: p === 'rich' ? null : JSON.stringify(sample).length, superjson: superjson.stringify(sample).length },
      ];
    }),
  );
  writer.write({
    kind: 'meta',
    startedAt: startedAt.toISOString(),
    command,
    argv: process.argv.slice(2),
    options,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model,
    loadavg: os.loadavg(),
    commit: gitCommit(),
    payloadBytes,
  });
  process.stdout.write(
    `clusterbus bench: ${options.workers} workers, ${options.rounds} rounds${options.quick ? ', quick' : ''}; ` +
      `node ${process.version}, ${os.availableParallelism()} CPUs, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n` +
      `payload bytes (json / superjson): ${PAYLOADS.map((p) => `${p} ${payloadBytes[p]?.json ?? '—'} / ${payloadBytes[p]?.superjson ?? '—'}`).join(', ')}\n`,
  );

  const rows = planRows(options);
  let outcomes: RowOutcome[] = [];
  if (rows.length > 0) {
    const clusterStart = Date.now();
    outcomes = await runClusterRows(
      options,
      rows,
      (o) => {
        const s = o.summary;
        const line = s.metrics
          .map(
            (m) =>
              `${m.name} ${Object.entries(m.medians)
                .map(([k, v]) => `${k}=${v.toFixed(m.unit === 'µs' ? 0 : 0)}`)
                .join(' ')}`,
          )
          .join('; ');
        log(`${s.mode}/${s.payload} (${s.count}) in ${(o.ms / 1000).toFixed(1)} s: ${line}`);
        for (const [system, problems] of Object.entries(s.problems)) log(`  ${system}: ${problems.join('; ')}`);
        writer.write({
          ...s,
          workers: options.workers,
          rounds: options.rounds,
          warmup: o.row.warmup,
          systems: o.row.systems,
          durationMs: o.ms,
          raw: o.results,
          command: rerunCommand(options, s.mode, s.payload),
          processes: Object.fromEntries(o.row.systems.map((sys) => [sys, masterCommand(sys, options.workers)])),
        });
      },
      log,
    );
    log(`cluster rows done in ${((Date.now() - clusterStart) / 1000).toFixed(1)} s`);
  }

  const toolRows: ToolRow[] = [];
  const wantGen = options.modes.includes('gen');
  const wantTsc = options.modes.includes('tsc');
  if (wantGen || wantTsc) {
    const toolStart = Date.now();
    const ws = createWorkspace();
    const repeats = options.quick ? 1 : 3;
    try {
      const record = (rs: ToolRow[]): void => {
        for (const r of rs) {
          toolRows.push(r);
          writer.write({ ...r, workspace: ws.dir, command: r.command, rerun: rerunCommand(options, r.mode) });
        }
      };
      if (wantGen) record(await benchGen(ws, repeats, log));
      if (wantTsc) record(await benchTsc(ws, Math.max(2, repeats), log));
    } finally {
      ws.remove();
    }
    log(`tooling done in ${((Date.now() - toolStart) / 1000).toFixed(1)} s`);
  }

  const durationMs = Date.now() - startedAt.getTime();
  if (outcomes.length > 0) {
    process.stdout.write(
      `\nCluster (medians over ${options.rounds} rounds; ratios are per-round system/relay medians: ` +
        `throughput >1x = faster, latency >1x = slower; rich: relay and think cannot carry it)\n`,
    );
    process.stdout.write(`${formatClusterTable(outcomes.map((o) => o.summary))}\n`);
    const problems = outcomes.flatMap((o) =>
      Object.entries(o.summary.problems).map(
        ([s, p]) => `  ${o.summary.mode}/${o.summary.payload} ${s}: ${p.join('; ')}`,
      ),
    );
    if (problems.length > 0) process.stdout.write(`Problems:\n${problems.join('\n')}\n`);
  }
  if (toolRows.length > 0) process.stdout.write(`\nTooling (wall time, ms)\n${formatToolTable(toolRows)}\n`);
  process.stdout.write(`\nTotal ${(durationMs / 1000).toFixed(1)} s; results in ${path.relative(REPO, writer.file)}\n`);
  writer.write({ kind: 'done', durationMs });
}

let options: Options | 'help';
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(USAGE);
} else {
  try {
    await main(options);
  } finally {
    killAll();
  }
}
