/**
 * Process supervision, in the master: forks the workers, replaces a crashed one (the
 * replacement first), re-forks the dead with backoff so a broken build never becomes a fork
 * storm, rolls reloads one worker at a time, and shuts down gracefully.
 */
import cluster, { type Worker } from 'node:cluster';
import type { NatsStatus } from '../transports/nats/federation.js';
import type { Router } from '../core/router/router.js';
import { busPipeSettings, pipeConfigured } from '../transports/cluster/bus-pipe.js';
import type {
  ClusterControl,
  ClusterStatus,
  KilledWorker,
  ResolvedClusterOptions,
  ShutdownReport,
  SlotStatus,
} from './cluster-options.js';
import {
  CONTROL_VERSION,
  parseWorkerControl,
  type InFlightReport,
  type MasterControl,
  type WorkerStatus,
} from './control.js';
import { localHost } from '../core/peer-id.js';
import { ReloadFailedError } from '../errors.js';

/** How long a worker that reported a crash before it was ready has to exit by itself. */
const CRASHED_EXIT_MS = 2_000;

/** How long the master waits for a worker to say what it is doing before killing it. */
const IN_FLIGHT_WAIT_MS = 250;

/**
 * How long before `shutdownTimeoutMs` the workers still running are killed, at most: the rest
 * is for asking them what they were doing, seeing them exit, and the master's own exit.
 */
const SHUTDOWN_KILL_MARGIN_MS = 1_000;

/** Environment variable carrying a worker's stable slot index (1..N). */
export const WORKER_INDEX_ENV = 'CLUSTERBUS_WORKER_INDEX';

type Role = 'current' | 'replacement';

interface Managed {
  readonly worker: Worker;
  readonly slot: Slot;
  role: Role;
  state: 'starting' | 'ready' | 'draining';
  readonly forkedAt: number;
  everReady: boolean;
  crashed: boolean;
  /** What it reported when it crashed, for `lastExitReason`. */
  crashReason: string | undefined;
  readyTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  /** Set once the master decided to kill it at a deadline. */
  killing: Promise<void> | undefined;
  readonly settled: Deferred<void>;
  readonly exited: Deferred<void>;
}

interface Slot {
  readonly index: number;
  current: Managed | undefined;
  replacement: Managed | undefined;
  forks: number;
  quickDeaths: number;
  lastExitReason: string | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  retryAt: number | undefined;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
  done: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d: Deferred<T> = {
    promise,
    done: false,
    resolve: (v) => {
      if (d.done) return;
      d.done = true;
      resolve(v);
    },
    reject: (e) => {
      if (d.done) return;
      d.done = true;
      reject(e);
    },
  };
  // Nobody may be listening (a replacement nobody awaits); that is not an unhandled rejection.
  promise.catch(() => {});
  return d;
}

/** The master's supervisor. */
export class Supervisor implements ClusterControl {
  private readonly slots: Slot[];
  private readonly byWorker = new Map<number, Managed>();
  private readonly forkTimes: number[] = [];
  private readonly allReady = deferred<void>();
  private reloading: Promise<void> | undefined;
  private nextReload: Deferred<void> | undefined;
  private stopping: Promise<ShutdownReport> | undefined;
  /** Workers killed at a deadline since the shutdown began. */
  private readonly killed: KilledWorker[] = [];
  /** Questions to workers about what they are doing, by id. */
  private readonly asked = new Map<number, (report: InFlightReport | undefined) => void>();
  private nextAsk = 1;
  private forkQueue: Promise<void> = Promise.resolve();
  private started = false;
  private gaveUp = false;

  /**
   * @param exit ends the master with a code once it gave up on a crash loop (see `maxRestarts`).
   */
  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly router: Router,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
    /** The bus across machines, when it is on: its hosts and links, for `status()`. */
    private readonly nats?: () => NatsStatus,
  ) {
    this.slots = Array.from({ length: options.workers }, (_, i) => ({
      index: i + 1,
      current: undefined,
      replacement: undefined,
      forks: 0,
      quickDeaths: 0,
      lastExitReason: undefined,
      retryTimer: undefined,
      retryAt: undefined,
    }));
  }

  /** Starts listening to the cluster and forks every slot's first worker; once. */
  /** A graceful shutdown has begun. */
  get shuttingDown(): boolean {
    return this.stopping !== undefined;
  }

  start(): void {
    if (this.started || this.shuttingDown) return;
    this.started = true;
    cluster.on('message', this.onMessage);
    cluster.on('listening', this.onListening);
    cluster.on('exit', this.onExit);
    this.options.logger.info('starting workers', { workers: this.options.workers });
    for (const slot of this.slots) void this.fork(slot, 'current');
  }

  status(): ClusterStatus {
    const now = Date.now();
    const workers: WorkerStatus[] = [...this.byWorker.values()]
      .sort((a, b) => a.worker.id - b.worker.id)
      .map((m) => ({
        id: m.worker.id,
        host: localHost(),
        index: m.slot.index,
        pid: m.worker.process.pid,
        state: m.state,
        uptimeMs: now - m.forkedAt,
        restarts: Math.max(0, m.slot.forks - 1),
        lastExitReason: m.slot.lastExitReason,
      }));
    const slots: SlotStatus[] = this.slots.map((s) => ({
      index: s.index,
      state: s.current?.state === 'ready' ? 'up' : s.retryTimer ? 'backoff' : 'starting',
      quickDeaths: s.quickDeaths,
      nextForkInMs: s.retryAt === undefined ? undefined : Math.max(0, s.retryAt - now),
      restarts: Math.max(0, s.forks - 1),
      lastExitReason: s.lastExitReason,
    }));
    return {
      workers,
      slots,
      reloading: this.reloading !== undefined,
      healthy: slots.every((s) => s.state === 'up'),
      ...(this.nats ? { nats: this.nats() } : {}),
    };
  }

  /**
   * Resolves once every slot has a ready worker. Called from the master hook, before the
   * workers were forked, it forks them now: waiting for them there cannot deadlock.
   */
  ready(): Promise<void> {
    this.start();
    return this.allReady.promise;
  }

  reload(): Promise<void> {
    if (this.shuttingDown) return Promise.reject(new ReloadFailedError(0, 'the cluster is shutting down'));
    if (!this.reloading) {
      this.reloading = this.rollingReload().finally(() => this.afterReload());
      return this.reloading;
    }
    this.nextReload ??= deferred<void>();
    return this.nextReload.promise;
  }

  shutdown(): Promise<ShutdownReport> {
    if (!this.stopping) {
      // Requests from now on fail with a ClosedError that says why, not with NoHandlerError
      // once the last worker stopped taking work.
      this.router.refuseRequests('the cluster is shutting down');
      this.stopping = this.drainAll();
    }
    return this.stopping;
  }

  // ---- forking ------------------------------------------------------------------------

  /** Forks a worker for `slot`, no faster than `maxForksPerSecond` overall. */
  private fork(slot: Slot, role: Role): Promise<Managed | undefined> {
    const forked = this.forkQueue.then(async () => {
      await this.forkSlotAvailable();
      if (this.shuttingDown) return undefined;
      try {
        return this.forkNow(slot, role);
      } catch (err) {
        // A fork that cannot even spawn counts as a quick death: retried with backoff, and
        // the queue of later forks keeps moving.
        this.options.logger.error('fork failed', { slot: slot.index, error: String(err) });
        slot.quickDeaths++;
        slot.lastExitReason = `fork failed: ${String(err)}`;
        if (!this.giveUpIfLooping(slot)) this.scheduleFork(slot, role);
        return undefined;
      }
    });
    this.forkQueue = forked.then(() => undefined);
    return forked;
  }

  private async forkSlotAvailable(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.forkTimes.length > 0 && (this.forkTimes[0] as number) <= now - 1000) this.forkTimes.shift();
      if (this.forkTimes.length < this.options.maxForksPerSecond) {
        this.forkTimes.push(now);
        return;
      }
      await new Promise((r) => setTimeout(r, (this.forkTimes[0] as number) + 1000 - now));
    }
  }

  private forkNow(slot: Slot, role: Role): Managed {
    slot.forks++;
    slot.retryTimer = undefined;
    slot.retryAt = undefined;
    const pipe = pipeConfigured(cluster.settings.stdio) ? busPipeSettings().env : {};
    const worker = cluster.fork({ ...pipe, [WORKER_INDEX_ENV]: String(slot.index) });
    const managed: Managed = {
      worker,
      slot,
      role,
      state: 'starting',
      forkedAt: Date.now(),
      everReady: false,
      crashed: false,
      crashReason: undefined,
      readyTimer: undefined,
      killTimer: undefined,
      killing: undefined,
      settled: deferred<void>(),
      exited: deferred<void>(),
    };
    this.byWorker.set(worker.id, managed);
    if (role === 'current') slot.current = managed;
    else slot.replacement = managed;
    // A fork can fail to spawn; 'exit' follows and is handled there.
    worker.on('error', (err) =>
      this.options.logger.warn('worker channel error', { worker: worker.id, error: err.message }),
    );
    managed.readyTimer = setTimeout(() => {
      this.options.logger.error('worker did not become ready in time; killing it', {
        worker: worker.id,
        slot: slot.index,
        readyTimeoutMs: this.options.readyTimeoutMs,
      });
      managed.settled.reject(new Error(`not ready within ${this.options.readyTimeoutMs} ms`));
      worker.process.kill('SIGKILL');
    }, this.options.readyTimeoutMs);
    return managed;
  }

  // ---- events from workers -----------------------------------------------------------

  private readonly onListening = (worker: Worker): void => {
    const m = this.byWorker.get(worker.id);
    if (m) this.markReady(m);
  };

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    const control = parseWorkerControl(message);
    const m = this.byWorker.get(worker.id);
    if (!control || !m) return;
    switch (control.t) {
      case 'ready':
        return this.markReady(m);
      case 'crashed':
        return this.crashed(m, control.reason, control.stack);
      case 'reload':
        this.options.logger.info('reload requested by a worker', { worker: worker.id });
        this.reload().then(
          () => this.tell(worker, { cbc: CONTROL_VERSION, t: 'reloaded', id: control.id, ok: true }),
          (err: Error) =>
            this.tell(worker, { cbc: CONTROL_VERSION, t: 'reloaded', id: control.id, ok: false, error: err.message }),
        );
        return;
      case 'status':
        return this.tell(worker, {
          cbc: CONTROL_VERSION,
          t: 'status',
          id: control.id,
          status: this.status(),
        });
      case 'in-flight': {
        const answer = this.asked.get(control.id);
        this.asked.delete(control.id);
        answer?.(control.report);
        return;
      }
    }
  };

  /** Sends a supervision message to a worker (an answer or an order); never throws. */
  private tell(worker: Worker, message: MasterControl): void {
    // id 0 is the legacy string directive: nobody waits for an answer.
    if ('id' in message && message.id === 0) return;
    if (!worker.isConnected()) return;
    try {
      worker.send(message, undefined, () => {});
    } catch {
      // Gone in the meantime; nothing to tell.
    }
  }

  private markReady(m: Managed): void {
    if (m.state !== 'starting') return;
    m.state = 'ready';
    m.everReady = true;
    if (m.readyTimer) clearTimeout(m.readyTimer);
    m.readyTimer = undefined;
    this.options.logger.info('worker ready', {
      worker: m.worker.id,
      slot: m.slot.index,
      workerPid: m.worker.process.pid,
    });
    // The worker may have become ready by listening; it needs to know, to handle a crash right.
    this.tell(m.worker, { cbc: CONTROL_VERSION, t: 'ready' });
    if (m.role === 'replacement') this.promote(m);
    m.settled.resolve();
    if (!this.allReady.done && this.slots.every((s) => s.current?.state === 'ready')) this.allReady.resolve();
  }

  /** A replacement is ready: it takes the slot, and the worker it replaces drains. */
  private promote(fresh: Managed): void {
    const slot = fresh.slot;
    const old = slot.current;
    slot.replacement = undefined;
    slot.current = fresh;
    fresh.role = 'current';
    if (old && old !== fresh) this.drain(old);
  }

  private crashed(m: Managed, reason: string, stack: string | undefined): void {
    if (m.crashed) return;
    m.crashed = true;
    m.crashReason = reason;
    const fields: Record<string, unknown> = { worker: m.worker.id, slot: m.slot.index, reason };
    if (stack !== undefined) fields.stack = stack;
    this.options.logger.error('worker crashed', fields);
    if (this.shuttingDown || m.state === 'draining') return;
    if (m.state === 'starting') {
      // It never served, and it exits by itself once its report is sent: its exit then says
      // what happened. A worker that does not exit is killed after a short while.
      if (m.readyTimer) clearTimeout(m.readyTimer);
      m.readyTimer = undefined;
      m.killTimer = setTimeout(() => m.worker.process.kill('SIGKILL'), CRASHED_EXIT_MS);
      return;
    }
    if (m.role === 'current' && !m.slot.replacement) {
      this.options.logger.info('forking a replacement before retiring the crashed worker', { slot: m.slot.index });
      void this.fork(m.slot, 'replacement');
    }
  }

  private readonly onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const m = this.byWorker.get(worker.id);
    if (!m) return;
    this.byWorker.delete(worker.id);
    if (m.readyTimer) clearTimeout(m.readyTimer);
    if (m.killTimer) clearTimeout(m.killTimer);
    const reason = signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`;
    const slot = m.slot;
    m.settled.reject(new Error(`exited (${reason}) before it was ready`));
    m.exited.resolve();
    // The slot's reason must also say why a drained worker ended (e.g. it crashed and was
    // replaced); before, status() kept an older reason, or none, after a crash replacement.
    const crash = m.crashReason ? `crashed (${m.crashReason}), then ` : '';
    if (m.state === 'draining') {
      if (slot.current !== m) slot.lastExitReason = `${crash}drained: ${reason}`;
      this.options.logger.info('drained worker exited', { worker: worker.id, slot: slot.index, reason });
      return;
    }
    slot.lastExitReason = `${crash}${reason}`;
    const quick = !m.everReady || Date.now() - m.forkedAt < this.options.minUptimeMs;
    slot.quickDeaths = quick ? slot.quickDeaths + 1 : 0;
    if (slot.replacement === m) slot.replacement = undefined;
    if (slot.current === m) slot.current = undefined;
    if (this.shuttingDown) return;
    this.options.logger.warn('worker exited unexpectedly', {
      worker: worker.id,
      slot: slot.index,
      reason: slot.lastExitReason,
    });
    if (this.giveUpIfLooping(slot)) return;
    // A slot needs a worker unless one is already on its way.
    if (slot.current || slot.replacement || slot.retryTimer) {
      // The crashed worker still serves and its replacement died: try again, with backoff.
      if (m.role === 'replacement' && slot.current && !this.reloading) this.scheduleFork(slot, 'replacement');
      return;
    }
    this.scheduleFork(slot, 'current');
  };

  /**
   * Gives up on a crash loop that leaves nothing serving: `slot` died quickly `maxRestarts`
   * times in a row and no worker is ready anywhere. The master logs why, stops what is left
   * and exits with code 1, so that whatever runs it sees the failure. Returns whether it did.
   */
  private giveUpIfLooping(slot: Slot): boolean {
    if (this.gaveUp) return true;
    if (slot.quickDeaths < this.options.maxRestarts) return false;
    for (const m of this.byWorker.values()) if (m.state === 'ready') return false;
    this.gaveUp = true;
    this.options.logger.error('giving up: workers keep failing before they serve, and none is ready', {
      slot: slot.index,
      quickDeaths: slot.quickDeaths,
      maxRestarts: this.options.maxRestarts,
      lastExitReason: slot.lastExitReason,
    });
    void this.shutdown().then(() => this.exit(1));
    return true;
  }

  private scheduleFork(slot: Slot, role: Role): void {
    if (slot.quickDeaths === 0) {
      void this.fork(slot, role);
      return;
    }
    const base = Math.min(this.options.backoffMaxMs, this.options.backoffInitialMs * 2 ** (slot.quickDeaths - 1));
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.options.logger.warn('worker is crash-looping; backing off', {
      slot: slot.index,
      quickDeaths: slot.quickDeaths,
      delayMs: delay,
    });
    slot.retryAt = Date.now() + delay;
    slot.retryTimer = setTimeout(() => {
      slot.retryTimer = undefined;
      slot.retryAt = undefined;
      if (this.shuttingDown) return;
      // Meanwhile a reload may have put a healthy worker in the slot, or one may be on its
      // way; and a crashed worker waiting for its replacement may have died.
      if (slot.replacement || (slot.current && !slot.current.crashed)) return;
      void this.fork(slot, slot.current ? 'replacement' : 'current');
    }, delay);
  }

  // ---- draining -----------------------------------------------------------------------

  /**
   * Tells `m` to drain. The worker tells the router itself (a `drain` frame: no new work,
   * `drained` once it owes nothing), runs its drain hooks, closes its servers without failing
   * a request (`http-drain.ts`), and exits. Killed after `killAfterMs` regardless.
   */
  private drain(
    m: Managed,
    killAfterMs = this.options.killTimeoutMs,
    deadline: KilledWorker['deadline'] = 'killTimeoutMs',
  ): void {
    if (m.state === 'draining') return;
    m.state = 'draining';
    this.options.logger.info('draining worker', { worker: m.worker.id, slot: m.slot.index });
    m.killTimer = setTimeout(() => void this.killStraggler(m, deadline, IN_FLIGHT_WAIT_MS), killAfterMs);
    this.tell(m.worker, { cbc: CONTROL_VERSION, t: 'drain' });
  }

  /**
   * Kills a worker that did not finish draining by its deadline, after asking it what it is
   * still doing (at most `waitMs`), so that the log says which requests the kill cuts.
   */
  private killStraggler(m: Managed, deadline: KilledWorker['deadline'], waitMs: number): Promise<void> {
    m.killing ??= (async () => {
      const inFlight = await this.askInFlight(m, waitMs);
      if (m.exited.done) return;
      const fields: Record<string, unknown> = {
        worker: m.worker.id,
        slot: m.slot.index,
        workerPid: m.worker.process.pid,
        deadline,
        [deadline]: this.options[deadline],
      };
      if (inFlight) {
        this.options.logger.warn('worker still busy at its deadline; killing it', {
          ...fields,
          requests: inFlight.requestCount,
          connections: inFlight.connections,
          busHandlers: inFlight.busHandlers,
        });
        for (const r of inFlight.requests) {
          this.options.logger.warn('request cut: its worker is killed', {
            worker: m.worker.id,
            method: r.method,
            url: r.url,
            runningMs: r.ageMs,
          });
        }
      } else {
        this.options.logger.warn('worker still busy at its deadline and did not say with what; killing it', fields);
      }
      m.worker.process.kill('SIGKILL');
      if (this.stopping) {
        this.killed.push({ id: m.worker.id, index: m.slot.index, pid: m.worker.process.pid, deadline, inFlight });
      }
    })();
    return m.killing;
  }

  /** Asks a worker what it is doing; `undefined` if it does not answer within `waitMs` or exits. */
  private askInFlight(m: Managed, waitMs: number): Promise<InFlightReport | undefined> {
    if (m.exited.done || !m.worker.isConnected()) return Promise.resolve(undefined);
    const id = this.nextAsk++;
    return new Promise((resolve) => {
      const done = (report: InFlightReport | undefined): void => {
        clearTimeout(timer);
        this.asked.delete(id);
        resolve(report);
      };
      const timer = setTimeout(() => done(undefined), waitMs);
      this.asked.set(id, done);
      void m.exited.promise.then(() => done(undefined));
      this.tell(m.worker, { cbc: CONTROL_VERSION, t: 'in-flight', id });
    });
  }

  // ---- reload -------------------------------------------------------------------------

  /**
   * Replaces the slots in order. A slot's replacement must be ready before its old worker
   * drains and before the next slot starts, so ready capacity never drops below N. Old
   * workers drain in the background: the worker that asked for the reload may be one of
   * them, still waiting for this answer.
   */
  private async rollingReload(): Promise<void> {
    this.options.logger.info('rolling reload started', { workers: this.slots.length });
    for (const slot of this.slots) {
      // A slot waiting out a crash-loop backoff is forked now, by the reload itself.
      if (slot.retryTimer) clearTimeout(slot.retryTimer);
      slot.retryTimer = undefined;
      slot.retryAt = undefined;
      // A crash replacement already under way for this slot serves as its reload.
      const fresh = slot.replacement ?? (await this.fork(slot, 'replacement'));
      if (!fresh) throw new ReloadFailedError(slot.index, 'the cluster is shutting down');
      try {
        await fresh.settled.promise;
      } catch (err) {
        this.options.logger.error('reload stopped: replacement failed; old workers keep serving', {
          slot: slot.index,
          error: (err as Error).message,
        });
        if (slot.replacement === fresh) slot.replacement = undefined;
        fresh.worker.process.kill('SIGKILL');
        throw new ReloadFailedError(slot.index, (err as Error).message);
      }
    }
    this.options.logger.info('rolling reload done');
  }

  private afterReload(): void {
    this.reloading = undefined;
    const next = this.nextReload;
    this.nextReload = undefined;
    if (next) {
      this.reloading = this.rollingReload().finally(() => this.afterReload());
      this.reloading.then(next.resolve, next.reject);
    }
  }

  /**
   * Drains every worker; those still running `SHUTDOWN_KILL_MARGIN_MS` (at most a quarter of
   * the deadline) before `shutdownTimeoutMs` are asked what they are doing and killed, so that
   * the master exits before the deadline, and before whatever sent the signal kills it.
   */
  private async drainAll(): Promise<ShutdownReport> {
    const started = Date.now();
    const { shutdownTimeoutMs } = this.options;
    const margin = Math.min(SHUTDOWN_KILL_MARGIN_MS, shutdownTimeoutMs / 4);
    const killInMs = shutdownTimeoutMs - margin;
    this.options.logger.info('shutting down: draining every worker', { shutdownTimeoutMs });
    for (const slot of this.slots) {
      if (slot.retryTimer) clearTimeout(slot.retryTimer);
      slot.retryTimer = undefined;
    }
    const all = [...this.byWorker.values()];
    for (const m of all) {
      // One still starting has served nothing: there is nothing of it to wait for. The others
      // get the shutdown's deadline, not `killTimeoutMs`: it is the one that whatever sent the
      // signal holds the master to (one already draining keeps its kill time if that is sooner).
      if (m.state === 'starting') m.worker.process.kill('SIGKILL');
      else this.drain(m, killInMs, 'shutdownTimeoutMs');
    }
    const allExited = (): Promise<unknown> => Promise.all(all.map((m) => m.exited.promise));
    await Promise.race([allExited(), sleep(killInMs)]);
    const stragglers = [...this.byWorker.values()].filter((m) => m.state !== 'starting');
    await Promise.all(
      stragglers.map((m) => this.killStraggler(m, 'shutdownTimeoutMs', Math.min(IN_FLIGHT_WAIT_MS, margin / 4))),
    );
    for (const m of this.byWorker.values()) m.worker.process.kill('SIGKILL');
    // Seeing the exits lets the log say how each ended; a kernel slow to reap is not waited for long.
    await Promise.race([allExited(), sleep(margin / 2)]);
    cluster.off('message', this.onMessage);
    cluster.off('listening', this.onListening);
    cluster.off('exit', this.onExit);
    const report: ShutdownReport = { durationMs: Date.now() - started, killed: [...this.killed] };
    this.options.logger.info('shutdown complete', {
      durationMs: report.durationMs,
      killedWorkers: report.killed.length,
    });
    return report;
  }
}
