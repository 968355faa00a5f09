/**
 * The cluster rows: one long-lived cluster per system, idle when not measured; for each row
 * an unmeasured warm-up per system, then `rounds` rounds with the system order rotated each
 * round.
 */
import type { Options } from './args.js';
import { ClusterHandle } from './driver.js';
import type { Row } from './modes.js';
import { rotation } from './modes.js';
import type { MeasureResult, SystemName } from './protocol.js';
import { summarizeRow, type ClusterRowSummary } from './report.js';

/** Restarts of one system's cluster after it died or hung, before it is given up on. */
const MAX_RESTARTS = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RowOutcome {
  readonly row: Row;
  readonly summary: ClusterRowSummary;
  readonly results: Partial<Record<SystemName, MeasureResult>>[];
  readonly ms: number;
}

export async function runClusterRows(
  options: Options,
  rows: readonly Row[],
  onRow: (outcome: RowOutcome) => void,
  log: (line: string) => void,
  /** More environment for a system's master (`clusterbus+nats`: its NATS server). */
  envFor: (system: SystemName) => Readonly<Record<string, string>> = () => ({}),
): Promise<RowOutcome[]> {
  const needed = [...new Set(rows.flatMap((r) => r.systems))];
  const clusters = new Map<SystemName, ClusterHandle>();
  const restarts = new Map<SystemName, number>();
  const broken = new Map<SystemName, string>();
  const timeoutMs = options.quick ? 30_000 : 60_000;

  const start = async (s: SystemName): Promise<void> => {
    const handle = new ClusterHandle(s, options.workers, envFor(s));
    clusters.set(s, handle);
    try {
      const pids = await handle.ready;
      log(`${s}: master pid ${handle.pid ?? '?'}, workers ${pids.join(', ')}`);
    } catch (err) {
      broken.set(s, err instanceof Error ? err.message : String(err));
      handle.kill();
      log(`${s}: failed to start: ${broken.get(s) ?? ''}`);
    }
  };

  const measure = async (s: SystemName, spec: Row['spec']): Promise<MeasureResult> => {
    const handle = clusters.get(s);
    const why = broken.get(s);
    if (!handle || why !== undefined) {
      return {
        ok: false,
        error: `not running: ${why ?? 'never started'}`,
        elapsedNs: 0,
        delivered: 0,
        expected: 0,
        errors: 0,
        bad: 0,
      };
    }
    const result = await handle.measure(spec, timeoutMs);
    if (!handle.alive || (!result.ok && result.error?.startsWith('no result'))) {
      // Dead or stuck: replace the cluster so the next measurements start clean.
      handle.kill();
      const n = (restarts.get(s) ?? 0) + 1;
      restarts.set(s, n);
      if (n > MAX_RESTARTS) broken.set(s, `gave up after ${MAX_RESTARTS} restarts (last: ${result.error ?? '?'})`);
      else {
        log(`${s}: restarting its cluster after: ${result.error ?? 'exit'}`);
        await start(s);
      }
    }
    return result;
  };

  const t0 = Date.now();
  await Promise.all(needed.map((s) => start(s)));
  log(`clusters up in ${Date.now() - t0} ms`);

  const outcomes: RowOutcome[] = [];
  try {
    for (const row of rows) {
      const began = Date.now();
      for (const s of row.systems) {
        const warm = await measure(s, { ...row.spec, count: row.warmup });
        if (!warm.ok)
          log(`${s}: warm-up of ${row.spec.mode}/${row.spec.payload} failed: ${warm.error ?? warm.firstError ?? ''}`);
        await sleep(20);
      }
      const results: Partial<Record<SystemName, MeasureResult>>[] = [];
      for (let r = 0; r < options.rounds; r++) {
        const round: Partial<Record<SystemName, MeasureResult>> = {};
        for (const s of rotation(row.systems, r)) {
          round[s] = await measure(s, row.spec);
          await sleep(20);
        }
        results.push(round);
      }
      const outcome: RowOutcome = {
        row,
        summary: summarizeRow(row.spec, row.systems, results),
        results,
        ms: Date.now() - began,
      };
      outcomes.push(outcome);
      onRow(outcome);
    }
  } finally {
    await Promise.all([...clusters.values()].map((c) => c.stop()));
  }
  return outcomes;
}
