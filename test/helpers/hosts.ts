// "Hosts" for the cross-machine tests: each a master process (test/fixtures/hosts/host.ts) in
// its own process group, with its own workers, joined to the others over NATS. Every host a
// test starts is killed with its whole group when the test ends, even when it fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

const script = fileURLToPath(new URL('../fixtures/hosts/host.ts', import.meta.url));

/** Process groups started by this test process, killed at exit whatever happened. */
const groups = new Set<number>();
process.on('exit', () => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface HostOptions {
  readonly name: string;
  readonly servers: string[];
  readonly workers?: number;
  readonly heartbeatMs?: number;
  readonly deadAfterMs?: number;
  readonly linkWindowBytes?: number;
  /** Log the host's bus to this test's output (stderr). */
  readonly log?: boolean;
  readonly env?: Record<string, string>;
}

export interface FloodResult {
  sent: number;
  failed: number;
  errors: string[];
  ms: number;
  /** With `measure`: the master's largest growth of RSS and of live heap (sampled after a full collection) while it flooded, in bytes; NaN otherwise. */
  peakRssGrowth: number;
  peakHeapGrowth: number;
}

export interface MapLoopResult {
  calls: number;
  failures: string[];
  /** The slowest call, in ms. */
  slowest: number;
  /** How many calls got each number of answers. */
  sizes: Record<string, number>;
}

/** What a host's master answers to `call`. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: Record<string, unknown> };

export interface Host {
  readonly name: string;
  /** The master's pid, which is also its process group. */
  readonly pid: number;
  /** Its workers when it was ready: cluster worker id and pid. */
  readonly workers: { id: number; pid: number }[];
  /** Runs a messenger call in the host's master. */
  call(
    op: 'map' | 'mapSettled' | 'consume' | 'broadcast',
    ev: string,
    payload: unknown,
    opts?: Record<string, unknown>,
  ): Promise<Outcome>;
  /** `control.status()` of the host's master. */
  status(): Promise<Record<string, unknown>>;
  /** Resolves once its master's router knows `count` workers, on any host, ready with handlers. */
  peers(count: number): Promise<number>;
  /** Broadcasts `hosts.note` from the master: texts `<tag><i>`, about `bytes` long. */
  flood(options: {
    count: number;
    tag: string;
    bytes?: number;
    inflight?: number;
    measure?: boolean;
  }): Promise<FloodResult>;
  /** Maps `hosts.who` from the master in a loop for `ms`. */
  mapLoop(ms: number): Promise<MapLoopResult>;
  /** `busStats()` of the master. */
  stats(): Promise<Record<string, unknown>>;
  /** SIGKILLs one of its workers; resolves with the worker's pid. */
  killWorker(worker: number): Promise<number>;
  /** Sends a signal to the whole host (master and workers). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the master exited. */
  readonly exited: Promise<number | null>;
  /** What the host wrote on stderr so far. */
  stderr(): string;
}

/** Starts a host and resolves once its workers are ready and it has joined NATS. */
export async function startHost(t: ExecutionContext, options: HostOptions): Promise<Host> {
  const env: Record<string, string> = {
    ...process.env,
    NODE_ENV: 'test',
    HOST_NAME: options.name,
    NATS_URLS: options.servers.join(','),
    HOST_WORKERS: String(options.workers ?? 2),
    HOST_LOG: options.log ? '1' : '0',
    ...(options.heartbeatMs === undefined ? {} : { HOST_HEARTBEAT_MS: String(options.heartbeatMs) }),
    ...(options.deadAfterMs === undefined ? {} : { HOST_DEAD_AFTER_MS: String(options.deadAfterMs) }),
    ...(options.linkWindowBytes === undefined ? {} : { HOST_LINK_WINDOW: String(options.linkWindowBytes) }),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script], {
    env,
    detached: true,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const pid = child.pid as number;
  groups.add(pid);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (options.log) process.stderr.write(`[${options.name}] ${d.toString()}`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => groups.delete(pid));
  t.teardown(async () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
  });
  const pending = new Map<number, (m: Outcome) => void>();
  let nextId = 1;
  let workers: { id: number; pid: number }[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host ${options.name} not ready in 30 s: ${err}`)), 30_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`host ${options.name} exited (${String(code)}) before it was ready: ${err}`));
    });
    child.on('message', (m: { ready?: boolean; workers?: typeof workers; id?: number } & Outcome) => {
      if (m.ready) {
        clearTimeout(timer);
        workers = m.workers ?? [];
        resolve();
      } else if (typeof m.id === 'number') {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      }
    });
  });
  await ready;
  const ask = (message: Record<string, unknown>): Promise<Outcome> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, resolve);
      void exited.then(() => {
        if (pending.delete(id)) reject(new Error(`host ${options.name} exited`));
      });
      child.send({ ...message, id });
    });
  const value = async (message: Record<string, unknown>): Promise<unknown> => {
    const out = await ask(message);
    if (!out.ok) throw new Error(`host ${options.name}: ${JSON.stringify(out.error)}`);
    return out.value;
  };
  return {
    name: options.name,
    pid,
    workers,
    call: (op, ev, payload, opts) => ask({ cmd: 'call', op, ev, payload, ...(opts ? { opts } : {}) }),
    status: async () => (await value({ cmd: 'status' })) as Record<string, unknown>,
    flood: async (options) => (await value({ cmd: 'flood', ...options })) as FloodResult,
    mapLoop: async (ms) => (await value({ cmd: 'map-loop', ms })) as MapLoopResult,
    stats: async () => (await value({ cmd: 'stats' })) as Record<string, unknown>,
    peers: async (count) => (await value({ cmd: 'peers', worker: count })) as number,
    killWorker: async (worker) => (await value({ cmd: 'kill-worker', worker })) as number,
    signal(signal) {
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    },
    exited,
    stderr: () => err,
  };
}
