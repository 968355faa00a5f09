// The memory transport as the README shows it: this test process routes (peer 0), simulated
// workers join on their own links, and a generated-style messenger is bound to each.
import test from 'ava';
import {
  BadOptionsError,
  MemoryTransport,
  WorkerExitedError,
  bindMessenger,
  configureBus,
  createMessenger,
  silentLogger,
  type Settled,
} from 'clusterbus';
import type { Consume, MapCall } from 'clusterbus/contract';
import { resolveOptions } from '../../src/core/options.js';

interface AppEvents {
  'stats.memory': MapCall<{ detailed: boolean }, { pid: number; rss: number }, { timeoutMs: 2000 }>;
  'mail.send': Consume<{ to: string }>;
}

const memory = new MemoryTransport();
configureBus({ transport: memory, logger: silentLogger });
const messenger = createMessenger<AppEvents>('test/unit/memory-transport.test.ts', {
  'stats.memory': { kind: 'map', timeoutMs: 2000 },
  'mail.send': { kind: 'consume', redeliver: true },
});

test.serial('memory transport - the README example: stats from every worker, and a dead one named', async (t) => {
  const one = memory.addWorker();
  const two = memory.addWorker();
  bindMessenger(messenger, one).on('stats.memory', () => ({ pid: 1, rss: 10 }));
  bindMessenger(messenger, two).on('stats.memory', () => new Promise<never>(() => {}));
  await Promise.all([one.joined, two.joined]);
  const settled = messenger.mapSettled('stats.memory', { detailed: false });
  setTimeout(() => two.fail('killed by SIGKILL'), 10);
  const [a, b] = (await settled) as [Settled<{ pid: number; rss: number }>, Settled<unknown>];
  t.deepEqual(a, { worker: one.id, host: a.host, ok: true, value: { pid: 1, rss: 10 } });
  t.true(!b.ok && b.error instanceof WorkerExitedError);
  t.regex(!b.ok ? b.error.message : '', /killed by SIGKILL/);
  one.fail();
});

test.serial(
  'memory transport - a consume whose worker fails is redelivered; a drained worker gets no new work',
  async (t) => {
    const a = memory.addWorker();
    const b = memory.addWorker();
    const ran: number[] = [];
    bindMessenger(messenger, a).on('mail.send', () => new Promise<void>(() => void ran.push(a.id)));
    bindMessenger(messenger, b).on('mail.send', () => void ran.push(b.id));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // Round-robin may start with either; the one that never answers is failed.
    const sent = messenger.consume('mail.send', { to: 'x' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (ran[0] === a.id) a.fail('killed');
    await sent;
    t.true(ran.includes(b.id), 'the job ran on the worker that answers');
    await b.drain();
    await t.throwsAsync(messenger.consume('mail.send', { to: 'y' }), { code: 'CB_NO_HANDLER' });
  },
);

test('memory transport - a transport option that is not a router transport is refused', (t) => {
  t.throws(() => resolveOptions({ transport: {} as MemoryTransport }), {
    instanceOf: BadOptionsError,
    message: /transport must be a router transport/,
  });
});
