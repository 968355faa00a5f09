/**
 * The master's control socket: what `clusterbus status` and `clusterbus reload` talk to. A
 * Unix socket only this user can open (see `runtime-dir.ts` for why the file system is the
 * gate), one request per connection (`protocol.ts`). Setting it up never stops the master from
 * starting: if it cannot be set up, the master logs why and runs without it.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { localHost } from '../core/peer-id.js';
import type { EndpointStats } from '../core/endpoint/endpoint.js';
import type { BrokerStats } from '../core/router/router.js';
import { BusError, ControlSocketError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ClusterStatus } from '../supervision/cluster-options.js';
import {
  CONTROL_PROTOCOL_VERSION,
  MAX_REQUEST_BYTES,
  parseControlRequest,
  type ControlAnswer,
  type MasterIdentity,
  type ReloadReport,
  type ReplacedWorker,
  type StatusReport,
  type WorkerReport,
} from './protocol.js';
import {
  appName,
  checkSocketPathLength,
  ensurePrivateDir,
  listSockets,
  runtimeDir,
  socketPath,
} from './runtime-dir.js';
import { sampleUsage } from './usage.js';

/** How long CPU use is measured for `status`. */
export const SAMPLE_WINDOW_MS = 500;

/** A connection that has not sent its request line within this long is closed. */
const REQUEST_TIMEOUT_MS = 10_000;

/** What the control socket acts on: the master's supervisor and bus. */
export interface ControlTarget {
  status(): ClusterStatus;
  reload(): Promise<void>;
  readonly shuttingDown: boolean;
  busStats(): { endpoint: EndpointStats; broker?: BrokerStats };
}

export interface ControlServerOptions {
  /** `true`: `<runtime dir>/<app>.<pid>.sock`; a string: that path. */
  readonly socket: true | string;
  readonly target: ControlTarget;
  readonly logger: Logger;
  /** The workers' entry file, which names the socket. */
  readonly entry: string | undefined;
}

/** A listening control socket. */
export class ControlServer {
  private constructor(
    /** The socket file's path. */
    readonly path: string,
    private readonly identity: MasterIdentity,
    private readonly target: ControlTarget,
    private readonly ino: number,
  ) {}

  /**
   * Listens on the control socket. Returns `undefined` (after logging why) when it cannot: on
   * Windows, or when the directory is not private to this user, or the path is taken by a
   * live master.
   */
  static async open(options: ControlServerOptions): Promise<ControlServer | undefined> {
    if (process.platform === 'win32') return undefined;
    try {
      return await ControlServer.listen(options);
    } catch (err) {
      const e =
        err instanceof ControlSocketError
          ? err
          : new ControlSocketError('refused', `cannot listen on the control socket: ${String(err)}`, err);
      options.logger.error('control socket disabled: clusterbus status and reload cannot reach this master', {
        code: e.code,
        error: e.message,
      });
      return undefined;
    }
  }

  private static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const explicit = typeof options.socket === 'string';
    let file: string;
    if (typeof options.socket === 'string') {
      file = path.resolve(options.socket);
      if (!ensurePrivateDir(path.dirname(file), false)) {
        throw new ControlSocketError('unsafe', `the directory of the control socket ${file} does not exist`);
      }
    } else {
      const dir = runtimeDir();
      ensurePrivateDir(dir, true);
      file = socketPath(dir, appName(options.entry), process.pid);
    }
    checkSocketPathLength(file);
    const server = net.createServer();
    try {
      await bind(server, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      // A socket file left by a process that died without removing it (this pid's, reused:
      // a container restarted with the same writable layer has its master at pid 1 again).
      const st = fs.lstatSync(file);
      if (!st.isSocket() || st.uid !== process.getuid?.()) {
        throw new ControlSocketError('refused', `${file} exists and is not a control socket of this user`);
      }
      if (await answers(file)) {
        throw new ControlSocketError('refused', `another process listens on the control socket ${file}`);
      }
      fs.unlinkSync(file);
      await bind(server, file);
    }
    fs.chmodSync(file, 0o600);
    // The master runs as long as its workers do; the socket must not keep it alive beyond that.
    server.unref();
    const identity: MasterIdentity = {
      pid: process.pid,
      host: localHost(),
      cwd: realCwd(),
      entry: options.entry,
      startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
      node: process.version,
      socket: file,
    };
    const control = new ControlServer(file, identity, options.target, fs.statSync(file).ino);
    server.on('connection', (socket) => control.serve(socket));
    server.on('error', (err) => options.logger.warn('control socket error', { error: err.message }));
    process.once('exit', () => control.removeFile());
    options.logger.info('control socket listening', { socket: file });
    if (!explicit) void sweepStale(path.dirname(file), file);
    return control;
  }

  private removeFile(): void {
    try {
      // Only the file this master created: never another master's that took its place.
      if (fs.statSync(this.path).ino === this.ino) fs.unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private serve(socket: net.Socket): void {
    socket.on('error', () => {
      // The command line went away; nothing to tell it.
    });
    socket.setEncoding('utf8');
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    let buffered = '';
    const onData = (chunk: string): void => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0 && buffered.length <= MAX_REQUEST_BYTES) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      if (nl < 0) {
        this.answer(socket, { v: CONTROL_PROTOCOL_VERSION, ok: false, error: 'request too long' });
        return;
      }
      void this.handle(buffered.slice(0, nl)).then((answer) => this.answer(socket, answer));
    };
    socket.on('data', onData);
  }

  private answer(socket: net.Socket, answer: ControlAnswer): void {
    if (!socket.destroyed) socket.end(JSON.stringify(answer) + '\n');
  }

  private async handle(line: string): Promise<ControlAnswer> {
    const request = parseControlRequest(line);
    const v = CONTROL_PROTOCOL_VERSION;
    if (!request) return { v, ok: false, error: `not a control request of version ${v}` };
    try {
      switch (request.cmd) {
        case 'hello':
          return { v, ok: true, hello: this.identity };
        case 'status':
          return { v, ok: true, status: await this.statusReport() };
        case 'reload':
          return { v, ok: true, reload: await this.reload() };
      }
    } catch (err) {
      return { v, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private async statusReport(): Promise<StatusReport> {
    const before = this.target.status();
    const pids = [process.pid, ...before.workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]))];
    const usage = await sampleUsage(pids, SAMPLE_WINDOW_MS);
    // Read again after the window: a worker may have been replaced meanwhile.
    const status = this.target.status();
    const none = { rssBytes: undefined, cpuPercent: undefined };
    const workers: WorkerReport[] = status.workers.map((w) => ({
      ...w,
      ...((w.pid === undefined ? undefined : usage.get(w.pid)) ?? none),
    }));
    const { endpoint, broker } = this.target.busStats();
    return {
      master: {
        ...this.identity,
        ...(usage.get(process.pid) ?? none),
        uptimeMs: Math.round(process.uptime() * 1000),
        shuttingDown: this.target.shuttingDown,
      },
      workers,
      slots: status.slots,
      reloading: status.reloading,
      healthy: status.healthy,
      bus: broker === undefined ? { endpoint } : { endpoint, broker },
      ...(status.nats ? { nats: status.nats } : {}),
      sampleWindowMs: SAMPLE_WINDOW_MS,
    };
  }

  private async reload(): Promise<ReloadReport> {
    const before = servingPids(this.target.status());
    const started = performance.now();
    let error: ReloadReport['error'];
    try {
      await this.target.reload();
    } catch (err) {
      error = {
        code: err instanceof BusError ? err.code : undefined,
        message: err instanceof Error ? err.message : String(err),
      };
    }
    const after = servingPids(this.target.status());
    const replaced: ReplacedWorker[] = [];
    for (const [slot, toPid] of after) {
      const fromPid = before.get(slot);
      if (fromPid !== toPid) replaced.push({ slot, fromPid, toPid });
    }
    for (const [slot, fromPid] of before) {
      if (!after.has(slot)) replaced.push({ slot, fromPid, toPid: undefined });
    }
    replaced.sort((a, b) => a.slot - b.slot);
    const durationMs = Math.round(performance.now() - started);
    return error ? { ok: false, durationMs, replaced, error } : { ok: true, durationMs, replaced };
  }
}

/** The pid serving each slot: its ready worker (not one draining), else the one starting. */
function servingPids(status: ClusterStatus): Map<number, number | undefined> {
  const out = new Map<number, number | undefined>();
  for (const w of status.workers) if (w.state === 'ready') out.set(w.index, w.pid);
  for (const w of status.workers) if (w.state === 'starting' && !out.has(w.index)) out.set(w.index, w.pid);
  return out;
}

function realCwd(): string {
  try {
    return fs.realpathSync(process.cwd());
  } catch {
    return process.cwd();
  }
}

function bind(server: net.Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(file, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Whether something accepts connections on `file` (a stale socket file refuses them). */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Removes the socket files in `dir` that nobody listens on any more (masters that were
 * killed), so that the command line does not keep finding them. A socket that refuses a
 * connection is dead whatever its name says, even one of a master in another pid namespace
 * sharing the directory.
 */
async function sweepStale(dir: string, own: string): Promise<void> {
  for (const file of listSockets(dir)) {
    if (file === own) continue;
    try {
      const st = fs.lstatSync(file);
      if (!st.isSocket() || st.uid !== process.getuid?.()) continue;
      if (!(await answers(file))) fs.unlinkSync(file);
    } catch {
      // Removed meanwhile, or not ours to remove.
    }
  }
}
