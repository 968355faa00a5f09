/**
 * Options of `startCluster`, their defaults, and the handles it gives the master and
 * worker bootstrap hooks.
 */
import os from 'node:os';
import { BadOptionsError } from '../errors.js';
import { stderrLogger, type Logger } from '../logger.js';
import type { BusOptions } from '../core/options.js';
import type { NatsStatus } from '../transports/nats/federation.js';
import type { InFlightReport, WorkerStatus } from './control.js';

export type { InFlightReport, InFlightRequest, WorkerStatus } from './control.js';

/** One worker slot (1..N) as `status()` reports it. */
export interface SlotStatus {
  readonly index: number;
  /** `up`: a ready worker serves it; `starting`: its worker is starting; `backoff`: waiting to fork again after quick deaths. */
  readonly state: 'up' | 'starting' | 'backoff';
  /** Deaths in a row within `minUptimeMs` of starting. */
  readonly quickDeaths: number;
  /** When in backoff, how long until the next fork. */
  readonly nextForkInMs: number | undefined;
  readonly restarts: number;
  readonly lastExitReason: string | undefined;
}

/** What `status()` returns. */
export interface ClusterStatus {
  readonly workers: WorkerStatus[];
  readonly slots: SlotStatus[];
  /** Whether a rolling reload runs now. */
  readonly reloading: boolean;
  /** Every slot has a ready worker. */
  readonly healthy: boolean;
  /**
   * Across machines (bus option `nats`): the connection, and every other host with its
   * workers, their states and the health of the link to it.
   */
  readonly nats?: NatsStatus;
}

/** The master's handle on the cluster, given to the `master` hook and returned by `startCluster`. */
export interface ClusterControl {
  /** Per worker and per slot: state, pid, uptime, restarts, last exit reason. */
  status(): ClusterStatus;
  /**
   * Rolling reload: replaces the workers one at a time, each replacement ready before the
   * old one drains. Calls made while a reload runs are merged into one follow-up reload.
   * Rejects with `ReloadFailedError` if a replacement does not become ready; the old
   * workers then keep serving.
   */
  reload(): Promise<void>;
  /** Resolves the first time every slot has a ready worker. */
  ready(): Promise<void>;
  /**
   * Drains every worker and waits for them; a worker still running shortly before
   * `shutdownTimeoutMs` is asked what it was still doing, which is logged, and killed. Then
   * stops supervising.
   * Resolves with the workers that had to be killed.
   */
  shutdown(): Promise<ShutdownReport>;
}

/** A worker killed because it had not finished draining by its deadline. */
export interface KilledWorker {
  readonly id: number;
  readonly index: number;
  readonly pid: number | undefined;
  /**
   * `shutdownTimeoutMs` (the shutdown's deadline), or `killTimeoutMs` for a worker that was
   * already draining for a reload or a crash replacement when the shutdown began.
   */
  readonly deadline: 'killTimeoutMs' | 'shutdownTimeoutMs';
  /** What it was still doing, or `undefined` if it did not answer in time (a blocked event loop). */
  readonly inFlight: InFlightReport | undefined;
}

/** What `control.shutdown()` resolves with. */
export interface ShutdownReport {
  /** How long the shutdown took, in milliseconds. */
  readonly durationMs: number;
  /** Workers killed since the shutdown began; empty when every worker finished in time. */
  readonly killed: KilledWorker[];
}

/**
 * The master's exit status after a graceful shutdown (`SIGTERM`, `SIGINT`) that had to kill a
 * worker still serving at the deadline, or that passed `shutdownTimeoutMs`.
 */
export const EXIT_WORKERS_KILLED = 124;

/** The worker's handle, given to the `worker` hook. */
export interface WorkerContext {
  /** Cluster worker id. */
  readonly id: number;
  /** Stable slot index 1..N, reused by this worker's replacements. */
  readonly index: number;
  /** Declares this worker ready (for workers without an HTTP server; a listening server counts by itself). */
  ready(): void;
  /** Runs `fn` when this worker is asked to drain, before its servers close. */
  onDrain(fn: () => void | Promise<void>): void;
  /** Asks the master for a rolling reload of every worker; settles when it is done. */
  reloadWorkers(): Promise<void>;
  /** The master's `status()`. */
  status(): Promise<ClusterStatus>;
}

/** Options of `startCluster`. */
export interface ClusterOptions {
  /** Number of workers; `0` means one per CPU (`os.availableParallelism()`). Default: 0. */
  workers?: number;
  /** Master bootstrap: runs in the master before the workers are forked. Raw `cluster` IPC is fine here. */
  master?: (control: ClusterControl) => void | Promise<void>;
  /** Worker bootstrap: runs in each worker (start your HTTP server here). */
  worker: (ctx: WorkerContext) => void | Promise<void>;
  /** A worker not ready this long after its fork counts as a failed start. Default: 30 000 ms. */
  readyTimeoutMs?: number;
  /**
   * A worker draining for a reload or a crash replacement that is still alive this long after
   * it was told to drain is killed (after the master logged which requests it cut). At
   * shutdown, `shutdownTimeoutMs` governs instead. Default: 10 000 ms.
   */
  killTimeoutMs?: number;
  /**
   * How long a draining worker keeps an idle HTTP/1.1 keep-alive connection open for one last
   * request (answered with `Connection: close`) before it closes it; at most half of
   * `killTimeoutMs`. Default: 1 000 ms.
   */
  drainIdleMs?: number;
  /**
   * Quick deaths in a row (within `minUptimeMs` of the fork) of one worker slot after which,
   * if no worker is ready anywhere, the master gives up: it logs why, stops, and exits with
   * code 1 so that systemd, Docker or Kubernetes see the failure. `Infinity` never gives up.
   * Default: 5.
   */
  maxRestarts?: number;
  /** A worker that dies sooner than this after its fork is in a crash loop: re-forked with backoff. Default: 5 000 ms. */
  minUptimeMs?: number;
  /** First backoff delay of a crash loop. Default: 100 ms. */
  backoffInitialMs?: number;
  /** Longest backoff delay of a crash loop. Default: 30 000 ms. */
  backoffMaxMs?: number;
  /** Most forks in any one second. Default: the larger of 10 and the worker count. */
  maxForksPerSecond?: number;
  /** Signal that triggers a rolling reload, or `false`. Default: `'SIGUSR2'`. */
  reloadSignal?: NodeJS.Signals | false;
  /**
   * Shut down gracefully on SIGTERM and SIGINT, then exit: 0 when every worker finished in
   * time, 124 (`EXIT_WORKERS_KILLED`) when one had to be killed. Default: true.
   */
  handleSignals?: boolean;
  /**
   * Deadline of a graceful shutdown, from the signal: the master has exited by then. Workers
   * still serving a little before it (1 000 ms, or a quarter of it if that is less) are asked
   * what they were doing, which is logged, and killed. The default fits Docker, which kills
   * 10 s after `SIGTERM`; under Kubernetes, set it below `terminationGracePeriodSeconds` (30 s
   * by default) minus any `preStop` time, e.g. 25 000. Default: 9 000 ms.
   */
  shutdownTimeoutMs?: number;
  /**
   * The control socket that `clusterbus status` and `clusterbus reload` talk to: a Unix socket
   * only this user can open. `true`: `<app>.<pid>.sock` in the runtime directory
   * (`CLUSTERBUS_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/clusterbus`, else
   * `<tmpdir>/clusterbus-<uid>`, created with mode 0700); a path: there, in a directory that
   * must exist and be private to this user; `false`: none. Never on Windows. If it cannot be
   * set up, the master logs why and runs without it. Default: true.
   */
  controlSocket?: boolean | string;
  /**
   * IPC serialization of the workers' channels. Bus traffic travels on each worker's bus pipe
   * and does not depend on it. `'advanced'` (V8's serializer) lets your own `process.send`
   * messages carry what structured clone can, but Node's deserializer in the master recurses:
   * a message nested a few thousand levels deep from a worker crashes the master with a
   * `RangeError`. `'json'` survives any message. Default: `'json'`.
   */
  serialization?: 'json' | 'advanced';
  /** Where the supervisor logs. Default: concise lines on stderr (silent when `NODE_ENV=test`). */
  logger?: Logger;
  /** Bus options, applied in the master and in every worker. */
  bus?: BusOptions;
}

export type ResolvedClusterOptions = Required<Omit<ClusterOptions, 'master' | 'bus' | 'reloadSignal'>> & {
  master: ClusterOptions['master'];
  bus: BusOptions | undefined;
  reloadSignal: NodeJS.Signals | false;
};

const positive = [
  'readyTimeoutMs',
  'killTimeoutMs',
  'minUptimeMs',
  'backoffInitialMs',
  'backoffMaxMs',
  'maxForksPerSecond',
  'shutdownTimeoutMs',
  'drainIdleMs',
  'maxRestarts',
] as const;

/** Applies defaults; rejects out-of-range values with `BadOptionsError`. */
export function resolveClusterOptions(options: ClusterOptions): ResolvedClusterOptions {
  if (typeof options.worker !== 'function') throw new BadOptionsError('startCluster needs a worker function');
  const workers = options.workers ?? 0;
  if (!Number.isSafeInteger(workers) || workers < 0) {
    throw new BadOptionsError(`workers must be a whole number >= 0, got ${String(options.workers)}`);
  }
  for (const key of positive) {
    const v = options[key];
    // `maxRestarts: Infinity` is the way to say "never give up".
    const ok = typeof v === 'number' && v > 0 && (Number.isFinite(v) || (key === 'maxRestarts' && v === Infinity));
    if (v !== undefined && !ok) {
      throw new BadOptionsError(`${key} must be a positive number, got ${String(v)}`);
    }
  }
  const socket = options.controlSocket;
  if (socket !== undefined && typeof socket !== 'boolean' && (typeof socket !== 'string' || socket === '')) {
    throw new BadOptionsError(`controlSocket must be true, false or a path, got ${String(socket)}`);
  }
  const count = workers === 0 ? os.availableParallelism() : workers;
  const killTimeoutMs = options.killTimeoutMs ?? 10_000;
  return {
    workers: count,
    master: options.master,
    worker: options.worker,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    killTimeoutMs,
    drainIdleMs: Math.min(options.drainIdleMs ?? 1_000, killTimeoutMs / 2),
    maxRestarts: options.maxRestarts ?? 5,
    minUptimeMs: options.minUptimeMs ?? 5_000,
    backoffInitialMs: options.backoffInitialMs ?? 100,
    backoffMaxMs: options.backoffMaxMs ?? 30_000,
    maxForksPerSecond: options.maxForksPerSecond ?? Math.max(10, count),
    reloadSignal: options.reloadSignal ?? 'SIGUSR2',
    handleSignals: options.handleSignals ?? true,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 9_000,
    controlSocket: socket ?? true,
    serialization: options.serialization ?? 'json',
    logger: options.logger ?? options.bus?.logger ?? stderrLogger(),
    bus: options.bus,
  };
}
