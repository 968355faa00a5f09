// Reading the fixture workers' records (see test/fixtures/cluster/worker.ts).
import { messenger } from '../fixtures/cluster/messenger.js';
import { sleep } from './cluster.js';

export type WorkerLog = Awaited<ReturnType<typeof logs>>[number];

/** Every ready worker's record and endpoint counters, in worker-id order; `clear` empties the records. */
export function logs(clear = false) {
  return messenger.map('test.log', { clear });
}

/** Polls the workers' records until `check` holds for them (or `timeoutMs` passed), and returns the last read. */
export async function logsUntil(check: (logs: WorkerLog[]) => boolean, timeoutMs = 5000): Promise<WorkerLog[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const seen = await logs();
    if (check(seen) || Date.now() > until) return seen;
    await sleep(25);
  }
}

/** The entries of every worker that start with `prefix`. */
export function entriesStarting(seen: WorkerLog[], prefix: string): string[] {
  return seen.flatMap((l) => l.entries.filter((e) => e.startsWith(prefix)));
}
