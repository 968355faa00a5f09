/**
 * The worker's side of supervision: tells the master when this worker is ready or has
 * crashed, drains when asked, and carries reload and status requests to the master.
 */
import cluster from 'node:cluster';
import type { ClusterStatus, WorkerContext } from './cluster-options.js';
import {
  CONTROL_VERSION,
  MAX_IN_FLIGHT,
  MAX_URL,
  parseMasterControl,
  type InFlightReport,
  type WorkerControl,
} from './control.js';
import { NotConnectedError, ReloadFailedError, StartFailedError } from '../errors.js';
import { getBus } from '../bus.js';
import { HttpDrainer } from './http-drain.js';
import type { Logger } from '../logger.js';
import { WORKER_INDEX_ENV } from './supervisor.js';

interface Waiting {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

let runtime: WorkerRuntime | undefined;

/** The supervision runtime of this worker, installed by `startCluster`. */
export class WorkerRuntime implements WorkerContext {
  readonly id = cluster.worker?.id ?? 0;
  readonly index = Number(process.env[WORKER_INDEX_ENV] ?? '0');
  private isReady = false;
  private readySent = false;
  private crashReported = false;
  private draining = false;
  private readonly drainHooks: (() => void | Promise<void>)[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private readonly http = new HttpDrainer();

  constructor(
    private readonly logger: Logger,
    private readonly drainHookTimeoutMs: number,
    private readonly drainIdleMs: number,
  ) {}

  install(): void {
    this.http.install();
    process.on('message', (message: unknown) => this.onMessage(message));
    process.on('uncaughtException', (err) => this.crash(err, 'uncaught exception'));
    process.on('unhandledRejection', (reason) => this.crash(reason, 'unhandled rejection'));
    // Ctrl-C reaches the whole process group: finish in-flight work instead of dying mid-request.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void this.drain());
    process.once('disconnect', () => {
      for (const w of this.waiting.values()) w.reject(new NotConnectedError('cluster control'));
      this.waiting.clear();
    });
  }

  ready(): void {
    if (this.readySent) return;
    this.readySent = true;
    this.isReady = true;
    this.send({ cbc: CONTROL_VERSION, t: 'ready' });
  }

  onDrain(fn: () => void | Promise<void>): void {
    this.drainHooks.push(fn);
  }

  async reloadWorkers(): Promise<void> {
    const answer = (await this.ask('reload')) as { ok: boolean; error?: string };
    if (!answer.ok) throw new ReloadFailedError(0, answer.error ?? 'unknown reason');
  }

  async status(): Promise<ClusterStatus> {
    return ((await this.ask('status')) as { status: ClusterStatus }).status;
  }

  /**
   * Reports a crash to the master, which forks a replacement and then drains this worker.
   * The worker keeps serving what it owes meanwhile. A crash before the worker was ever
   * ready ends it at once: there is nothing to keep it for.
   */
  crash(err: unknown, what: string): void {
    const reason = `${what}: ${describeError(err)}`;
    // The stack says where; with these handlers installed, Node prints nothing itself.
    const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : undefined;
    this.logger.error(
      'worker crashed',
      stack === undefined ? { worker: this.id, reason } : { worker: this.id, reason, stack },
    );
    const report: WorkerControl =
      stack === undefined
        ? { cbc: CONTROL_VERSION, t: 'crashed', reason }
        : { cbc: CONTROL_VERSION, t: 'crashed', reason, stack };
    if (!this.isReady) {
      this.send(report, () => process.exit(1));
      return;
    }
    if (this.crashReported) return;
    this.crashReported = true;
    this.send(report);
  }

  private ask(t: 'reload' | 'status'): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      if (!this.send({ cbc: CONTROL_VERSION, t, id })) {
        reject(new NotConnectedError(`cluster ${t}`));
        return;
      }
      this.waiting.set(id, { resolve, reject });
    });
  }

  private send(message: WorkerControl, then?: () => void): boolean {
    if (!process.send || !process.connected) {
      then?.();
      return false;
    }
    try {
      process.send(message, undefined, undefined, () => then?.());
      return true;
    } catch {
      then?.();
      return false;
    }
  }

  private onMessage(message: unknown): void {
    const control = parseMasterControl(message);
    if (!control) return;
    switch (control.t) {
      case 'ready':
        this.isReady = true;
        return;
      case 'drain':
        void this.drain();
        return;
      case 'in-flight':
        this.send({ cbc: CONTROL_VERSION, t: 'in-flight', id: control.id, report: this.inFlight() });
        return;
      case 'reloaded':
      case 'status': {
        const w = this.waiting.get(control.id);
        this.waiting.delete(control.id);
        w?.resolve(control);
        return;
      }
    }
  }

  /** What this worker is doing now: the master asks before it kills a worker at a deadline. */
  private inFlight(): InFlightReport {
    const now = Date.now();
    const all = this.http.inFlight();
    return {
      requests: all.slice(0, MAX_IN_FLIGHT).map((r) => ({
        method: r.method,
        url: r.url.slice(0, MAX_URL),
        ageMs: Math.max(0, now - r.startedAt),
      })),
      requestCount: all.length,
      connections: this.http.openConnections,
      busHandlers: getBus().endpoint.stats().runningHandlers,
    };
  }

  /** Runs the drain hooks (each bounded by the kill timeout), then drains the servers. */
  private async drainServers(): Promise<void> {
    for (const hook of this.drainHooks) {
      try {
        await Promise.race([hook(), new Promise((r) => setTimeout(r, this.drainHookTimeoutMs).unref())]);
      } catch (err) {
        const fields: Record<string, unknown> = { worker: this.id, error: describeError(err) };
        if (err instanceof Error && typeof err.stack === 'string') fields.stack = err.stack;
        this.logger.error('drain hook failed', fields);
      }
    }
    await this.http.drain(this.drainIdleMs);
  }

  /**
   * Runs the drain hooks, then drains this worker's servers (`http-drain.ts`: no new
   * connection, every request that reached it answered), then closes its channel and exits.
   */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.logger.info('worker draining', { worker: this.id });
    const bus = getBus();
    // The router stops routing work here at once; the hooks run and the servers drain once
    // this worker owes the bus nothing (its HTTP requests meanwhile are served as usual).
    await bus.endpoint.drain();
    await this.drainServers();
    bus.endpoint.leave();
    // cluster's disconnect closes the servers that never had a connection, then the IPC
    // channel; after that, nothing is left to do.
    process.once('disconnect', () => setImmediate(() => process.exit(0)));
    if (cluster.worker?.isConnected()) cluster.worker.disconnect();
    else setImmediate(() => process.exit(0));
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return typeof err;
  }
}

/** Installs the worker runtime once. */
export function installWorkerRuntime(logger: Logger, drainHookTimeoutMs: number, drainIdleMs: number): WorkerRuntime {
  if (!runtime) {
    runtime = new WorkerRuntime(logger, drainHookTimeoutMs, drainIdleMs);
    runtime.install();
  }
  return runtime;
}

function requireRuntime(what: string): WorkerRuntime {
  if (!runtime) {
    throw new StartFailedError(`${what}() works in a worker started by startCluster()`);
  }
  return runtime;
}

/**
 * Asks the master for a rolling reload of every worker (what think-cluster's
 * `think-cluster-reload-workers` directive asked for); settles when the reload is done or failed.
 */
export function reloadWorkers(): Promise<void> {
  try {
    return requireRuntime('reloadWorkers').reloadWorkers();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Declares this worker ready (for workers without an HTTP server). */
export function ready(): void {
  requireRuntime('ready').ready();
}
