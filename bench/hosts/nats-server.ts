/**
 * The benchmark's own nats-server: random client port on 127.0.0.1 (`-p -1`, read back from
 * the ports file in a temporary directory), never the server someone else may run on 4222.
 * It is tracked (bench/cleanup.ts) and so killed by its pid when the driver ends, fails or is
 * interrupted; with `setpriv` (util-linux) it also gets SIGKILL should the driver itself be
 * SIGKILLed (`--pdeathsig`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { removeDir, track, trackDir } from '../cleanup.js';

const READY_TIMEOUT_MS = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface BenchNats {
  readonly url: string;
  readonly pid: number;
  readonly command: string;
  stop(): Promise<void>;
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The nats-server binary: `NATS_SERVER_BIN`, else /usr/sbin, /usr/bin, then PATH. */
export function natsServerBinary(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return executable(fromEnv) ? fromEnv : undefined;
  const dirs = ['/usr/sbin', '/usr/bin', ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  return dirs.map((d) => path.join(d, 'nats-server')).find(executable);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Starts one nats-server and resolves once it takes connections. */
export async function startNatsServer(): Promise<BenchNats> {
  const bin = natsServerBinary();
  if (!bin) throw new Error('nats-server not found (apt-get install nats-server, or set NATS_SERVER_BIN)');
  const dir = trackDir(fs.mkdtempSync(path.join(os.tmpdir(), 'clusterbus-bench-nats-')));
  const args = ['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir];
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find(executable);
  // setpriv execs nats-server: the child's pid is the server's.
  const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', bin, ...args]] : [bin, args];
  const child: ChildProcess = track(spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8192)));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const stop = async (): Promise<void> => {
    if (!exited()) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await gone;
      clearTimeout(timer);
    }
    removeDir(dir);
  };
  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`nats-server ${bin} did not start: ${why}\n${stderr.trimEnd().split('\n').slice(-10).join('\n')}`);
  };

  const until = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError) return fail(spawnError.message);
    if (exited()) return fail(`it exited (${child.exitCode ?? child.signalCode ?? '?'})`);
    if (Date.now() > until) return fail(`not ready within ${READY_TIMEOUT_MS} ms`);
    const name = fs.readdirSync(dir).find((f) => f.endsWith(`_${child.pid ?? -1}.ports`));
    if (name) {
      try {
        const ports = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url && (await canConnect(Number(new URL(url).port)))) {
          return { url, pid: child.pid ?? 0, command: [bin, ...args].join(' '), stop };
        }
      } catch {
        // caught mid-write: the next poll reads it whole
      }
    }
    await sleep(20);
  }
}
