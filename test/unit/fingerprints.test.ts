// Contract versions on one bus: a request goes only to workers whose fingerprint of the event
// is the caller's; the others are reported per worker (map), skipped (consume, broadcast), and
// never handed a payload they might misread. On the memory transport, with real routers and
// endpoints.
import test, { type ExecutionContext } from 'ava';
import { ContractMismatchError, MemoryTransport, silentLogger, type Settled } from 'clusterbus';
import { createRouterBus } from '../../src/bus.js';
import { resolveOptions } from '../../src/core/options.js';

const V1 = '1111111111111111';
const V2 = '2222222222222222';

async function setup(
  t: ExecutionContext,
  versions: (string | undefined)[] = [V1, V1, V2, undefined],
): Promise<{
  bus: ReturnType<typeof createRouterBus>;
  got: Map<number, string[]>;
}> {
  const transport = new MemoryTransport();
  const bus = createRouterBus(resolveOptions({ logger: silentLogger, host: 'h' }), transport);
  t.teardown(() => bus.close());
  const got = new Map<number, string[]>();
  // By default workers 1 and 2 on v1, worker 3 on v2, worker 4 without fingerprints (a hand-written table).
  for (const fingerprint of versions) {
    const worker = transport.addWorker({ logger: silentLogger });
    const seen: string[] = [];
    got.set(worker.id, seen);
    const hints = fingerprint === undefined ? {} : { fingerprint };
    worker.endpoint.on('e.ask', (p) => ({ me: worker.id, p }), hints);
    worker.endpoint.on('e.job', (p) => void seen.push(`job:${String(p)}`), hints);
    worker.endpoint.on('e.note', (p) => void seen.push(`note:${String(p)}`), hints);
  }
  for (let i = 0; i < 100; i++) {
    const ready = bus.router?.stats().peers.filter((p) => p.state === 'ready' && p.handlers.length === 3).length;
    if (ready === versions.length) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { bus, got };
}

const base = { timeoutMs: 2_000, maxPayloadBytes: 1024 * 1024 } as const;

test('fingerprints - mapSettled gets a ContractMismatchError for each worker on another version, the others answer', async (t) => {
  const { bus } = await setup(t);
  const settled = (await bus.endpoint.request({
    ...base,
    ev: 'e.ask',
    op: 'mapSettled',
    payload: 'x',
    fingerprint: V1,
  })) as Settled<{
    me: number;
  }>[];
  t.deepEqual(
    settled.map((s) => [s.worker, s.ok]),
    [
      [1, true],
      [2, true],
      [3, false],
      [4, true],
    ],
  );
  const err = (settled[2] as { error: unknown }).error as ContractMismatchError;
  t.true(err instanceof ContractMismatchError);
  t.is(err.code, 'CB_CONTRACT_MISMATCH');
  t.is(err.expected, V1);
  t.is(err.actual, V2);
  t.is(err.worker, 3);
  t.regex(
    err.message,
    /worker 3 handles "e\.ask" under another version of the contract \(fingerprint 2222222222222222, the caller's 1111111111111111\)/,
  );
});

test('fingerprints - consume goes only to workers on the caller version', async (t) => {
  const { bus, got } = await setup(t);
  for (let i = 0; i < 8; i++) {
    await bus.endpoint.request({ ...base, ev: 'e.job', op: 'consume', payload: i, fingerprint: V2 });
  }
  // The v2 worker, round-robin with the one without fingerprints (which takes any version).
  t.is(got.get(3)?.length, 4);
  t.is(got.get(4)?.length, 4);
  t.is((got.get(1)?.length ?? 0) + (got.get(2)?.length ?? 0), 0, 'no v1 worker got a v2 payload');
});

test('fingerprints - a consume nobody runs on the caller version is a ContractMismatchError', async (t) => {
  const { bus, got } = await setup(t, [V1, V1]);
  const err = await t.throwsAsync(
    bus.endpoint.request({ ...base, ev: 'e.job', op: 'consume', payload: 'z', fingerprint: V2 }),
    { instanceOf: ContractMismatchError },
  );
  t.is(err?.expected, V2);
  t.is(err?.actual, V1);
  t.deepEqual([...got.values()].flat(), []);
});

test('fingerprints - a broadcast skips workers on another version, counted', async (t) => {
  const { bus, got } = await setup(t);
  await bus.endpoint.request({ ...base, ev: 'e.note', op: 'broadcast', payload: 'n', fingerprint: V1 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(
    [...got.entries()].map(([w, seen]) => `${w}:${seen.join(',')}`),
    ['1:note:n', '2:note:n', '3:', '4:note:n'],
  );
  t.is(bus.router?.stats().contractMismatches, 1);
});

test('fingerprints - a caller without a fingerprint reaches every version', async (t) => {
  const { bus } = await setup(t);
  const all = (await bus.endpoint.request({ ...base, ev: 'e.ask', op: 'map', payload: 'x' })) as { me: number }[];
  t.deepEqual(
    all.map((r) => r.me),
    [1, 2, 3, 4],
  );
});
