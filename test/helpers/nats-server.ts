// Real nats-server processes for tests. Each server gets random ports on 127.0.0.1 and its own
// temp dir, so tests never touch a server someone else runs (there may be one on 4222), and every
// server is killed by the pid this helper started: never by name, which would hit that server too.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext, ImplementationFn, TestFn } from 'ava';
import { freePort } from './ports.js';

/** The one line that tells a developer or CI how to get nats-server. */
export const NATS_SERVER_MISSING =
  'nats-server is not installed: apt-get install -y nats-server (or set NATS_SERVER_BIN)';

const READY_TIMEOUT_MS = 10_000;
const CLUSTER_TIMEOUT_MS = 15_000;
const KILL_GRACE_MS = 2_000;
const STDERR_KEEP_CHARS = 64 * 1024;
const POLL_MS = 20;

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The nats-server binary to run, or `undefined` when there is none. `NATS_SERVER_BIN` wins and,
 * when set, is the only candidate: someone who points at a binary wants that one (or wants to
 * test the missing-server path), not a silent fallback to another version. Debian installs into
 * /usr/sbin, which is often not on a non-root PATH, hence the fixed paths before PATH.
 */
export function natsServerBinary(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return isExecutableFile(fromEnv) ? fromEnv : undefined;
  for (const file of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (isExecutableFile(file)) return file;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return undefined;
}

function missingMessage(): string {
  const fromEnv = process.env.NATS_SERVER_BIN;
  return fromEnv
    ? `${NATS_SERVER_MISSING} [NATS_SERVER_BIN=${fromEnv} is not an executable file]`
    : NATS_SERVER_MISSING;
}

// `CI=false` or `CI=0` is how people switch CI mode off in most tools; honour that too.
function inCi(): boolean {
  const ci = process.env.CI;
  return !!ci && ci !== 'false' && ci !== '0';
}

/** Declares tests that need nats-server; see `natsTest`. */
export type NatsTestFn<Context = unknown> = {
  (title: string, implementation: ImplementationFn<[], Context>): void;
  serial(title: string, implementation: ImplementationFn<[], Context>): void;
};

/**
 * Wraps ava's `test` for tests that need nats-server. With the binary present the tests are
 * ordinary tests. Without it, in CI (`CI` set) they fail, because a skipped test is a green CI
 * run that tested nothing; locally they are skipped, with one line on stderr per test file so that
 * nobody mistakes the green run for a tested one.
 *
 *     const ntest = natsTest(test);
 *     ntest('nats - something', async (t) => { const server = await startNatsServer(t); ... });
 */
export function natsTest<Context = unknown>(test: TestFn<Context>): NatsTestFn<Context> {
  const present = natsServerBinary() !== undefined;
  const ci = inCi();
  const failing: ImplementationFn<[], Context> = (t) => {
    t.fail(missingMessage());
  };
  let skipped = 0;
  const skip = (): void => {
    // Counted at exit rather than after the first registration: a file may declare its tests
    // after a top-level await, and the line should carry the file's whole count.
    if (skipped++ === 0) {
      process.once('exit', () => {
        const file = relative(process.cwd(), fileURLToPath(test.meta.file));
        process.stderr.write(`\n!!! ${file}: SKIPPED ${skipped} NATS test(s): ${missingMessage()}\n\n`);
      });
    }
  };
  const declare = (serial: boolean) => (title: string, implementation: ImplementationFn<[], Context>) => {
    const base = serial ? test.serial : test;
    if (present) base(title, implementation);
    else if (ci) base(title, failing);
    else {
      base.skip(title, implementation);
      skip();
    }
  };
  return Object.assign(declare(false), { serial: declare(true) });
}

/** Options of `startNatsServer`. */
export interface NatsServerOptions {
  /** Extra config-file text (e.g. `max_payload: 65536`), written to a file passed with `-c`. Flags win over it. */
  config?: string;
  /** Enables JetStream with its store in the server's temp dir. */
  jetstream?: boolean;
  /** More command-line arguments, after the helper's own. */
  args?: string[];
}

/** A running nats-server started by `startNatsServer`. */
export interface NatsServer {
  /** The process id; only ever signalled through the helper's own child handle. */
  readonly pid: number;
  /** The client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** The monitoring URL, `http://127.0.0.1:<port>`. */
  readonly monitorUrl: string;
  /** The route URL, when the server was started with `--cluster`. */
  readonly clusterUrl: string | undefined;
  /** The server's temp dir (config file, JetStream store, ports file); removed at teardown. */
  readonly dir: string;
  /** Whether the process has not exited yet. */
  running(): boolean;
  /** The last `lines` lines the server logged (it logs to stderr). */
  stderrTail(lines?: number): string;
  /** Sends `signal` and waits for the exit; SIGKILLs after `graceMs`. Resolves at once if it already exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** SIGKILLs the server and waits for the exit. */
  kill(): Promise<void>;
}

/** What `startNatsServer` needs of ava's `t`: only `teardown`, so any context type will do. */
export type Teardown = Pick<ExecutionContext<unknown>, 'teardown'>;

interface PortsFile {
  nats?: string[];
  monitoring?: string[];
  cluster?: string[];
}

// The servers this process started that have not exited, and the temp dirs no teardown has
// removed yet. The hooks are the last resort for a test that never reached its teardown: a crash
// or process.exit ('exit'), and ava's timeout, which ends the test process with SIGTERM and so
// runs no 'exit' listener. Nothing helps against SIGKILL of this process.
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
const FATAL_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
let hooksInstalled = false;

function cleanUpNow(): void {
  // child.kill, not process.kill(pid): it refuses once the child was reaped, so a reused pid is safe.
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

function onFatalSignal(signal: NodeJS.Signals): void {
  cleanUpNow();
  for (const s of FATAL_SIGNALS) process.removeListener(s, onFatalSignal);
  // Listening took away the signal's default action; with no other listener, die of it as before.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanUpNow);
  for (const s of FATAL_SIGNALS) process.on(s, onFatalSignal);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return exited(child) ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function canConnect(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// The file is `<executable name>_<pid>.ports`; matching on the pid alone keeps a renamed binary
// (NATS_SERVER_BIN=/opt/nats-server-2.10) working.
async function readPorts(dir: string, pid: number): Promise<PortsFile | undefined> {
  const name = (await readdir(dir)).find((f) => f.endsWith(`_${pid}.ports`));
  if (!name) return undefined;
  try {
    return JSON.parse(await readFile(join(dir, name), 'utf8')) as PortsFile;
  } catch {
    return undefined; // caught mid-write; the next poll sees it whole
  }
}

/**
 * Starts one nats-server on random ports of 127.0.0.1 and waits until it takes client
 * connections. A `t.teardown` stops it (SIGTERM, SIGKILL after 2 s) and removes its temp dir,
 * whether the test passed or not. Throws, with the server's last log lines, when the server
 * exits or is not ready within 10 s, or when nats-server is not installed.
 */
export async function startNatsServer(t: Teardown, opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = natsServerBinary();
  if (!bin) throw new Error(missingMessage());
  installExitHooks();
  const dir = await mkdtemp(join(tmpdir(), 'clusterbus-nats-'));
  dirs.add(dir);
  const args = ['-a', '127.0.0.1', '-p', '-1', '-m', '-1', '--ports_file_dir', dir];
  if (opts.config !== undefined) {
    const file = join(dir, 'server.conf');
    await writeFile(file, opts.config + '\n');
    args.push('-c', file);
  }
  if (opts.jetstream) {
    const store = join(dir, 'jetstream');
    await mkdir(store);
    args.push('-js', '-sd', store);
  }
  args.push(...(opts.args ?? []));
  // Go's flag package takes -cluster, --cluster and --cluster=url alike.
  const wantsCluster = args.some((a) => /^--?cluster(=|$)/.test(a));

  const startedAt = Date.now();
  // stdout is unused (the server logs to stderr); stderr must be drained or a chatty server blocks.
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP_CHARS);
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  live.add(child);
  child.once('exit', () => live.delete(child));

  const stderrTail = (lines = 20): string => stderr.trimEnd().split('\n').slice(-lines).join('\n');
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = KILL_GRACE_MS): Promise<void> => {
    if (exited(child)) return;
    const gone = waitForExit(child);
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  };
  // Registered before the wait, so that a server that never becomes ready is cleaned up too.
  t.teardown(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
    dirs.delete(dir);
  });

  const fail = (why: string): Error =>
    new Error(
      `nats-server ${bin} (pid ${child.pid ?? 'none'}) did not become ready: ${why}\n` +
        `args: ${args.join(' ')}\n--- stderr tail ---\n${stderrTail() || '(empty)'}`,
    );
  let ports: PortsFile | undefined;
  let reachable = false;
  while (!reachable) {
    if (spawnError) throw fail(spawnError.message);
    if (exited(child)) {
      // Let the last lines of the log arrive before quoting them.
      await sleep(50);
      throw fail(`it exited with ${child.exitCode ?? child.signalCode}`);
    }
    if (Date.now() - startedAt > READY_TIMEOUT_MS) {
      throw fail(
        `timed out after ${READY_TIMEOUT_MS} ms ${ports ? 'connecting to its client port' : 'waiting for its ports file'}`,
      );
    }
    if (child.pid !== undefined && !ports?.nats?.[0]) {
      const read = await readPorts(dir, child.pid);
      if (read?.nats?.[0] && read.monitoring?.[0] && (!wantsCluster || read.cluster?.[0])) ports = read;
    }
    if (ports?.nats?.[0]) reachable = await canConnect(ports.nats[0]);
    if (!reachable) await sleep(POLL_MS);
  }

  return {
    pid: child.pid!,
    url: ports!.nats![0]!,
    monitorUrl: ports!.monitoring![0]!,
    clusterUrl: ports!.cluster?.[0],
    dir,
    running: () => !exited(child),
    stderrTail,
    stop,
    kill: () => stop('SIGKILL'),
  };
}

/** Options of `startNatsCluster`: each server's, as for `startNatsServer`. */
export type NatsClusterOptions = NatsServerOptions;

/** A routed cluster started by `startNatsCluster`. */
export interface NatsCluster {
  /** The servers in order, named s1, s2, ...; s1 is the seed the others route to. */
  readonly servers: NatsServer[];
  /** Each server's client URL, in the same order. */
  readonly urls: string[];
  /** Stops every server (the teardown does it too). */
  stop(): Promise<void>;
}

/**
 * Starts `size` servers as one routed cluster ("cbtest") and waits until every server has a
 * route to every other (15 s), so a test can publish on one server and expect a subscriber on
 * another to be known. The others route only to s1; the full mesh comes from the servers'
 * gossip, which is exactly what waiting for `/routez` checks. With `jetstream`, it also waits
 * until the JetStream meta group has a leader, since until then every JetStream API call fails.
 */
export async function startNatsCluster(t: Teardown, size = 3, opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`startNatsCluster: size must be an integer >= 1, got ${size}`);
  const extra = opts.args ?? [];
  const jetstream = !!opts.jetstream || extra.includes('-js') || extra.includes('--jetstream');
  const clusterArgs = (n: number, listen: string): string[] => [
    '--cluster',
    listen,
    '--cluster_name',
    'cbtest',
    '--server_name',
    `s${n}`,
  ];

  const seed = await startSeed(t, opts, jetstream, clusterArgs);
  const others = await Promise.all(
    Array.from({ length: size - 1 }, (_, i) =>
      startNatsServer(t, {
        ...opts,
        args: [...clusterArgs(i + 2, 'nats://127.0.0.1:-1'), '--routes', seed.clusterUrl!, ...extra],
      }),
    ),
  );
  const servers = [seed, ...others];

  const until = Date.now() + CLUSTER_TIMEOUT_MS;
  const timedOut = (what: string): Error => {
    const logs = servers.map((s, i) => `--- s${i + 1} (pid ${s.pid}) stderr tail ---\n${s.stderrTail(10)}`);
    return new Error(
      `nats cluster of ${size} did not form within ${CLUSTER_TIMEOUT_MS} ms: ${what}\n${logs.join('\n')}`,
    );
  };
  const each = <T>(path: string, pick: (body: T) => unknown): Promise<unknown[]> =>
    Promise.all(servers.map((s) => monitor<T>(s, path).then(pick, (err: Error) => `error: ${err.message}`)));
  for (;;) {
    // Servers since 2.10 may pool several connections per route, hence >= rather than ===.
    const routes = await each<{ num_routes: number }>('/routez', (r) => r.num_routes);
    if (routes.every((n) => typeof n === 'number' && n >= size - 1)) break;
    if (Date.now() > until) throw timedOut(`routes per server ${routes.join(', ')} (want ${size - 1} each)`);
    await sleep(50);
  }
  while (jetstream) {
    const leaders = await each<{ meta_cluster?: { leader?: string } }>('/jsz', (j) => j.meta_cluster?.leader);
    if (leaders.every((l) => typeof l === 'string' && l !== '' && !l.startsWith('error: '))) break;
    if (Date.now() > until) throw timedOut(`JetStream meta leader per server: ${leaders.join(', ')}`);
    await sleep(50);
  }

  return {
    servers,
    urls: servers.map((s) => s.url),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

// A clustered JetStream server refuses to start without a configured route, and the seed has no
// one to route to yet. It routes to itself instead (nats-server ignores a route to itself), which
// needs its cluster port before it starts: a free port from the OS, retried should another
// process take it in the meantime.
async function startSeed(
  t: Teardown,
  opts: NatsClusterOptions,
  jetstream: boolean,
  clusterArgs: (n: number, listen: string) => string[],
): Promise<NatsServer> {
  const extra = opts.args ?? [];
  if (!jetstream) return startNatsServer(t, { ...opts, args: [...clusterArgs(1, 'nats://127.0.0.1:-1'), ...extra] });
  for (let attempt = 1; ; attempt++) {
    const route = `nats://127.0.0.1:${await freePort()}`;
    try {
      return await startNatsServer(t, { ...opts, args: [...clusterArgs(1, route), '--routes', route, ...extra] });
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

/** The fields of `/varz` tests use; the endpoint returns many more, reachable through the index signature. */
export interface Varz {
  server_id: string;
  server_name: string;
  version: string;
  max_payload: number;
  max_pending: number;
  slow_consumers: number;
  connections: number;
  in_msgs: number;
  out_msgs: number;
  [field: string]: unknown;
}

/** The server's `/varz` from its monitoring port (e.g. `slow_consumers`, `max_payload`). */
export function varz(server: Pick<NatsServer, 'monitorUrl'>): Promise<Varz> {
  return monitor<Varz>(server, '/varz');
}

// node:http with no agent rather than fetch: no pooled keep-alive socket outlives the call and
// holds the server (or the test process) open.
function monitor<T>(server: Pick<NatsServer, 'monitorUrl'>, path: string): Promise<T> {
  const url = new URL(path, server.monitorUrl);
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}: ${body}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(new Error(`GET ${url.href}: not JSON: ${(err as Error).message}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.href}: timed out`)));
    req.on('error', reject);
  });
}
