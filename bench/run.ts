/**
 * `npm run bench`: relay, think, superjson-relay, clusterbus and clusterbus+nats side by side
 * on this machine, then the hosts section (two hosts of clusterbus over NATS against the NATS
 * client used directly), then the tooling (`clusterbus gen`, `tsc`). See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import superjson from 'superjson';
import { parseArgs, rerunCommand, USAGE, UsageError, type Mode, type Options } from './args.js';
import { killAll } from './cleanup.js';
import { runClusterRows, type RowOutcome } from './cluster-bench.js';
import { NODE_FLAGS, REPO } from './driver.js';
import {
  hostProcesses,
  HOSTS_NAMESPACE,
  runHostsSection,
  type DeathOutcome,
  type HostRowOutcome,
} from './hosts/hosts-bench.js';
import { startNatsServer, type BenchNats } from './hosts/nats-server.js';
import { HOST_WORKERS, HOSTS, planHostRows, planRows, wantsHostMode } from './modes.js';
import { makeBody } from './payloads.js';
import { HOST_SYSTEMS, PAYLOADS, SYSTEMS, type SystemName } from './protocol.js';
import {
  checkTargets,
  formatClusterTable,
  formatHostsTable,
  formatTargets,
  formatToolTable,
  JsonlWriter,
  type ClusterRowSummary,
  type ToolRow,
} from './report.js';
import { formatMillis } from './stats.js';
import { benchGen } from './tooling/gen.js';
import { benchTsc } from './tooling/tsc.js';
import { createWorkspace } from './tooling/workspace.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)}s] ${line}\n`);
};
const startedAt = new Date();

function masterCommand(system: SystemName, workers: number, nats: BenchNats | undefined): string {
  const env = system === 'clusterbus+nats' ? `${envText(soloEnv(nats))} ` : '';
  return `${env}${['node', ...NODE_FLAGS, 'bench/cluster/master.ts', system, String(workers)].join(' ')}`;
}

/** `clusterbus+nats`: one host, alone in its namespace. */
function soloEnv(nats: BenchNats | undefined): Record<string, string> {
  return { BENCH_NATS_URL: nats?.url ?? '', BENCH_NATS_HOST: 'bench-solo', BENCH_NATS_NAMESPACE: 'bench-solo' };
}

function envText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function printProblems(rows: readonly ClusterRowSummary[]): void {
  const problems = rows.flatMap((r) =>
    Object.entries(r.problems).map(([s, p]) => `  ${r.mode}/${r.payload} ${s}: ${(p ?? []).join('; ')}`),
  );
  if (problems.length > 0) process.stdout.write(`Problems:\n${problems.join('\n')}\n`);
}

function rowLine(s: ClusterRowSummary): string {
  return s.metrics
    .map(
      (m) =>
        `${m.name} ${Object.entries(m.medians)
          .map(([k, v]) => `${k}=${(v ?? 0).toFixed(0)}`)
          .join(' ')}`,
    )
    .join('; ');
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

  let rows = planRows(options);
  const hostRows = planHostRows(options);
  const wantDeath = wantsHostMode(options, 'host-death') && options.systems.includes('clusterbus-nats');
  const natsProblems: string[] = [];
  let nats: BenchNats | undefined;
  if (hostRows.length > 0 || wantDeath || rows.some((r) => r.systems.includes('clusterbus+nats'))) {
    try {
      nats = await startNatsServer();
      log(`nats-server pid ${nats.pid} at ${nats.url}`);
      writer.write({ kind: 'nats-server', url: nats.url, pid: nats.pid, command: nats.command });
    } catch (err) {
      natsProblems.push(err instanceof Error ? err.message : String(err));
      log(`no NATS rows: ${natsProblems[0] ?? ''}`);
      rows = rows
        .map((r) => ({ ...r, systems: r.systems.filter((sys) => sys !== 'clusterbus+nats') }))
        .filter((r) => r.systems.length > 0);
    }
  }
  const natsUrl = nats?.url;

  let outcomes: RowOutcome[] = [];
  let hostOutcomes: HostRowOutcome[] = [];
  let death: DeathOutcome | undefined;
  try {
    if (rows.length > 0) {
      const clusterStart = Date.now();
      const clusterSystems = options.systems.filter((sys): sys is SystemName =>
        (SYSTEMS as readonly string[]).includes(sys),
      );
      outcomes = await runClusterRows(
        options,
        rows,
        (o) => {
          const s = o.summary;
          log(`${s.mode}/${s.payload} (${s.count}) in ${(o.ms / 1000).toFixed(1)} s: ${rowLine(s)}`);
          for (const [system, problems] of Object.entries(s.problems))
            log(`  ${system}: ${(problems ?? []).join('; ')}`);
          writer.write({
            ...s,
            workers: options.workers,
            rounds: options.rounds,
            warmup: o.row.warmup,
            systems: o.row.systems,
            durationMs: o.ms,
            raw: o.results,
            command: rerunCommand(options, s.mode as Mode, s.payload, clusterSystems),
            processes: Object.fromEntries(o.row.systems.map((sys) => [sys, masterCommand(sys, options.workers, nats)])),
          });
        },
        log,
        (sys) => (sys === 'clusterbus+nats' ? soloEnv(nats) : {}),
      );
      log(`cluster rows done in ${((Date.now() - clusterStart) / 1000).toFixed(1)} s`);
    }

    if (natsUrl !== undefined && (hostRows.length > 0 || wantDeath)) {
      const hostsStart = Date.now();
      const processes = hostProcesses(natsUrl);
      const selected = options.systems.filter((sys) => (HOST_SYSTEMS as readonly string[]).includes(sys));
      const section = await runHostsSection(
        options,
        hostRows,
        wantDeath,
        natsUrl,
        (o) => {
          const s = o.summary;
          log(`hosts ${s.mode}/${s.payload} (${s.count}) in ${(o.ms / 1000).toFixed(1)} s: ${rowLine(s)}`);
          for (const [system, problems] of Object.entries(s.problems))
            log(`  ${system}: ${(problems ?? []).join('; ')}`);
          writer.write({
            ...s,
            hosts: HOSTS,
            workersPerHost: HOST_WORKERS,
            rounds: options.rounds,
            warmup: o.row.warmup,
            systems: o.row.systems,
            durationMs: o.ms,
            raw: o.results,
            command: rerunCommand(options, s.mode as Mode, s.payload, selected),
            processes: Object.fromEntries(o.row.systems.map((sys) => [sys, processes[sys]])),
            natsServer: nats?.command,
          });
        },
        log,
      );
      hostOutcomes = section.outcomes;
      death = section.death;
      if (death) {
        writer.write({
          ...death,
          command: rerunCommand(options, 'host-death', undefined, ['clusterbus-nats']),
          processes: processes['clusterbus-nats'],
          namespace: HOSTS_NAMESPACE,
        });
      }
      log(`hosts section done in ${((Date.now() - hostsStart) / 1000).toFixed(1)} s`);
    }
  } finally {
    await nats?.stop();
  }

  const toolRows: ToolRow[] = [];
  const wantGen = options.modes.includes('gen');
  const wantTsc = options.modes.includes('tsc');
  if (wantGen || wantTsc) {
    const toolStart = Date.now();
    const ws = createWorkspace();
    // An explicit --rounds applies to the tooling too: its medians need more repeats on a noisy machine.
    const repeats = options.given.rounds ?? (options.quick ? 1 : 3);
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
        `throughput >1x = faster, latency >1x = slower; rich: relay and think cannot carry it; ` +
        `cb+nats: clusterbus with NATS configured, one host)\n`,
    );
    process.stdout.write(`${formatClusterTable(outcomes.map((o) => o.summary))}\n`);
    printProblems(outcomes.map((o) => o.summary));
  }
  if (hostOutcomes.length > 0) {
    process.stdout.write(
      `\nHosts (${HOSTS.length} hosts x ${HOST_WORKERS} workers over one local nats-server, sender = worker 1 of ` +
        `${HOSTS[0]}; raw-nats: 1 sender + ${HOSTS.length * HOST_WORKERS} responder processes; medians over ` +
        `${options.rounds} rounds; cb-nats/raw = per-round ratio; consume and map: 64 in flight)\n`,
    );
    process.stdout.write(`${formatHostsTable(hostOutcomes.map((o) => o.summary))}\n`);
    printProblems(hostOutcomes.map((o) => o.summary));
  }
  if (death) {
    process.stdout.write(
      `\nHost death (${HOSTS[1]}'s process group SIGKILLed during a map loop on ${HOSTS[0]}; until its ` +
        `mapSettled reports ${HOSTS[1]}'s workers failed; deadAfterMs ${death.deadAfterMs}): ` +
        `p50 ${formatMillis(death.p50Ms)}, max ${formatMillis(death.maxMs)} over ${death.samplesMs.length} ` +
        `(${death.samplesMs.map((v) => v.toFixed(0)).join(', ')} ms)` +
        `${death.failed.length > 0 ? `; ${death.failed.join(', ')}: ${death.errorMessage ?? ''}` : ''}\n`,
    );
    if (death.problems.length > 0) process.stdout.write(`Problems:\n  ${death.problems.join('\n  ')}\n`);
  }
  const targets = checkTargets(
    outcomes.map((o) => o.summary),
    hostOutcomes.map((o) => o.summary),
  );
  if (targets.length > 0) {
    process.stdout.write(`\nTargets (per-round median ratios)\n${formatTargets(targets)}\n`);
    writer.write({ kind: 'targets', checks: targets });
  }
  if (natsProblems.length > 0) process.stdout.write(`\nNo NATS rows: ${natsProblems.join('; ')}\n`);
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
