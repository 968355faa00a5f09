/**
 * The driver's handle on one system's cluster: a master process spawned with an IPC channel
 * (`node --import tsx bench/cluster/master.ts <system> <N>`, clusterbus from dist/),
 * which forks N workers and stays up, idle, between measurements.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './cleanup.js';
import type { DriverToMaster, MasterToDriver, MeasureResult, MeasureSpec, SystemName } from './protocol.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
const MASTER = fileURLToPath(new URL('./cluster/master.ts', import.meta.url));

/** Node flags of every benchmark master (its workers inherit them). */
// The harness runs through tsx; `clusterbus` itself resolves to the build in dist/ (no
// clusterbus-source condition), the compiled JavaScript users run. `npm run bench` builds first.
export const NODE_FLAGS = ['--import', 'tsx'];

export class ClusterHandle {
  readonly ready: Promise<number[]>;
  private readonly child: ChildProcess;
  private nextQ = 1;
  private readonly waiting = new Map<number, (r: MeasureResult) => void>();
  private failure: string | undefined;
  private exited = false;

  constructor(
    readonly system: SystemName,
    readonly workers: number,
    /** More environment for the master (`clusterbus+nats`: its NATS server and names). */
    env: Readonly<Record<string, string>> = {},
  ) {
    this.child = track(
      spawn(process.execPath, [...NODE_FLAGS, MASTER, system, String(workers)], {
        cwd: REPO,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, CLUSTERBUS_LOG: process.env.CLUSTERBUS_LOG ?? 'error', ...env },
      }),
    );
    this.ready = new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${system}: cluster not ready after 90 s`)), 90_000);
      this.child.on('message', (m: MasterToDriver) => {
        if (m.t === 'ready') {
          clearTimeout(timer);
          resolve(m.pids);
        } else if (m.t === 'fatal') {
          this.failure = m.error;
          clearTimeout(timer);
          reject(new Error(`${system}: ${m.error}`));
        } else if (m.t === 'result') {
          this.waiting.get(m.q)?.(m.result);
          this.waiting.delete(m.q);
        }
      });
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.failure ??= `master exited (${signal ?? `code ${code ?? '?'}`})`;
        clearTimeout(timer);
        reject(new Error(`${system}: ${this.failure}`));
        for (const [q, done] of this.waiting) {
          this.waiting.delete(q);
          done(failed(this.failure));
        }
      });
    });
    // A failed start is reported by whoever awaits `ready`; keep it from being "unhandled" meanwhile.
    this.ready.catch(() => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Runs one measurement; a timeout or a dead cluster is a failed result, never a throw. */
  measure(spec: MeasureSpec, timeoutMs: number): Promise<MeasureResult> {
    if (this.exited) return Promise.resolve(failed(this.failure ?? 'master exited'));
    const q = this.nextQ++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(q);
        resolve(failed(`no result within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(q, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.send({ t: 'measure', q, spec });
    });
  }

  /** Stops the cluster; resolves once the master exited (killed after a second). */
  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 1_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.send({ t: 'stop' });
    });
  }

  /** Kills the master at once (its workers follow). */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private send(m: DriverToMaster): void {
    if (this.child.connected) this.child.send(m);
  }
}

function failed(error: string): MeasureResult {
  return { ok: false, error, elapsedNs: 0, delivered: 0, expected: 0, errors: 0, bad: 0 };
}
