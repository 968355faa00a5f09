// Forks real cluster workers from the test process (the master) and makes sure none outlives the test file.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { busPipeSettings, busStats } from 'clusterbus';

const workerScript = fileURLToPath(new URL('../fixtures/cluster/worker.ts', import.meta.url));

let configured = false;
let pipe = false;

/** Forks the workers of this test file with a bus pipe (as `startCluster` does); call before forking. */
export function useBusPipe(): void {
  if (configured) throw new Error('useBusPipe() must come before the first fork');
  pipe = true;
}

/** Forks `n` fixture workers and waits until each has joined the bus. */
export async function startWorkers(n: number, env: Record<string, string> = {}): Promise<Worker[]> {
  const workers = forkWorkers(n, env);
  await waitFor(() => workers.every((w) => isJoined(w.id)), 20_000, `${n} workers to join`);
  return workers;
}

/** Forks workers without waiting for them. */
export function forkWorkers(n: number, env: Record<string, string> = {}): Worker[] {
  if (!configured) {
    // Workers inherit the test process's --import=tsx and export conditions.
    cluster.setupPrimary({ exec: workerScript, silent: false, ...(pipe ? { stdio: busPipeSettings().stdio } : {}) });
    configured = true;
  }
  const pipeEnv = pipe ? busPipeSettings().env : {};
  return Array.from({ length: n }, () => cluster.fork({ NODE_ENV: 'test', ...pipeEnv, ...env }));
}

export function isJoined(id: number): boolean {
  return busStats().broker?.peers.some((p) => p.id === id && p.state === 'ready' && p.handlers.length > 0) ?? false;
}

/** Kills every worker of this process and waits until all have exited. */
export async function stopAllWorkers(): Promise<void> {
  const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  await Promise.all(alive.map((w) => killAndWait(w)));
}

/** SIGKILLs a worker and resolves once it has exited. */
export function killAndWait(worker: Worker, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (worker.isDead()) return resolve();
    worker.once('exit', () => resolve());
    worker.process.kill(signal);
  });
}

/** Polls `check` until it holds. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until the broker and the master's endpoint hold nothing pending. */
export async function waitForQuiet(timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () => {
      const s = busStats();
      return s.endpoint.pendingCalls === 0 && s.broker?.pendingRequests === 0 && s.broker.pendingDeliveries === 0;
    },
    timeoutMs,
    'the bus to hold no pending entries',
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How many replies the broker is waiting for from worker `id`. */
export function owedBy(id: number): number {
  return busStats().broker?.peers.find((p) => p.id === id)?.owed ?? 0;
}

/** The ids of the workers the broker is waiting on, in id order. */
export function owingPeers(): number[] {
  return (busStats().broker?.peers ?? []).filter((p) => p.owed > 0).map((p) => p.id);
}

/** Resolves once `promise` settled, with how long that took from `since` (ms) and its outcome. */
export async function settleTime<T>(
  promise: Promise<T>,
  since = Date.now(),
): Promise<{ ms: number; value?: T; error?: unknown }> {
  try {
    const value = await promise;
    return { ms: Date.now() - since, value };
  } catch (error) {
    return { ms: Date.now() - since, error };
  }
}
