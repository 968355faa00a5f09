/**
 * The driver's handle on one process of the hosts section: a host's master
 * (bench/cluster/master.ts `clusterbus-nats`) or a raw NATS sender or responder
 * (bench/hosts/raw-nats.ts), spawned with an IPC channel. Both say `ready`, then answer `ctl`
 * steps. A host runs in its own process group, so that it can die as a machine does: its
 * master and its workers at once (`killGroup`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { track } from '../cleanup.js';
import { NODE_FLAGS, REPO } from '../driver.js';
import type { CtlAnswer, CtlOp, DriverToMaster, MasterToDriver } from '../protocol.js';

export interface NodeSpec {
  /** Shown in logs and problems, e.g. `bench-a` or `raw responder 2`. */
  readonly label: string;
  /** The script (absolute path) and its arguments. */
  readonly script: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Its own process group (a host). */
  readonly group: boolean;
}

export class NodeHandle {
  readonly ready: Promise<number[]>;
  /** Resolves once the process exited. */
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private nextQ = 1;
  private readonly waiting = new Map<number, { resolve: (a: CtlAnswer) => void; reject: (e: Error) => void }>();
  private failure: string | undefined;
  private gone = false;

  constructor(readonly spec: NodeSpec) {
    this.child = track(
      spawn(process.execPath, [...NODE_FLAGS, spec.script, ...spec.args], {
        cwd: REPO,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        detached: spec.group,
        env: { ...process.env, CLUSTERBUS_LOG: process.env.CLUSTERBUS_LOG ?? 'error', ...spec.env },
      }),
    );
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.ready = new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${spec.label}: not ready after 90 s`)), 90_000);
      this.child.on('message', (m: MasterToDriver) => {
        if (m.t === 'ready') {
          clearTimeout(timer);
          resolve(m.pids);
        } else if (m.t === 'fatal') {
          this.failure = m.error;
          clearTimeout(timer);
          reject(new Error(`${spec.label}: ${m.error}`));
        } else if (m.t === 'ctl') {
          const w = this.waiting.get(m.q);
          this.waiting.delete(m.q);
          if (m.ok) w?.resolve(m.answer);
          else w?.reject(new Error(`${spec.label}: ${m.error}`));
        }
      });
      this.child.once('exit', (code, signal) => {
        this.gone = true;
        this.failure ??= `exited (${signal ?? `code ${code ?? '?'}`})`;
        clearTimeout(timer);
        reject(new Error(`${spec.label}: ${this.failure}`));
        for (const [q, w] of this.waiting) {
          this.waiting.delete(q);
          w.reject(new Error(`${spec.label}: ${this.failure}`));
        }
      });
    });
    this.ready.catch(() => {});
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** One step; rejects on an error, a timeout or the process's exit. */
  ctl(op: CtlOp, timeoutMs: number): Promise<CtlAnswer> {
    if (this.gone) return Promise.reject(new Error(`${this.spec.label}: ${this.failure ?? 'exited'}`));
    const q = this.nextQ++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(q);
        reject(new Error(`${this.spec.label}: no answer to '${op.op}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(q, {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send({ t: 'ctl', q, ctl: op });
    });
  }

  /** Stops the process; resolves once it exited (killed after a second). */
  stop(): Promise<void> {
    if (this.gone) return Promise.resolve();
    const timer = setTimeout(() => this.kill(), 1_000);
    this.send({ t: 'stop' });
    return this.exited.then(() => clearTimeout(timer));
  }

  /** Kills the process at once (a master's workers follow: their channel closes). */
  kill(): void {
    if (!this.gone) this.child.kill('SIGKILL');
  }

  /**
   * SIGKILLs the process group this handle started (`group: true`): the master and its
   * workers die at the same instant, as on a machine that lost power.
   */
  killGroup(): void {
    const pid = this.child.pid;
    if (this.gone || !this.spec.group || pid === undefined) return this.kill();
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      this.kill();
    }
  }

  private send(m: DriverToMaster): void {
    if (this.child.connected) this.child.send(m);
  }
}
