// `npm run demo:hosts`: two hosts on this machine joined over one nats-server. It starts a
// nats-server of its own on a free port (or uses NATS_URL), then the hosts `east` (port 3001)
// and `west` (port 3002), each a master with two workers in its own process group, and prints
// what to try. Ctrl-C stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const hostScript = fileURLToPath(new URL('./host.ts', import.meta.url));
/** The hosts started, each leading its own process group, and the nats-server, if started here. */
const hosts: ChildProcess[] = [];
let natsServer: ChildProcess | undefined;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function natsServerBinary(): string | undefined {
  for (const candidate of [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return undefined;
}

async function startNats(): Promise<string> {
  const bin = natsServerBinary();
  if (!bin) {
    console.error('nats-server is not installed: apt-get install -y nats-server (or set NATS_URL to a running one)');
    process.exit(1);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cb-demo-nats-'));
  const server = spawn(bin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir, '--ports_file_dir', dir], {
    stdio: 'ignore',
  });
  natsServer = server;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 100; i++) {
    const ports = readdirSync(dir).find((f) => f.endsWith('.ports'));
    if (ports) return (JSON.parse(readFileSync(path.join(dir, ports), 'utf8')) as { nats: string[] }).nats[0] as string;
    await sleep(50);
  }
  throw new Error('nats-server did not start');
}

function startHost(name: string, port: number, url: string): ChildProcess {
  const child = spawn(process.execPath, [...process.execArgv, hostScript], {
    env: { ...process.env, HOST_NAME: name, PORT: String(port), NATS_URL: url },
    stdio: 'inherit',
    detached: true,
  });
  hosts.push(child);
  child.once('exit', (code, signal) => console.log(`demo: host ${name} exited (${signal ?? `code ${code ?? '?'}`})`));
  return child;
}

function stopAll(): void {
  for (const child of hosts) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      // The master drains its workers and tells the other hosts it leaves.
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  setTimeout(() => natsServer?.kill('SIGTERM'), 1000).unref();
}

const url = process.env.NATS_URL ?? (await startNats());
console.log(`demo: NATS at ${url}`);
const east = startHost('east', 3001, url);
const west = startHost('west', 3002, url);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopAll();
    setTimeout(() => {
      // Whatever did not stop by itself (a host group, the server) goes now.
      for (const child of hosts) if (child.pid !== undefined) tryKill(-child.pid);
      if (natsServer?.pid !== undefined) tryKill(natsServer.pid);
      process.exit(0);
    }, 3000).unref();
  });
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
await sleep(4000);
console.log(`
demo: try, in another terminal:
  curl localhost:3001/who                        # a map answered by the workers of east and west
  curl -X POST localhost:3001/jobs/j1            # a consume, round-robin over both hosts
  curl -X POST 'localhost:3002/notes?text=hi'    # a broadcast from west to every worker
  curl localhost:3001/status                     # east's workers, and west seen from east
  curl 'localhost:3001/who?delayMs=5000' & sleep 1; kill -9 -${west.pid ?? '<west pid>'}
                                                 # west dies mid-map: its workers are reported
                                                 # failed (host west unreachable) within ~3 s
east master pid ${east.pid ?? '?'}, west master pid ${west.pid ?? '?'}; Ctrl-C stops everything.
`);
