// The conformance scenarios on the memory transport: a router and simulated workers in this
// process, each worker an endpoint on its own in-memory link.
import test from 'ava';
import { MemoryTransport, silentLogger, type MemoryWorker } from 'clusterbus';
import { createRouterBus } from '../../src/bus.js';
import { resolveOptions } from '../../src/core/options.js';
import { registerHandlers } from './handlers.js';
import type { ConformanceBus, Harness } from './harness.js';
import { conformance } from './scenarios.js';

const memory: Harness = {
  name: 'memory',
  async start(count) {
    const transport = new MemoryTransport();
    const bus = createRouterBus(resolveOptions({ logger: silentLogger, startWaitMs: 2_000 }), transport);
    const workers = new Map<number, MemoryWorker>();
    const joined = (id: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          const peer = bus.router?.stats().peers.find((p) => p.id === id);
          if (peer?.state === 'ready') resolve();
          else setTimeout(check, 2);
        };
        check();
      });
    const startWorker = async (): Promise<{ id: number; joined: Promise<void> }> => {
      const worker = transport.addWorker({ logger: silentLogger });
      registerHandlers((ev, h) => worker.endpoint.on(ev, h), worker.id, []);
      workers.set(worker.id, worker);
      ids.push(worker.id);
      return { id: worker.id, joined: joined(worker.id) };
    };
    const ids: number[] = [];
    for (let i = 0; i < count; i++) await (await startWorker()).joined;
    const conf: ConformanceBus = {
      caller: bus.endpoint,
      workers: ids,
      startWorker,
      async kill(id) {
        workers.get(id)?.fail('killed by SIGKILL');
        await new Promise((resolve) => setImmediate(resolve));
      },
      drain: (id) => (workers.get(id) as MemoryWorker).drain(),
      async close() {
        for (const w of workers.values()) w.endpoint.close();
        bus.close();
      },
    };
    return conf;
  },
};

conformance(test, memory);
