// The remote host of the NATS conformance run: a master (its router joined to the test's over
// NATS) whose workers are real cluster workers running the conformance handlers. The test
// drives it over IPC: `fork`, `kill`, `drain`, `killAll`.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { busPipeSettings, busReady, configureBus, silentLogger } from 'clusterbus';
import { getBus } from '../../src/bus.js';

interface Command {
  id: number;
  cmd: 'fork' | 'kill' | 'drain' | 'killAll';
  worker?: number;
}

configureBus({
  host: 'conf-b',
  logger: silentLogger,
  startWaitMs: 2_000,
  nats: {
    servers: [process.env.NATS_URL ?? ''],
    namespace: process.env.NATS_NAMESPACE ?? 'conf',
    heartbeatMs: 250,
    deadAfterMs: 1_000,
  },
});
cluster.setupPrimary({
  exec: fileURLToPath(new URL('./cluster-worker.ts', import.meta.url)),
  stdio: busPipeSettings().stdio,
});
getBus();
await busReady();

const exited = (worker: Worker): Promise<void> =>
  new Promise((resolve) => {
    if (worker.isDead()) return resolve();
    worker.once('exit', () => resolve());
  });

process.on('message', (m: Command) => {
  const reply = (value?: unknown): void => {
    process.send?.({ id: m.id, value });
  };
  const worker = m.worker === undefined ? undefined : cluster.workers?.[m.worker];
  switch (m.cmd) {
    case 'fork': {
      const w = cluster.fork({ NODE_ENV: 'test', ...busPipeSettings().env });
      // Its router learns of the fork on the next tick ('fork'), and other hosts after that.
      process.nextTick(() => reply(w.id));
      return;
    }
    case 'kill':
      if (!worker) return reply();
      worker.process.kill('SIGKILL');
      void exited(worker).then(() => reply());
      return;
    case 'drain': {
      if (!worker) return reply();
      const onMessage = (message: unknown): void => {
        if ((message as { conf?: unknown } | null)?.conf !== 'drained') return;
        worker.off('message', onMessage);
        reply();
      };
      worker.on('message', onMessage);
      worker.send({ conf: 'drain' });
      return;
    }
    case 'killAll': {
      const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      for (const w of all) w.process.kill('SIGKILL');
      void Promise.all(all.map(exited)).then(() => reply());
      return;
    }
  }
});
process.send?.({ ready: true });
