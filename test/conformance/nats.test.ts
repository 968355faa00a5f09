// The conformance scenarios across machines: this test process is one host (its router, with
// its endpoint as the caller, and no workers of its own), and every worker lives on another
// host, a master process joined over a real nats-server, so every call crosses NATS.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { MemoryTransport, silentLogger } from 'clusterbus';
import { createRouterBus, type ProcessBus } from '../../src/bus.js';
import { resolveOptions } from '../../src/core/options.js';
import { natsServerBinary, natsTest, startNatsServer } from '../helpers/nats-server.js';
import type { ConformanceBus, Harness } from './harness.js';
import { conformance } from './scenarios.js';

const hostScript = fileURLToPath(new URL('./nats-host.ts', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let url = '';
let remote: ChildProcess | undefined;
const pending = new Map<number, (value: unknown) => void>();
let nextId = 1;

/** Asks the remote host to do something; resolves with its answer. */
function ask(cmd: string, worker?: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, resolve);
    if (!remote?.connected) return reject(new Error('the remote host is gone'));
    remote.send({ id, cmd, ...(worker === undefined ? {} : { worker }) });
  });
}

if (natsServerBinary() !== undefined) {
  // Hooks have no t.teardown: the server is stopped in the after hook.
  const teardowns: (() => unknown)[] = [];
  test.before(async () => {
    const server = await startNatsServer({ teardown: (fn) => void teardowns.push(fn) }, { jetstream: true });
    url = server.url;
    const child = spawn(process.execPath, [...process.execArgv, hostScript], {
      env: { ...process.env, NODE_ENV: 'test', NATS_URL: url },
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    remote = child;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the remote host exited (${String(code)})`)));
      child.on('message', (m: { ready?: boolean; id?: number; value?: unknown }) => {
        if (m.ready) resolve();
        else if (typeof m.id === 'number') {
          pending.get(m.id)?.(m.value);
          pending.delete(m.id);
        }
      });
    });
  });
  test.after.always(async () => {
    if (remote?.pid !== undefined) {
      try {
        process.kill(-remote.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const fn of teardowns) await fn();
  });
}

/** Polls the router until `check` holds for the remote peers it knows. */
async function until(
  bus: ProcessBus,
  check: (peers: { id: number; state: string }[]) => boolean,
  what: string,
): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const peers = bus.router?.stats().peers.filter((p) => p.host === 'conf-b' && p.id !== 0) ?? [];
    if (check(peers)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(peers)}`);
    await sleep(10);
  }
}

const nats: Harness = {
  name: 'nats',
  async start(count) {
    const bus = createRouterBus(
      resolveOptions({
        host: 'conf-a',
        logger: silentLogger,
        startWaitMs: 2_000,
        nats: { servers: [url], namespace: 'conf', heartbeatMs: 250, deadAfterMs: 1_000 },
      }),
      new MemoryTransport(),
    );
    await bus.ready;
    const ids: number[] = [];
    const startWorker = async (): Promise<{ id: number; joined: Promise<void> }> => {
      const id = (await ask('fork')) as number;
      ids.push(id);
      // It exists for this host's router once its host announced it (starting).
      await until(bus, (peers) => peers.some((p) => p.id === id), `worker ${id} to be announced`);
      const joined = until(
        bus,
        (peers) => peers.some((p) => p.id === id && p.state === 'ready'),
        `worker ${id} to join`,
      );
      return { id, joined };
    };
    const started = [];
    for (let i = 0; i < count; i++) started.push(await startWorker());
    await Promise.all(started.map((s) => s.joined));
    const conf: ConformanceBus = {
      caller: bus.endpoint,
      workers: ids,
      startWorker,
      async kill(id) {
        await ask('kill', id);
      },
      async drain(id) {
        await ask('drain', id);
      },
      async close() {
        await ask('killAll');
        await until(bus, (peers) => peers.length === 0, 'the workers to be gone');
        await bus.leave();
      },
    };
    return conf;
  },
};

// Without nats-server these fail under CI and are skipped, loudly, elsewhere.
conformance(natsTest(test), nats);
