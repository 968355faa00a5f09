// Runs the supervision fixture (test/fixtures/supervision/app.ts) as a real master process in its
// own process group, reads its JSON-lines events, drives it over stdin, signals, HTTP and the
// `clusterbus` command line, and makes sure no master or worker outlives the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import type { ClusterStatus } from 'clusterbus';
import { freePort } from '../helpers/ports.js';

const fixture = fileURLToPath(new URL('../fixtures/supervision/app.ts', import.meta.url));
const cliEntry = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** The repository: where masters run, so that the command line finds them from here. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A fresh directory private to this user (mode 0700), for control sockets. */
export function privateDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'cb-rt-'));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One line the fixture printed. */
export interface Ev {
  ev: string;
  /** The process that printed it (the master or a worker). */
  pid: number;
  [key: string]: unknown;
}

export { freePort };

/**
 * Whether a process still runs: `kill(pid, 0)` does not throw ESRCH, and (on Linux) it is not
 * a zombie. A worker orphaned by its master's death is reparented to whatever reaps orphans
 * here, which may take seconds to reap it; as a zombie it has already exited.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  try {
    // The state is the first field after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc (or the process just went): kill(pid, 0) said it was there.
    return process.platform !== 'linux';
  }
}

/** Polls until every pid is gone; returns those still alive after `timeoutMs`. */
export async function waitDead(pids: Iterable<number>, timeoutMs: number): Promise<number[]> {
  const list = [...pids];
  const until = Date.now() + timeoutMs;
  for (;;) {
    const alive = list.filter(isAlive);
    if (alive.length === 0 || Date.now() >= until) return alive;
    await sleep(20);
  }
}

/** Every master started by this test file, for the cleanup hook. */
const running = new Set<Master>();

/** A fixture master run by a test. */
export class Master {
  readonly child: ChildProcess;
  readonly port: number;
  readonly events: Ev[] = [];
  /** Every worker pid seen (from `worker-start` lines and status reports). */
  readonly workerPids = new Set<number>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Where its control socket is (`CLUSTERBUS_RUNTIME_DIR`): a directory of its own unless the test gave one. */
  readonly runtimeDir: string;
  private readonly ownsRuntimeDir: boolean;
  private stderr = '';
  /** Everything it wrote on stderr, up to `MAX_STDERR` characters. */
  stderrText = '';
  private listeners = new Set<() => void>();

  constructor(port: number, env: Record<string, string>) {
    this.port = port;
    this.ownsRuntimeDir = env.CLUSTERBUS_RUNTIME_DIR === undefined;
    this.runtimeDir = env.CLUSTERBUS_RUNTIME_DIR ?? privateDir();
    this.child = spawn(process.execPath, ['--import', 'tsx', '--conditions=clusterbus-source', fixture], {
      detached: true,
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test', PORT: String(port), CLUSTERBUS_RUNTIME_DIR: this.runtimeDir, ...env },
    });
    running.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.notify();
        resolve({ code, signal });
      });
    });
    let buffered = '';
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) this.line(line);
      }
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
      if (this.stderrText.length < MAX_STDERR) this.stderrText += chunk;
    });
    // A write after the master died must not fail the test process.
    this.child.stdin?.on('error', () => {});
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** What the master and its workers wrote on stderr (the tail). */
  get errors(): string {
    return this.stderr;
  }

  private line(line: string): void {
    let ev: Ev;
    try {
      ev = JSON.parse(line) as Ev;
    } catch {
      ev = { ev: 'text', pid: 0, line };
    }
    this.events.push(ev);
    if (ev.ev === 'worker-start') this.workerPids.add(ev.pid);
    const status = ev.status as ClusterStatus | undefined;
    if (status) for (const w of status.workers) if (w.pid) this.workerPids.add(w.pid);
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Sends a command line to the master's stdin. */
  command(line: string): void {
    this.child.stdin?.write(line + '\n');
  }

  /** Events named `name` (optionally matching `where`) seen so far. */
  all(name: string, where: (e: Ev) => boolean = () => true): Ev[] {
    return this.events.filter((e) => e.ev === name && where(e));
  }

  /** Log lines of the master's custom logger with this message. */
  logs(msg: string): Ev[] {
    return this.all('log', (e) => e.msg === msg);
  }

  /**
   * Resolves with the first event named `name` matching `where` from index `from` of the
   * event list on; rejects after `timeoutMs` or if the master exits first.
   */
  next(name: string, where: (e: Ev) => boolean = () => true, timeoutMs = 20_000, from = 0): Promise<Ev> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.slice(from).find((e) => e.ev === name && where(e));
        if (found) {
          done();
          resolve(found);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`the master exited while waiting for "${name}"\n${this.stderr.slice(-3000)}`));
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for "${name}"\n${this.stderr.slice(-3000)}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Resolves once the master has seen every worker with one of these pids exit (cluster 'exit'). */
  async exitsSeen(pids: Iterable<number>, timeoutMs = 15_000): Promise<void> {
    for (const pid of pids) await this.next('exit', (e) => e.workerPid === pid, timeoutMs);
  }

  /** Asks for `status()` and resolves with the answer. */
  async status(): Promise<ClusterStatus> {
    const from = this.events.length;
    this.command('status');
    return (await this.next('status', () => true, 10_000, from)).status as ClusterStatus;
  }

  /** Polls `status()` until exactly `n` workers remain and all are ready (drained ones gone). */
  async settled(n: number, timeoutMs = 15_000): Promise<ClusterStatus> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status();
      if (status.workers.length === n && status.workers.every((w) => w.state === 'ready')) return status;
      if (Date.now() > until) throw new Error(`not settled to ${n} ready workers: ${JSON.stringify(status)}`);
      await sleep(50);
    }
  }

  /** Resolves with the status of the first `ready` event (every slot has a ready worker). */
  async ready(timeoutMs = 30_000): Promise<ClusterStatus> {
    return (await this.next('ready', () => true, timeoutMs)).status as ClusterStatus;
  }

  /** Kills the master's whole process group and waits until the master is gone. */
  async kill(): Promise<void> {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
    await Promise.race([this.exited, sleep(5_000)]);
    running.delete(this);
    if (this.ownsRuntimeDir) rmSync(this.runtimeDir, { recursive: true, force: true });
  }
}

const MAX_STDERR = 4_000_000;

/** Command lines still running, for the cleanup hook. */
const clis = new Set<ChildProcess>();

/** What one run of the command line did. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit, in milliseconds. */
  readonly ms: number;
}

/**
 * Runs `clusterbus <args>` (the run-time command line, from source) as its own process, in the
 * repository unless `cwd` says otherwise, looking for masters in `runtimeDir`; as another
 * user with `uid`. Killed if it runs longer than `timeoutMs`.
 */
export function runCli(
  args: readonly string[],
  {
    runtimeDir,
    cwd = repoRoot,
    uid,
    timeoutMs = 60_000,
  }: { runtimeDir: string; cwd?: string; uid?: number; timeoutMs?: number },
): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), '--conditions=clusterbus-source', cliEntry, ...args],
      {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CLUSTERBUS_RUNTIME_DIR: runtimeDir },
        ...(uid === undefined ? {} : { uid, gid: uid }),
      },
    );
    clis.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clis.delete(child);
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Starts a fixture master on a fresh port. */
export async function startMaster(env: Record<string, string> = {}): Promise<Master> {
  return new Master(await freePort(), env);
}

/**
 * For `test.afterEach.always`: kills every master (and its group) this file started, then
 * checks that no worker pid any of them reported is still alive.
 */
export async function killAll(): Promise<number[]> {
  for (const child of clis) child.kill('SIGKILL');
  const masters = [...running];
  await Promise.all(masters.map((m) => m.kill()));
  const pids = masters.flatMap((m) => [m.pid, ...m.workerPids]);
  const alive = await waitDead(pids, 5_000);
  // Last resort, so that a failure here never leaves a process behind.
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  return alive;
}

/**
 * One HTTP exchange: on its own connection (`agent: false`, `Connection: close`), or on a
 * keep-alive connection of `agent`.
 */
export function request(
  port: number,
  path: string,
  method = 'GET',
  timeoutMs = 15_000,
  agent?: http.Agent,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const options: http.RequestOptions = agent
      ? { host: '127.0.0.1', port, path, method, agent, timeout: timeoutMs }
      : { host: '127.0.0.1', port, path, method, agent: false, headers: { connection: 'close' }, timeout: timeoutMs };
    const req = http.request(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** What a load run did. */
export interface LoadStats {
  sent: number;
  failed: number;
  /** Pids that answered, in the order they first did. */
  pids: number[];
  /** The first few failures, for the log. */
  errors: string[];
}

/**
 * A running HTTP load: `concurrency` loops of `GET /`, until stopped, `maxMs` or `maxRequests`.
 * With `keepAlive`, each loop is a client of its own that sends every request on one
 * keep-alive connection (reopened when the server closes it), as ordinary HTTP clients do;
 * otherwise each request opens and closes its own connection. With `pauseMs`, each loop
 * pauses a random time up to that long between its requests.
 */
export interface Load {
  readonly stats: LoadStats;
  /** Stops sending and resolves once every request in flight has settled. */
  stop(): Promise<LoadStats>;
  /** Pids that answered after `mark` (a count of requests sent). */
  pidsSince(mark: number): Set<number>;
  /** When one of `pids` last answered (ms since the epoch), if any did. */
  lastAnswerBy(pids: readonly number[]): number | undefined;
}

export function startLoad(
  port: number,
  { concurrency = 8, maxMs = 6_000, maxRequests = 20_000, keepAlive = false, pauseMs = 0 } = {},
): Load {
  const stats: LoadStats = { sent: 0, failed: 0, pids: [], errors: [] };
  const answered: { n: number; pid: number; at: number }[] = [];
  const until = Date.now() + maxMs;
  let stopped = false;
  const agents: http.Agent[] = [];
  const loop = async (): Promise<void> => {
    const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
    if (agent) agents.push(agent);
    while (!stopped && Date.now() < until && stats.sent < maxRequests) {
      const n = ++stats.sent;
      try {
        const { status, body } = await request(port, '/', 'GET', 15_000, agent);
        if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
        const pid = body.pid as number;
        answered.push({ n, pid, at: Date.now() });
        if (!stats.pids.includes(pid)) stats.pids.push(pid);
      } catch (err) {
        stats.failed++;
        if (stats.errors.length < 5) stats.errors.push((err as Error).message);
      }
      if (pauseMs > 0) await sleep(Math.random() * pauseMs);
    }
  };
  const loops = Promise.all(Array.from({ length: concurrency }, loop));
  return {
    stats,
    async stop() {
      stopped = true;
      await loops;
      for (const agent of agents) agent.destroy();
      return stats;
    },
    pidsSince(mark) {
      return new Set(answered.filter((a) => a.n > mark).map((a) => a.pid));
    },
    lastAnswerBy(pids) {
      let last: number | undefined;
      for (const a of answered) if (pids.includes(a.pid) && (last === undefined || a.at > last)) last = a.at;
      return last;
    },
  };
}

/** Pids of the status's workers in a given state (all states by default). */
export function pidsOf(status: ClusterStatus, state?: string): number[] {
  return status.workers.filter((w) => state === undefined || w.state === state).map((w) => w.pid as number);
}

/** What an HTTP/2 load run did. */
export interface Http2LoadStats extends LoadStats {
  /** Requests the server refused unprocessed (REFUSED_STREAM after its GOAWAY) and that were sent again. */
  retried: number;
  /** Sessions opened (one per client at first, one more each time a server sent GOAWAY). */
  sessions: number;
}

/**
 * An HTTP/2 load: `clients` loops of `GET /`, each on its own session, as HTTP/2 clients
 * behave: a session the server sent GOAWAY on takes no new request, the next one opens a new
 * session, and a request the server refused unprocessed (REFUSED_STREAM, RFC 9113 8.7) is
 * sent again. Runs until stopped, `maxMs` or `maxRequests`.
 */
export function startHttp2Load(
  port: number,
  { clients = 8, maxMs = 20_000, maxRequests = 50_000 } = {},
): { stats: Http2LoadStats; stop(): Promise<Http2LoadStats> } {
  const stats: Http2LoadStats = { sent: 0, failed: 0, pids: [], errors: [], retried: 0, sessions: 0 };
  const until = Date.now() + maxMs;
  const opened: http2.ClientHttp2Session[] = [];
  let stopped = false;
  const connect = (): http2.ClientHttp2Session => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    opened.push(session);
    stats.sessions++;
    return session;
  };
  const once = (session: http2.ClientHttp2Session): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => {
        try {
          resolve((JSON.parse(text) as { pid: number }).pid);
        } catch (err) {
          reject(err as Error);
        }
      });
      req.on('error', reject);
      req.setTimeout(15_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    });
  const loop = async (): Promise<void> => {
    let session = connect();
    while (!stopped && Date.now() < until && stats.sent < maxRequests) {
      stats.sent++;
      for (;;) {
        if (session.closed || session.destroyed) session = connect();
        try {
          const pid = await once(session);
          if (!stats.pids.includes(pid)) stats.pids.push(pid);
          break;
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test((err as Error).message)) {
            stats.retried++;
            continue;
          }
          stats.failed++;
          if (stats.errors.length < 5) stats.errors.push(`${code ?? ''} ${(err as Error).message}`);
          break;
        }
      }
    }
    session.close();
  };
  const loops = Promise.all(Array.from({ length: clients }, loop));
  return {
    stats,
    async stop() {
      stopped = true;
      await loops;
      for (const s of opened) s.destroy();
      return stats;
    },
  };
}
