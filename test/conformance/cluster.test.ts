// The conformance scenarios on the cluster transport: this test process is the master (its
// router and its endpoint), and every worker is a real process forked with a bus pipe, as
// `startCluster` forks them.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { busPipeSettings, busStats } from 'clusterbus';
import { getBus } from '../../src/bus.js';
import type { ConformanceBus, Harness } from './harness.js';
import { conformance } from './scenarios.js';

const exec = fileURLToPath(new URL('./cluster-worker.ts', import.meta.url));
cluster.setupPrimary({ exec, stdio: busPipeSettings().stdio });

const joined = (id: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const until = Date.now() + 20_000;
    const check = (): void => {
      const peer = busStats().broker?.peers.find((p) => p.id === id);
      if (peer?.state === 'ready' && peer.handlers.length > 0) resolve();
      else if (Date.now() > until) reject(new Error(`worker ${id} did not join`));
      else setTimeout(check, 10);
    };
    check();
  });

const exited = (worker: Worker): Promise<void> =>
  new Promise((resolve) => {
    if (worker.isDead()) return resolve();
    worker.once('exit', () => resolve());
  });

const clusterHarness: Harness = {
  name: 'cluster',
  async start(count) {
    const workers = new Map<number, Worker>();
    const ids: number[] = [];
    const startWorker = async (): Promise<{ id: number; joined: Promise<void> }> => {
      const worker = cluster.fork({ NODE_ENV: 'test', ...busPipeSettings().env });
      workers.set(worker.id, worker);
      ids.push(worker.id);
      // The router learns of the fork on the next tick ('fork'); wait for that much.
      await new Promise((resolve) => process.nextTick(resolve));
      return { id: worker.id, joined: joined(worker.id) };
    };
    const started = [];
    for (let i = 0; i < count; i++) started.push(await startWorker());
    await Promise.all(started.map((s) => s.joined));
    const conf: ConformanceBus = {
      caller: getBus().endpoint,
      workers: ids,
      startWorker,
      async kill(id) {
        const worker = workers.get(id) as Worker;
        worker.process.kill('SIGKILL');
        await exited(worker);
      },
      drain: (id) =>
        new Promise<void>((resolve) => {
          const worker = workers.get(id) as Worker;
          const onMessage = (message: unknown): void => {
            if ((message as { conf?: unknown } | null)?.conf !== 'drained') return;
            worker.off('message', onMessage);
            resolve();
          };
          worker.on('message', onMessage);
          worker.send({ conf: 'drain' });
        }),
      async close() {
        for (const worker of workers.values()) worker.process.kill('SIGKILL');
        await Promise.all([...workers.values()].map(exited));
      },
    };
    return conf;
  },
};

test.after.always(() => {
  for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
});

conformance(test, clusterHarness);
