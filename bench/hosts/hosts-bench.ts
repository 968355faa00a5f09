/**
 * The hosts section: the bus across machines, on this machine, against the NATS client used
 * directly; both through the benchmark's own nats-server.
 *
 * - `clusterbus-nats`: two hosts, `bench-a` and `bench-b`, each a master
 *   (bench/cluster/master.ts `clusterbus-nats 2`, in its own process group) with 2 workers; the
 *   masters configure the bus for NATS (`configureBus({ host, nats })`, `busReady()`). The
 *   sender is worker 1 of `bench-a`; a map gets 4 answers (2 from `bench-b`), a broadcast is
 *   counted by all 4 workers, consume goes round-robin over all 4.
 * - `raw-nats`: a sender process and 4 responder processes (bench/hosts/raw-nats.ts), each with
 *   its own connection.
 *
 * A measurement spans several processes, so the driver runs its steps itself: arm every
 * process, `go` to the sender, then poll every process's counts (as bench/cluster/master.ts
 * does for its workers). Warm-up, rounds with the order rotated, medians and per-round ratios
 * are those of the cluster rows.
 */
import { fileURLToPath } from 'node:url';
import type { Options } from '../args.js';
import { HOST_WORKERS, HOSTS, RAW_BROADCAST_SUBSCRIBERS, rotation, type HostRow } from '../modes.js';
import type { CtlAnswer, HostSystemName, MeasureResult, MeasureSpec } from '../protocol.js';
import { HOST_RATIOS, summarizeRow, type ClusterRowSummary } from '../report.js';
import { median } from '../stats.js';
import { NodeHandle } from './node.js';

const MASTER = fileURLToPath(new URL('../cluster/master.ts', import.meta.url));
const RAW = fileURLToPath(new URL('./raw-nats.ts', import.meta.url));
/** The NATS namespace of the two hosts (`clusterbus+nats` uses its own). */
export const HOSTS_NAMESPACE = 'bench-hosts';
const RAW_PREFIX = 'bench.raw';
const MAX_RESTARTS = 2;
const DRAIN_TIMEOUT_MS = 60_000;
const POLL_MS = 10;
const STEP_TIMEOUT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One system of the section: its processes, and who sends. */
interface Topology {
  readonly name: HostSystemName;
  readonly nodes: NodeHandle[];
  readonly sender: NodeHandle;
  /** Answers a map call gets. */
  readonly workers: number;
  /** Deliveries of one broadcast. */
  readonly broadcastTo: number;
}

export interface HostRowOutcome {
  readonly row: HostRow;
  readonly summary: ClusterRowSummary;
  readonly results: Partial<Record<HostSystemName, MeasureResult>>[];
  readonly ms: number;
}

/** Host-death detection: `bench-b` SIGKILLed (its process group) during a map loop on `bench-a`. */
export interface DeathOutcome {
  readonly kind: 'host-death';
  /** From the SIGKILL to the `mapSettled` that reported `bench-b`'s workers failed, per repeat, ms. */
  readonly samplesMs: number[];
  readonly p50Ms: number | undefined;
  readonly maxMs: number | undefined;
  /** The bus's threshold: `nats.deadAfterMs` (default), checked every 250 ms. */
  readonly deadAfterMs: number;
  /** The failed outcomes of the first detecting call, and its first error message. */
  readonly failed: string[];
  readonly errorMessage: string | undefined;
  /** Each repeat: the maps run until detection, the failed outcomes, and the workers that answered first. */
  readonly repeats: { ms: number; calls: number; failed: string[]; answered: string[] }[];
  readonly problems: string[];
  readonly ms: number;
}

/** The processes of each system, for the JSON lines. */
export function hostProcesses(url: string): Record<HostSystemName, string[]> {
  const node = ['node', '--import', 'tsx'];
  return {
    'clusterbus-nats': HOSTS.map(
      (h) =>
        `BENCH_NATS_URL=${url} BENCH_NATS_HOST=${h} BENCH_NATS_NAMESPACE=${HOSTS_NAMESPACE} ` +
        `${node.join(' ')} bench/cluster/master.ts clusterbus-nats ${HOST_WORKERS}`,
    ),
    'raw-nats': [
      `BENCH_NATS_URL=${url} ${node.join(' ')} bench/hosts/raw-nats.ts sender 0`,
      ...Array.from(
        { length: HOSTS.length * HOST_WORKERS },
        (_, i) => `BENCH_NATS_URL=${url} ${node.join(' ')} bench/hosts/raw-nats.ts responder ${i + 1}`,
      ),
    ],
  };
}

function hostNode(host: string, url: string): NodeHandle {
  return new NodeHandle({
    label: host,
    script: MASTER,
    args: ['clusterbus-nats', String(HOST_WORKERS)],
    env: { BENCH_NATS_URL: url, BENCH_NATS_HOST: host, BENCH_NATS_NAMESPACE: HOSTS_NAMESPACE },
    group: true,
  });
}

/** Waits until every host's router has every worker of every host ready. */
async function waitMesh(hosts: readonly NodeHandle[], total: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const seen = await Promise.all(hosts.map((h) => h.ctl({ op: 'peers' }, STEP_TIMEOUT_MS)));
    const ready = seen.map((a) => (a.op === 'peers' ? a.ready : 0));
    if (ready.every((n) => n >= total)) return;
    if (Date.now() > until) {
      throw new Error(`hosts did not see every worker within ${timeoutMs} ms (ready per host: ${ready.join(', ')})`);
    }
    await sleep(50);
  }
}

async function startTopology(name: HostSystemName, url: string): Promise<Topology> {
  const total = HOSTS.length * HOST_WORKERS;
  const nodes =
    name === 'clusterbus-nats'
      ? HOSTS.map((h) => hostNode(h, url))
      : [
          new NodeHandle({
            label: 'raw sender',
            script: RAW,
            args: ['sender', '0'],
            env: { BENCH_NATS_URL: url, BENCH_RAW_PREFIX: RAW_PREFIX },
            group: false,
          }),
          ...Array.from(
            { length: total },
            (_, i) =>
              new NodeHandle({
                label: `raw responder ${i + 1}`,
                script: RAW,
                args: ['responder', String(i + 1)],
                env: { BENCH_NATS_URL: url, BENCH_RAW_PREFIX: RAW_PREFIX },
                group: false,
              }),
          ),
        ];
  try {
    await Promise.all(nodes.map((n) => n.ready));
    if (name === 'clusterbus-nats') await waitMesh(nodes, total);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return {
    name,
    nodes,
    sender: nodes[0] as NodeHandle,
    workers: total,
    broadcastTo: name === 'clusterbus-nats' ? total : RAW_BROADCAST_SUBSCRIBERS,
  };
}

function failed(error: string): MeasureResult {
  return { ok: false, error, elapsedNs: 0, delivered: 0, expected: 0, errors: 0, bad: 0 };
}

async function pollAll(topo: Topology): Promise<{ count: number; last: bigint; bad: number }> {
  const answers = await Promise.all(topo.nodes.map((n) => n.ctl({ op: 'poll' }, STEP_TIMEOUT_MS)));
  let count = 0;
  let last = 0n;
  let bad = 0;
  for (const a of answers) {
    if (a.op !== 'count') continue;
    count += a.count;
    bad += a.bad;
    if (BigInt(a.last) > last) last = BigInt(a.last);
  }
  return { count, last, bad };
}

/** One measurement across the system's processes; a failure is a failed result, never a throw. */
async function measure(topo: Topology, spec: MeasureSpec, timeoutMs: number): Promise<MeasureResult> {
  try {
    await Promise.all(topo.nodes.map((n) => n.ctl({ op: 'arm' }, STEP_TIMEOUT_MS)));
    const answer: CtlAnswer = await topo.sender.ctl({ op: 'go', spec, workers: topo.workers }, timeoutMs);
    if (answer.op !== 'sent') return failed(`unexpected answer '${answer.op}' to go`);
    const sent = answer;
    const t0 = BigInt(sent.t0);
    const base = { errors: sent.errors, ...(sent.firstError !== undefined ? { firstError: sent.firstError } : {}) };
    if (spec.mode === 'broadcast' || spec.mode === 'consume') {
      // Every delivery counted: broadcasts by each receiver, tasks by the one that ran it.
      const expected = spec.mode === 'broadcast' ? spec.count * topo.broadcastTo : spec.count;
      const until = Date.now() + DRAIN_TIMEOUT_MS;
      for (;;) {
        const counts = await pollAll(topo);
        if (counts.count >= expected || Date.now() > until) {
          const complete = counts.count === expected;
          // consume keeps 64 calls in flight: the window ends at the last completion (after every delivery).
          const end = spec.mode === 'broadcast' ? counts.last : BigInt(sent.t1);
          return {
            ok: complete && sent.errors === 0,
            ...(complete ? {} : { error: `receivers counted ${counts.count} of ${expected} deliveries` }),
            elapsedNs: Number(end - t0),
            delivered: counts.count,
            expected,
            bad: counts.bad + sent.bad,
            ...base,
          };
        }
        await sleep(POLL_MS);
      }
    }
    const counts = await pollAll(topo);
    return {
      ok: sent.errors === 0,
      elapsedNs: Number(BigInt(sent.t1) - t0),
      delivered: sent.completed,
      expected: spec.count,
      bad: sent.bad + counts.bad,
      ...base,
      ...(sent.latency ? { latency: sent.latency } : {}),
    };
  } catch (err) {
    return failed(message(err));
  }
}

/**
 * Runs the hosts rows, then (if asked) host-death detection. Every process is stopped when it
 * ends, and killed by the driver's cleanup if it is interrupted.
 */
export async function runHostsSection(
  options: Options,
  rows: readonly HostRow[],
  death: boolean,
  url: string,
  onRow: (outcome: HostRowOutcome) => void,
  log: (line: string) => void,
): Promise<{ outcomes: HostRowOutcome[]; death: DeathOutcome | undefined }> {
  const needed = [
    ...new Set<HostSystemName>([...rows.flatMap((r) => r.systems), ...(death ? ['clusterbus-nats' as const] : [])]),
  ];
  const running = new Map<HostSystemName, Topology>();
  const broken = new Map<HostSystemName, string>();
  const restarts = new Map<HostSystemName, number>();
  const timeoutMs = options.quick ? 30_000 : 60_000;

  const start = async (s: HostSystemName): Promise<void> => {
    const began = Date.now();
    try {
      const topo = await startTopology(s, url);
      running.set(s, topo);
      log(`${s}: up in ${Date.now() - began} ms, pids ${topo.nodes.map((n) => n.pid ?? '?').join(', ')}`);
    } catch (err) {
      broken.set(s, message(err));
      log(`${s}: failed to start: ${message(err)}`);
    }
  };
  const stopSystem = async (s: HostSystemName): Promise<void> => {
    const topo = running.get(s);
    running.delete(s);
    if (topo) await Promise.all(topo.nodes.map((n) => n.stop()));
  };

  const run = async (s: HostSystemName, spec: MeasureSpec): Promise<MeasureResult> => {
    const topo = running.get(s);
    if (!topo) return failed(`not running: ${broken.get(s) ?? 'never started'}`);
    const result = await measure(topo, spec, timeoutMs);
    if (!result.ok && (topo.nodes.some((n) => !n.alive) || /no answer|exited/.test(result.error ?? ''))) {
      // Dead or stuck: replace every process of the system so the next measurements start clean.
      await stopSystem(s);
      const n = (restarts.get(s) ?? 0) + 1;
      restarts.set(s, n);
      if (n > MAX_RESTARTS) broken.set(s, `gave up after ${MAX_RESTARTS} restarts (last: ${result.error ?? '?'})`);
      else {
        log(`${s}: restarting after: ${result.error ?? 'exit'}`);
        await start(s);
      }
    }
    return result;
  };

  const outcomes: HostRowOutcome[] = [];
  let deathOutcome: DeathOutcome | undefined;
  try {
    const t0 = Date.now();
    // One system at a time: their starts would otherwise compete for the 2 cores.
    for (const s of needed) await start(s);
    log(`hosts section up in ${Date.now() - t0} ms`);

    for (const row of rows) {
      const began = Date.now();
      for (const s of row.systems) {
        const warm = await run(s, { ...row.spec, count: row.warmup });
        if (!warm.ok)
          log(`${s}: warm-up of ${row.spec.mode}/${row.spec.payload} failed: ${warm.error ?? warm.firstError ?? ''}`);
        await sleep(20);
      }
      const results: Partial<Record<HostSystemName, MeasureResult>>[] = [];
      for (let r = 0; r < options.rounds; r++) {
        const round: Partial<Record<HostSystemName, MeasureResult>> = {};
        for (const s of rotation(row.systems, r)) {
          round[s] = await run(s, row.spec);
          await sleep(20);
        }
        results.push(round);
      }
      const outcome: HostRowOutcome = {
        row,
        summary: summarizeRow(row.spec, row.systems, results, HOST_RATIOS, 'hosts'),
        results,
        ms: Date.now() - began,
      };
      outcomes.push(outcome);
      onRow(outcome);
    }

    if (death) {
      // Alone on the machine: the raw processes would only add noise.
      await stopSystem('raw-nats');
      deathOutcome = await hostDeath(running.get('clusterbus-nats'), url, options.quick ? 2 : 5, log, broken);
    }
  } finally {
    await Promise.all([...running.keys()].map((s) => stopSystem(s)));
  }
  return { outcomes, death: deathOutcome };
}

/** The default `nats.deadAfterMs`, which the hosts run with. */
const DEAD_AFTER_MS = 3000;

async function hostDeath(
  topo: Topology | undefined,
  url: string,
  repeats: number,
  log: (line: string) => void,
  broken: ReadonlyMap<HostSystemName, string>,
): Promise<DeathOutcome> {
  const began = Date.now();
  const samples: number[] = [];
  const details: DeathOutcome['repeats'] = [];
  const problems: string[] = [];
  let failedOutcomes: string[] = [];
  let errorMessage: string | undefined;
  if (!topo) problems.push(`clusterbus-nats is not running: ${broken.get('clusterbus-nats') ?? '?'}`);
  const nodes = topo?.nodes;
  for (let i = 0; nodes && i < repeats; i++) {
    const [a, b] = nodes;
    if (!a || !b) break;
    const watch = a.ctl({ op: 'death-watch', host: HOSTS[1], timeoutMs: 20_000 }, 30_000);
    watch.catch(() => undefined);
    await sleep(300);
    const killedAt = process.hrtime.bigint();
    b.killGroup();
    try {
      const d = await watch;
      if (d.op !== 'death') throw new Error(`unexpected answer '${d.op}'`);
      const ms = Number(BigInt(d.detectedAt) - killedAt) / 1e6;
      samples.push(ms);
      details.push({ ms, calls: d.calls, failed: d.failed, answered: d.answered });
      // Detected: at least one of its workers failed, the others answered before the kill.
      if (d.failed.length === 0 || d.failed.length + d.answered.length !== HOST_WORKERS) {
        problems.push(
          `repeat ${i + 1}: failed ${d.failed.join(', ') || 'none'}; answered ${d.answered.join(', ') || 'none'}`,
        );
      }
      if (i === 0) {
        failedOutcomes = d.failed;
        errorMessage = d.message;
      }
      const after = await a.ctl({ op: 'peers' }, STEP_TIMEOUT_MS);
      const still = after.op === 'peers' && after.hosts.includes(HOSTS[1]);
      log(
        `host death ${i + 1}/${repeats}: ${HOSTS[1]}'s workers reported failed after ${ms.toFixed(0)} ms ` +
          `(${d.calls} maps; ${d.failed.join(', ')}${d.answered.length > 0 ? `; answered before the kill: ${d.answered.join(', ')}` : ''})` +
          `${still ? `; ${HOSTS[0]} still lists ${HOSTS[1]}` : ''}`,
      );
      if (still) problems.push(`repeat ${i + 1}: ${HOSTS[0]} still lists ${HOSTS[1]} after the failure`);
    } catch (err) {
      problems.push(`repeat ${i + 1}: ${message(err)}`);
      log(`host death ${i + 1}/${repeats}: ${message(err)}`);
    }
    await b.exited;
    if (i === repeats - 1) break;
    // A new bench-b (a new incarnation under the same name), then both see all 4 workers again.
    const fresh = hostNode(HOSTS[1], url);
    nodes[1] = fresh;
    try {
      await fresh.ready;
      await waitMesh([a, fresh], HOSTS.length * HOST_WORKERS);
    } catch (err) {
      problems.push(`restarting ${HOSTS[1]}: ${message(err)}`);
      break;
    }
  }
  const sorted = [...samples].sort((x, y) => x - y);
  return {
    kind: 'host-death',
    samplesMs: samples,
    p50Ms: median(samples),
    maxMs: sorted[sorted.length - 1],
    deadAfterMs: DEAD_AFTER_MS,
    failed: failedOutcomes,
    errorMessage,
    repeats: details,
    problems,
    ms: Date.now() - began,
  };
}
