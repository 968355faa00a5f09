// The routing rules and the endpoint, in one process: a Broker and Endpoints wired together by
// fake transports (an asynchronous hop each way, like IPC), so that every rule can be driven
// step by step, including a peer that vanishes.
import test from 'ava';
import {
  BadPayloadError,
  ClosedError,
  ErrorCodes,
  HandlerError,
  MapError,
  NoHandlerError,
  NotConnectedError,
  PayloadTooLargeError,
  TimeoutError,
  WorkerExitedError,
  silentLogger,
  type BusError,
  type Settled,
} from 'clusterbus';
import { localHost } from '../../src/core/peer-id.js';
import { directEndpoint } from '../helpers/direct.js';
import { Net } from '../helpers/net.js';
import { createRouterBus } from '../../src/bus.js';
import {
  OWN_CALL_MIN_CHARS,
  OWN_COPY_CHARS,
  RUN_CHARS,
  RUN_PAYLOADS,
  type AnyHandler,
  type RequestSpec,
} from '../../src/core/endpoint/endpoint.js';
import { resolveOptions } from '../../src/core/options.js';
import type { DownFrame, UpFrame } from '../../src/core/protocol/frames.js';
import type { RouterTransport, RouterTransportEvents } from '../../src/core/transport.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function spec(ev: string, op: RequestSpec['op'], payload: unknown, extra: Partial<RequestSpec> = {}): RequestSpec {
  return { ev, op, payload, timeoutMs: 3000, maxPayloadBytes: 8 * 1024 * 1024, ...extra };
}

/** A handler that waits until released. */
function gate<T = unknown>() {
  let release!: (v: T) => void;
  const opened = new Promise<T>((resolve) => (release = resolve));
  let calls = 0;
  const handler: AnyHandler = () => {
    calls++;
    return opened;
  };
  return { handler, release, calls: () => calls };
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

// ---- routing ------------------------------------------------------------------------------------

test('broker - map answers from every ready peer in peer-id order, with rich values', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  for (const id of [4, 2, 3]) net.add(id, { ask: (p) => ({ id, at: (p as { at: Date }).at, big: BigInt(id) }) });
  await net.ready(1, 2, 3, 4);
  const at = new Date(5);
  const results = (await caller.request(spec('ask', 'map', { at }))) as { id: number; at: Date; big: bigint }[];
  t.deepEqual(
    results.map((r) => r.id),
    [2, 3, 4],
  );
  t.true(results.every((r) => r.at instanceof Date && r.at.getTime() === 5 && r.big === BigInt(r.id)));
  t.is(net.router.stats().pendingRequests, 0);
});

test('broker - consume runs the first handler of one peer, round-robin', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const ran: string[] = [];
  for (const id of [2, 3]) {
    const ep = net.add(id, { job: (p) => void ran.push(`${id}:${String(p)}`) });
    ep.on('job', () => void ran.push(`second handler of ${id}`));
  }
  await net.ready(1, 2, 3);
  for (const n of [1, 2, 3, 4]) await caller.request(spec('job', 'consume', n));
  t.deepEqual(ran, ['2:1', '3:2', '2:3', '3:4']);
});

test('broker - a stale reply from another peer is ignored and counted', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const g = gate<number>();
  net.add(2, { ask: g.handler });
  net.add(3);
  await net.ready(1, 2, 3);
  const pending = caller.request(spec('ask', 'map', null));
  await until(() => g.calls() === 1, 'the handler');
  const call = net.down.get(2)!.find((f) => f.t === 'call')!;
  // Peer 3 answers peer 2's delivery; then peer 2 answers it twice.
  net.inject(3, { cb: 1, t: 'res', id: call.id, ok: true, p: '{"json":"forged"}' });
  t.is(net.router.stats().staleReplies, 1);
  g.release(7);
  t.deepEqual(await pending, [7]);
  net.inject(2, { cb: 1, t: 'res', id: call.id, ok: true, p: '{"json":8}' });
  t.is(net.router.stats().staleReplies, 2);
});

test('broker - a result over the limit is refused by the broker even if the worker sent it', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const g = gate();
  net.add(2, { ask: g.handler });
  await net.ready(1, 2);
  const pending = caller.request(spec('ask', 'mapSettled', null, { maxResultBytes: 100 }));
  await until(() => g.calls() === 1, 'the handler');
  const call = net.down.get(2)!.find((f) => f.t === 'call')!;
  t.is(call.t === 'call' && call.mr, 100);
  net.inject(2, { cb: 1, t: 'res', id: call.id, ok: true, p: JSON.stringify({ json: 'x'.repeat(200) }) });
  const [outcome] = (await pending) as Settled<unknown>[];
  t.false(outcome!.ok);
  const err = (outcome as unknown as { error: PayloadTooLargeError }).error;
  t.true(err instanceof PayloadTooLargeError);
  t.deepEqual([err.event, err.what, err.limit, err.worker, err.size], ['ask', 'result', 100, 2, 211]);
});

test('broker - a run of broadcasts reaches every receiver in order and is accepted once', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const got = new Map<number, unknown[]>();
  for (const id of [2, 3]) net.add(id, { note: (p) => void (got.get(id) ?? got.set(id, []).get(id)!).push(p) });
  await net.ready(2, 3);
  const ps = ['{"json":"a"}', '{"json":"b"}', '{"json":"c"}'];
  net.inject(2, { cb: 1, t: 'req', id: 7, ev: 'note', op: 'b', p: '', ps });
  net.inject(2, { cb: 1, t: 'req', id: 8, ev: 'none', op: 'b', p: '', ps });
  await until(() => (got.get(3)?.length ?? 0) === 3, 'deliveries');
  t.deepEqual(got.get(2), ['a', 'b', 'c']);
  t.deepEqual(got.get(3), ['a', 'b', 'c']);
  t.deepEqual(
    net.down.get(2)!.flatMap((f) => (f.t === 'oks' ? f.ids : [])),
    [7, 8],
  );
  t.is(net.router.stats().unhandledBroadcasts, 3, 'each broadcast of a run that reached nobody counts');
});

test('broker - a sender that kept its copies gets its own delivery without payloads, in its place', async (t) => {
  const net = new Net({ startWaitMs: 5000 });
  t.teardown(() => net.close());
  for (const id of [2, 3]) net.add(id, { note: () => {} });
  await net.ready(2, 3);
  const ps = ['{"json":"a"}', '{"json":"b"}'];
  net.inject(3, { cb: 1, t: 'req', id: 1, ev: 'note', op: 'b', p: '{"json":"x"}' });
  net.inject(2, { cb: 1, t: 'req', id: 7, ev: 'note', op: 'b', p: '', ps, own: true });
  net.inject(3, { cb: 1, t: 'req', id: 2, ev: 'note', op: 'b', p: '{"json":"y"}' });
  const calls = (id: number): unknown[] =>
    net.down.get(id)!.flatMap((f) => (f.t === 'call' ? [[f.from, f.own, f.p, f.ps]] : []));
  t.deepEqual(calls(2), [
    [3, undefined, '{"json":"x"}', undefined],
    [2, 7, '', undefined],
    [3, undefined, '{"json":"y"}', undefined],
  ]);
  t.deepEqual(calls(3), [
    [3, undefined, '{"json":"x"}', undefined],
    [2, undefined, '', ps],
    [3, undefined, '{"json":"y"}', undefined],
  ]);
  // Peer 2's endpoint made no request 7 of its own: the reference finds nothing and is counted.
  await until(() => net.endpoints.get(2)!.stats().ignored === 1, 'the stray own delivery to be ignored');
  // A sender still starting gets the payloads themselves when it joins: it may have let go of its copies by then.
  const late = net.add(4, {}, { join: false });
  const seen: unknown[] = [];
  late.on('note', (p) => void seen.push(p));
  net.inject(4, { cb: 1, t: 'req', id: 1, ev: 'note', op: 'b', p: '', ps, own: true });
  late.join();
  await until(() => seen.length === 2, 'the queued run');
  t.deepEqual(seen, ['a', 'b']);
  t.is(late.stats().ignored, 0);
});

test('broker - a map or consume reaches its own caller as a reference to the copy it kept', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const got = new Map<number, unknown[]>();
  const pad = 'x'.repeat(OWN_CALL_MIN_CHARS);
  const sent = { n: 1, list: [1, 2], pad };
  const text = `{"json":{"n":1,"list":[1,2],"pad":"${pad}"}}`;
  for (const id of [2, 3]) {
    net.add(id, {
      ask: (p) => {
        (got.get(id) ?? got.set(id, []).get(id)!).push(p);
        return id;
      },
      job: (p) => void (got.get(id) ?? got.set(id, []).get(id)!).push(p),
    });
  }
  await net.ready(2, 3);
  const caller = net.endpoints.get(2)!;
  // The first call of an event keeps no copy: its size is not known before it is encoded.
  t.deepEqual(await caller.request(spec('ask', 'map', { n: 0 })), [2, 3]);
  t.deepEqual(await caller.request(spec('ask', 'map', sent)), [2, 3]);
  const answers = caller.request(spec('ask', 'map', sent));
  t.is(caller.stats().ownCopyChars, text.length, 'a call after a large one keeps its copy until it runs');
  sent.list.push(3);
  t.deepEqual(await answers, [2, 3]);
  t.is(caller.stats().ownCopyChars, 0);
  const calls = (id: number): unknown[] =>
    net.down.get(id)!.flatMap((f) => (f.t === 'call' && f.op === 'm' ? [[f.from, f.own, f.p]] : []));
  t.deepEqual(calls(2), [
    [2, undefined, '{"json":{"n":0}}'],
    [2, undefined, text],
    [2, 3, ''],
  ]);
  t.deepEqual(calls(3).slice(1), [
    [2, undefined, text],
    [2, undefined, text],
  ]);
  const original = { n: 1, list: [1, 2], pad };
  t.deepEqual(got.get(2)!.slice(2), [original], 'the caller ran its copy, made before the mutation');
  t.not(got.get(2)![2], sent);
  t.deepEqual(got.get(3)!.slice(2), [original]);
  // A consume goes round-robin (caller, other, caller): the first keeps no copy and goes whole;
  // the second keeps one, unused as it runs elsewhere, let go once done; the third runs from it.
  const job = (n: number) => ({ n, pad });
  for (const n of [1, 2, 3]) {
    await caller.request(spec('job', 'consume', job(n)));
    t.is(caller.stats().ownCopyChars, 0);
  }
  const jobs = (id: number): unknown[] =>
    net.down.get(id)!.flatMap((f) => (f.t === 'call' && f.op === 'c' ? [[f.own, f.p]] : []));
  t.deepEqual(jobs(2), [
    [undefined, `{"json":{"n":1,"pad":"${pad}"}}`],
    [6, ''], // its request 6: maps 1-3, then consumes 4-6
  ]);
  t.deepEqual(jobs(3), [[undefined, `{"json":{"n":2,"pad":"${pad}"}}`]]);
  t.deepEqual(got.get(2)!.slice(3), [job(1), job(3)]);
  t.deepEqual(got.get(3)!.slice(3), [job(2)]);
  // A deduplicated consume is run by the broker's own job: its caller keeps no copy.
  const deduplicated = caller.request(spec('job', 'consume', job(4), { dedupeKey: 'k' }));
  t.is(caller.stats().ownCopyChars, 0);
  await deduplicated;
  t.is(caller.stats().ownCopyChars, 0);
  t.is(caller.stats().ignored, 0);
});

test('endpoint - a call back to its own caller after the caller gave up answers CB_BAD_PAYLOAD', async (t) => {
  const frames: UpFrame[] = [];
  const { ep, link: epLink } = directEndpoint(2, resolveOptions({ logger: silentLogger }), (f) => frames.push(f) > 0);
  t.teardown(() => ep.close());
  let ran = 0;
  ep.on('ask', () => ran++);
  epLink.receive({ cb: 1, t: 'call', id: 5, ev: 'ask', op: 'm', p: '', from: 2, own: 41 });
  await tick();
  t.is(ran, 0, 'the handler does not run without its payload');
  t.deepEqual(
    frames.flatMap((f) => (f.t === 'res' ? [[f.id, f.ok, f.e?.c, f.e?.ev, f.e?.w]] : [])),
    [[5, false, ErrorCodes.BAD_PAYLOAD, 'ask', 2]],
  );
  t.is(ep.stats().ignored, 1);
});

test('broker - a run with one payload over the limit is refused whole', async (t) => {
  const net = new Net({ maxPayloadBytes: 1000 });
  t.teardown(() => net.close());
  net.add(2, { note: () => {} });
  await net.ready(2);
  net.inject(2, { cb: 1, t: 'req', id: 1, ev: 'note', op: 'b', p: '', ps: ['x', 'x'.repeat(1001), 'x'] });
  await Promise.resolve();
  const frames = net.down.get(2)!;
  t.deepEqual(
    frames.map((f) => (f.t === 'done' ? [f.id, f.ok, f.e?.c, f.e?.sz] : f.t)),
    [[1, false, ErrorCodes.PAYLOAD_TOO_LARGE, 1001]],
  );
});

test('broker - broadcasts held for a starting worker are counted one by one and the oldest dropped', async (t) => {
  const net = new Net({ startWaitMs: 5000 });
  t.teardown(() => net.close());
  net.add(1, {});
  await net.ready(1);
  const late = net.add(3, {}, { join: false });
  const seen: string[] = [];
  late.on('note', (p) => void seen.push(p as string));
  const run = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `{"json":"${tag}${i}"}`);
  net.inject(1, { cb: 1, t: 'req', id: 1, ev: 'note', op: 'b', p: '', ps: run('a', 6000) });
  net.inject(1, { cb: 1, t: 'req', id: 2, ev: 'note', op: 'b', p: '', ps: run('b', 3000) });
  net.inject(1, { cb: 1, t: 'req', id: 3, ev: 'note', op: 'b', p: '{"json":"c"}' });
  net.inject(1, { cb: 1, t: 'req', id: 4, ev: 'note', op: 'b', p: '', ps: run('d', 2000) });
  late.join();
  await until(() => seen.length >= 5001, 'deliveries to the late worker');
  await tick();
  t.is(seen.length, 5001, 'the run of 6000 was dropped to stay within 10,000');
  t.deepEqual([seen[0], seen[2999], seen[3000], seen[3001], seen[5000]], ['b0', 'b2999', 'c', 'd0', 'd1999']);
});

test('broker - a payload over the limit in the envelope is refused before routing', async (t) => {
  const net = new Net({ maxPayloadBytes: 1000 });
  t.teardown(() => net.close());
  const handled: unknown[] = [];
  net.add(2, { note: (p) => void handled.push(p) });
  await net.ready(2);
  net.inject(2, { cb: 1, t: 'req', id: 1, ev: 'note', op: 'b', p: 'x'.repeat(100), mp: 50 });
  net.inject(2, { cb: 1, t: 'req', id: 2, ev: 'note', op: 'b', p: 'x'.repeat(1001) });
  net.inject(2, { cb: 1, t: 'req', id: 3, ev: 'note', op: 'b', p: 'x'.repeat(100), mp: 5000 });
  await Promise.resolve(); // successful settlements leave together, a microtask later
  const dones = net.down.get(2)!.filter((f) => f.t === 'done');
  t.deepEqual(
    dones.map((d) => [d.id, d.ok, d.e?.c, d.e?.lim, d.e?.sz]),
    [
      [1, false, ErrorCodes.PAYLOAD_TOO_LARGE, 50, 100],
      [2, false, ErrorCodes.PAYLOAD_TOO_LARGE, 1000, 1001],
    ],
  );
  t.deepEqual(
    net.down.get(2)!.flatMap((f) => (f.t === 'oks' ? f.ids : [])),
    [3],
  );
  t.is(net.down.get(2)!.filter((f) => f.t === 'call').length, 1, 'only the third was delivered');
});

test('broker - receive never throws and counts what it drops', (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const garbage: unknown[] = [
    undefined,
    null,
    0,
    'x',
    [],
    { cb: 1 },
    { cb: 1, t: 'req' },
    { cb: 1, t: 'res', id: 1, ok: false, e: { c: 5 } },
    JSON.parse('{"cb":1,"t":"hello","__proto__":{"ev":[]}}'),
    { cb: 1, t: 'req', id: 1, ev: 'x', op: 'm', p: '', ms: 2 ** 53 },
  ];
  for (const g of garbage) t.notThrows(() => net.inject(9, g));
  t.is(net.router.stats().malformed, garbage.length);
});

// ---- deadlines ------------------------------------------------------------------------------------

test('broker - a deadline beyond 2^31 ms does not fire at once', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  const net = new Net();
  t.teardown(() => {
    process.off('warning', onWarning);
    net.close();
  });
  const caller = net.add(1);
  const task = gate();
  const ask = gate<number>();
  net.add(2, { task: task.handler, ask: ask.handler });
  await net.ready(1, 2);
  const long = 2 ** 31 + 1000;
  const consume = caller.request(spec('task', 'consume', null, { timeoutMs: long }));
  const map = caller.request(spec('ask', 'map', null, { timeoutMs: Number.MAX_SAFE_INTEGER - 5000 }));
  await sleep(100);
  t.is(net.router.stats().pendingRequests, 2, 'neither timed out');
  t.is(caller.stats().pendingCalls, 2);
  task.release(undefined);
  ask.release(1);
  t.is(await consume, undefined);
  t.deepEqual(await map, [1]);
  t.false(warnings.includes('TimeoutOverflowWarning'));
});

test('broker - a hung consume and map time out, naming the worker', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  net.add(2, { task: () => new Promise(() => {}), ask: () => new Promise(() => {}) });
  net.add(3, { ask: () => 3 });
  await net.ready(1, 2, 3);
  const c = await t.throwsAsync(caller.request(spec('task', 'consume', null, { timeoutMs: 50 })), {
    instanceOf: TimeoutError,
  });
  t.is(c.worker, 2);
  const m = await t.throwsAsync(caller.request(spec('ask', 'map', null, { timeoutMs: 50 })), { instanceOf: MapError });
  t.deepEqual(
    m.outcomes.map((o) => [o.worker, o.ok, o.error?.code]),
    [
      [2, false, ErrorCodes.TIMEOUT],
      [3, true, undefined],
    ],
  );
  t.deepEqual(m.results, [3]);
  t.like(net.router.stats(), { pendingRequests: 0, pendingDeliveries: 0 });
  t.is(net.endpoints.get(2)!.stats().runningHandlers, 2, 'the hung handlers still run');
});

test('endpoint - the caller times out by itself if the broker never answers', async (t) => {
  const { ep } = directEndpoint(1, resolveOptions({ logger: silentLogger }), () => true);
  t.teardown(() => ep.close());
  const start = Date.now();
  const err = await t.throwsAsync(ep.request(spec('ask', 'map', null, { timeoutMs: 50 })), {
    instanceOf: TimeoutError,
  });
  t.true(Date.now() - start >= 1000, 'after the deadline plus a grace period');
  t.is(err.event, 'ask');
  t.is(ep.stats().pendingCalls, 0);
});

// ---- peers that go away ------------------------------------------------------------------------

test('broker - a peer that exits fails its map share at once and redelivers its consume once', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const hang = (): Promise<never> => new Promise(() => {});
  const ran: number[] = [];
  net.add(2, { ask: hang, task: hang, once: hang });
  net.add(3, { ask: () => 3, task: () => void ran.push(3) });
  await net.ready(1, 2, 3);

  const map = caller.request(spec('ask', 'mapSettled', null));
  const task = caller.request(spec('task', 'consume', null)); // round-robin: peer 2 first
  const once = caller.request(spec('once', 'consume', null, { redeliver: false }));
  await until(() => net.router.stats().peers.find((p) => p.id === 2)?.owed === 3, 'peer 2 to owe three replies');
  net.kill(2);

  const outcomes = (await map) as Settled<number>[];
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    [
      [2, false],
      [3, true],
    ],
  );
  const exited = (outcomes[0] as { error: BusError }).error;
  t.true(exited instanceof WorkerExitedError);
  t.regex(exited.message, /worker 2 exited before answering "ask" \(killed by SIGKILL\)/);
  t.is(await task, undefined);
  t.deepEqual(ran, [3]);
  t.is(net.router.stats().redelivered, 1);
  const onceErr = await t.throwsAsync(once, { instanceOf: WorkerExitedError });
  t.is(onceErr.worker, 2);
  t.like(net.router.stats(), { pendingRequests: 0, pendingDeliveries: 0 });
});

test('broker - a consume whose only handler exits fails with WorkerExitedError, not NoHandlerError', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const g = gate();
  net.add(2, { task: g.handler });
  await net.ready(1, 2);
  const task = caller.request(spec('task', 'consume', null));
  await until(() => g.calls() === 1, 'the handler');
  net.kill(2);
  await t.throwsAsync(task, { instanceOf: WorkerExitedError });
});

test('broker - the requests of a peer that exits are dropped with their deliveries', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const g = gate<number>();
  net.add(2, { ask: g.handler, task: g.handler });
  await net.ready(1, 2);
  void caller.request(spec('ask', 'map', null)).catch(() => {});
  void caller.request(spec('task', 'consume', null)).catch(() => {});
  await until(() => g.calls() === 2, 'the handlers');
  t.like(net.router.stats(), { pendingRequests: 2, pendingDeliveries: 2 });
  net.kill(1);
  t.like(net.router.stats(), { pendingRequests: 0, pendingDeliveries: 0 });
  g.release(1);
  await sleep(20);
  t.is(net.router.stats().staleReplies, 2, 'the answers meant for the dead caller are ignored');
});

// ---- start-up -------------------------------------------------------------------------------------

test('broker - a request with no handler waits for a starting peer, then routes to it', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  await net.ready(1);
  const late = net.add(2, {}, { join: false });
  const map = caller.request(spec('ask', 'map', null));
  const task = caller.request(spec('task', 'consume', null));
  await caller.request(spec('note', 'broadcast', 'queued'));
  await until(() => net.router.stats().parkedRequests === 2, 'both requests to park');
  const notes: unknown[] = [];
  late.on('ask', () => 2);
  late.on('task', () => {});
  late.on('note', (p) => void notes.push(p));
  late.join();
  t.deepEqual(await map, [2]);
  t.is(await task, undefined);
  await until(() => notes.length === 1, 'the queued broadcast');
  t.deepEqual(notes, ['queued']);
  t.is(net.router.stats().unhandledBroadcasts, 0);
});

test('broker - a starting peer that never joins stops being waited for after startWaitMs', async (t) => {
  const net = new Net({ startWaitMs: 100 });
  t.teardown(() => net.close());
  const caller = net.add(1);
  await net.ready(1);
  net.add(2, {}, { join: false });
  const start = Date.now();
  await t.throwsAsync(caller.request(spec('ask', 'map', null, { timeoutMs: 3000 })), { instanceOf: NoHandlerError });
  t.true(Date.now() - start < 2000);
  t.deepEqual(await caller.request(spec('ask', 'mapSettled', null)), []);
});

test('bus - a request the master makes right after forking waits for the new worker', async (t) => {
  // The cluster transport learns of a fork on process.nextTick ('fork' event); a request made in
  // the same tick, from a microtask, must reach the broker after that.
  let events: RouterTransportEvents | undefined;
  const sent: [number, DownFrame][] = [];
  const transport: RouterTransport = {
    bind: (e) => void (events = e),
    send: (peer, frame) => void sent.push([peer, frame]),
    whenWritable: (_peer, then) => then(),
    congested: () => false,
    close: () => {},
  };
  const bus = createRouterBus(resolveOptions({ logger: silentLogger }), transport);
  t.teardown(() => bus.close());
  await tick();
  await Promise.resolve(); // now inside a microtask, like code after an `await`
  process.nextTick(() => events!.onPeerStarting(7)); // what cluster.fork() does
  const map = bus.endpoint.request(spec('ask', 'map', null));
  await until(() => bus.router!.stats().parkedRequests === 1, 'the request to park');
  events!.onMessage(7, { cb: 1, t: 'hello', ev: ['ask'] });
  const [, call] = sent.find(([peer, f]) => peer === 7 && f.t === 'call')!;
  events!.onMessage(7, { cb: 1, t: 'res', id: (call as { id: number }).id, ok: true, p: '{"json":"from 7"}' });
  t.deepEqual(await map, ['from 7']);
});

// ---- run-once jobs --------------------------------------------------------------------------------

test('broker - consumes with one dedupe key share one run, and later ones settle at once', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const g = gate();
  const callers = [net.add(1), net.add(2, { boot: g.handler }), net.add(3, { boot: g.handler })];
  await net.ready(1, 2, 3);
  const first = callers.map((c) => c.request(spec('boot', 'consume', null, { dedupeKey: 'k' })));
  await until(() => g.calls() === 1, 'the job to start');
  t.is(net.router.stats().dedupeWaiters, 3);
  g.release(undefined);
  t.deepEqual(await Promise.all(first), [undefined, undefined, undefined]);
  t.is(await callers[0]!.request(spec('boot', 'consume', null, { dedupeKey: 'k' })), undefined);
  t.is(g.calls(), 1, 'ran exactly once');
  // Another key, or another event, is another job.
  await callers[0]!.request(spec('boot', 'consume', null, { dedupeKey: 'other' }));
  t.is(g.calls(), 2);
  t.like(net.router.stats(), { dedupeKeys: 2, dedupeWaiters: 0, pendingRequests: 0 });
});

test('broker - a failed run-once job reports its failure to every caller, later ones included', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  let runs = 0;
  net.add(2, {
    boot: () => {
      runs++;
      throw Object.assign(new Error('no database'), { code: 'E_DB' });
    },
  });
  await net.ready(1, 2);
  for (let i = 0; i < 2; i++) {
    const err = await t.throwsAsync(caller.request(spec('boot', 'consume', null, { dedupeKey: 'db' })), {
      instanceOf: HandlerError,
    });
    t.is(err.remote.code, 'E_DB');
  }
  t.is(runs, 1);
});

test('broker - a dedupe waiter whose peer exits is forgotten; the job still runs for the others', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const g = gate();
  const a = net.add(1);
  const b = net.add(2);
  net.add(3, { boot: g.handler });
  await net.ready(1, 2, 3);
  void a.request(spec('boot', 'consume', null, { dedupeKey: 'k' })).catch(() => {});
  const fromB = b.request(spec('boot', 'consume', null, { dedupeKey: 'k' }));
  await until(() => g.calls() === 1 && net.router.stats().dedupeWaiters === 2, 'both waiters');
  net.kill(1);
  t.is(net.router.stats().dedupeWaiters, 1);
  g.release(undefined);
  t.is(await fromB, undefined);
});

test('dedupe - a key forgotten after dedupeTtlMs runs its job again, with no new key to push it out', async (t) => {
  const net = new Net({ dedupeTtlMs: 50 });
  t.teardown(() => net.close());
  const caller = net.add(1);
  let runs = 0;
  net.add(2, { boot: () => void runs++ });
  await net.ready(1, 2);
  await caller.request(spec('boot', 'consume', null, { dedupeKey: 'k' }));
  t.is(runs, 1);
  // Nothing else arrives: the table's own timer forgets the key.
  await until(() => net.router.stats().dedupeEvicted === 1, 'the key to expire');
  t.like(net.router.stats(), { dedupeKeys: 0, dedupeEvicted: 1 });
  await caller.request(spec('boot', 'consume', null, { dedupeKey: 'k' }));
  t.is(runs, 2, 'ran again, like a new key');
  t.is(net.router.stats().dedupeKeys, 1);
});

test('dedupe - past maxDedupeKeys the oldest-settled key is forgotten and runs again; a newer one does not', async (t) => {
  // No TTL: only the count bound applies, so nothing here depends on timing.
  const net = new Net({ maxDedupeKeys: 2, dedupeTtlMs: Infinity });
  t.teardown(() => net.close());
  const caller = net.add(1);
  const runs = new Map<string, number>();
  net.add(2, { job: (p) => void runs.set(p as string, (runs.get(p as string) ?? 0) + 1) });
  await net.ready(1, 2);
  const run = (key: string) => caller.request(spec('job', 'consume', key, { dedupeKey: key }));
  for (const key of ['a', 'b', 'c']) await run(key);
  t.like(net.router.stats(), { dedupeKeys: 2, dedupeEvicted: 1 });
  await run('b');
  await run('c');
  t.deepEqual(Object.fromEntries(runs), { a: 1, b: 1, c: 1 }, 'b and c are still remembered');
  await run('a');
  t.is(runs.get('a'), 2, 'a was forgotten first and ran again');
  // Settling a again pushed out the oldest-settled of the rest: b.
  t.like(net.router.stats(), { dedupeKeys: 2, dedupeEvicted: 2 });
  await run('c');
  await run('b');
  t.deepEqual(Object.fromEntries(runs), { a: 2, b: 2, c: 1 });
});

test('dedupe - a running job is never evicted however many keys settle, and its waiters get its outcome', async (t) => {
  const net = new Net({ maxDedupeKeys: 2, dedupeTtlMs: 1 });
  t.teardown(() => net.close());
  const a = net.add(1);
  const b = net.add(2);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let slowRuns = 0;
  net.add(3, {
    slow: async () => {
      slowRuns++;
      await released;
      throw Object.assign(new Error('warm-up failed'), { code: 'E_WARMUP' });
    },
    fast: () => undefined,
  });
  await net.ready(1, 2, 3);
  const first = a.request(spec('slow', 'consume', null, { dedupeKey: 'k' }));
  await until(() => slowRuns === 1, 'the job to start');
  for (let i = 0; i < 50; i++) await a.request(spec('fast', 'consume', null, { dedupeKey: `n${i}` }));
  // The 50 settled keys expire at once (1 ms TTL) or are pushed out by count; the running one stays.
  t.true(net.router.stats().dedupeEvicted >= 48);
  t.true(net.router.stats().dedupeKeys <= 3);
  t.is(net.router.stats().dedupeWaiters, 1);
  const second = b.request(spec('slow', 'consume', null, { dedupeKey: 'k' }));
  await until(() => net.router.stats().dedupeWaiters === 2, 'the second caller to wait');
  t.is(slowRuns, 1, 'the second caller joined the running job');
  release();
  for (const pending of [first, second]) {
    const err = await t.throwsAsync(pending, { instanceOf: HandlerError });
    t.is(err.remote.code, 'E_WARMUP');
  }
  t.is(slowRuns, 1);
  t.like(net.router.stats(), { dedupeWaiters: 0, pendingRequests: 0 });
});

// ---- the endpoint ---------------------------------------------------------------------------------

test('endpoint - a handler that throws synchronously sends a HandlerError and the counters recover', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const worker = net.add(2, {
    ask: () => {
      throw new SyntaxError('sync');
    },
  });
  await net.ready(1, 2);
  const err = await t.throwsAsync(caller.request(spec('ask', 'map', null)), { instanceOf: MapError });
  const h = err.outcomes[0]!.error as HandlerError;
  t.true(h instanceof HandlerError);
  t.is(h.remote.name, 'SyntaxError');
  t.like(worker.stats(), { runningHandlers: 0, pendingCalls: 0, joined: true });
});

test('endpoint - a payload that does not decode fails the call with BadPayloadError, handler not run', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  let ran = 0;
  const caller = net.add(1);
  net.add(2, { ask: () => ++ran });
  await net.ready(1, 2);
  const pending = caller.request(spec('ask', 'mapSettled', null));
  // Swap the payload for a polluting one on its way through the broker.
  net.inject(1, {
    cb: 1,
    t: 'req',
    id: 99,
    ev: 'ask',
    op: 'm',
    p: '{"json":{"__proto__":{"polluted":true}}}',
  });
  await pending;
  await until(() => (net.down.get(1) ?? []).some((f) => f.t === 'mapped' && f.id === 99), 'the forged map');
  const forged = net.down.get(1)!.find((f) => f.t === 'mapped' && f.id === 99)!;
  t.is(forged.t === 'mapped' && forged.r[0]?.[1] === false && forged.r[0][2].c, ErrorCodes.BAD_PAYLOAD);
  t.is(ran, 1, 'only the well-formed call ran');
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test('endpoint - an undecodable result is that worker’s BadPayloadError', async (t) => {
  const { ep, link: epLink } = directEndpoint(1, resolveOptions({ logger: silentLogger }), () => true);
  t.teardown(() => ep.close());
  const settled = ep.request(spec('ask', 'mapSettled', null));
  const mapped = ep.request(spec('ask', 'map', null));
  const r: [number, true, string][] = [
    [2, true, '{"json":2}'],
    [3, true, '{"json":{"__proto__":{"x":1}}}'],
  ];
  epLink.receive({ cb: 1, t: 'mapped', id: 1, r });
  epLink.receive({ cb: 1, t: 'mapped', id: 2, r });
  const outcomes = (await settled) as Settled<number>[];
  t.deepEqual(outcomes[0], { worker: 2, host: localHost(), ok: true, value: 2 });
  t.true(!outcomes[1]!.ok && outcomes[1]!.error instanceof BadPayloadError);
  const err = await t.throwsAsync(mapped, { instanceOf: MapError });
  t.deepEqual(err.results, [2]);
});

test('endpoint - broadcasts of one event in one turn travel as one run, in order with other requests', async (t) => {
  const frames: UpFrame[] = [];
  const { ep, link: epLink } = directEndpoint(2, resolveOptions({ logger: silentLogger }), (f) => frames.push(f) > 0);
  t.teardown(() => ep.close());
  const first = [1, 2, 3].map((n) => ep.request(spec('note', 'broadcast', n)));
  const job = ep.request(spec('job', 'consume', 'j'));
  const last = ep.request(spec('note', 'broadcast', 4));
  const other = ep.request(spec('other', 'broadcast', 5));
  await Promise.resolve();
  const shape = (f: UpFrame): unknown => (f.t === 'req' ? [f.id, f.ev, f.op, f.p, f.ps] : f.t);
  t.deepEqual(frames.map(shape), [
    [1, 'note', 'b', '', ['{"json":1}', '{"json":2}', '{"json":3}']],
    [2, 'job', 'c', '{"json":"j"}', undefined],
    [3, 'note', 'b', '{"json":4}', undefined],
    [4, 'other', 'b', '{"json":5}', undefined],
  ]);
  // The broker accepts a run as a whole: one acknowledgement settles every broadcast in it.
  const settled: string[] = [];
  for (const [i, p] of [...first, last, other].entries()) {
    p.then(
      () => settled.push(`b${i + 1}`),
      () => settled.push(`b${i + 1} failed`),
    );
  }
  epLink.receive({ cb: 1, t: 'oks', ids: [1] });
  await tick();
  t.deepEqual(settled, ['b1', 'b2', 'b3']);
  epLink.receive({ cb: 1, t: 'done', id: 3, ok: false, e: { c: ErrorCodes.NO_HANDLER, m: 'x' } });
  epLink.receive({ cb: 1, t: 'oks', ids: [2, 4] });
  await t.throwsAsync(last, { instanceOf: NoHandlerError });
  await job;
  await other;
  t.deepEqual(settled, ['b1', 'b2', 'b3', 'b4 failed', 'b5']);
});

test('endpoint - a full run leaves and the next broadcast starts another', async (t) => {
  const frames: UpFrame[] = [];
  const { ep } = directEndpoint(2, resolveOptions({ logger: silentLogger }), (f) => frames.push(f) > 0);
  t.teardown(() => ep.close());
  t.is(RUN_PAYLOADS, 512);
  for (let i = 0; i < 1200; i++) void ep.request(spec('note', 'broadcast', i)).catch(() => {});
  // 0.6 of a run's size each: the first fits in the run of small ones, then one run each.
  const big = 'x'.repeat(Math.floor(RUN_CHARS * 0.6));
  for (let i = 0; i < 3; i++) void ep.request(spec('note', 'broadcast', big)).catch(() => {});
  await Promise.resolve();
  t.deepEqual(
    frames.map((f) => (f.t === 'req' ? (f.ps?.length ?? 1) : 0)),
    [512, 512, 177, 1, 1],
  );
  const payloads = frames.flatMap((f) => (f.t === 'req' ? (f.ps ?? [f.p]) : []));
  t.deepEqual(
    payloads.slice(0, 1200),
    Array.from({ length: 1200 }, (_, i) => `{"json":${i}}`),
  );
});

test('endpoint - a run is delivered payload by payload, to the handlers there at each one', async (t) => {
  const frames: UpFrame[] = [];
  const { ep, link: epLink } = directEndpoint(2, resolveOptions({ logger: silentLogger }), (f) => frames.push(f) > 0);
  t.teardown(() => ep.close());
  const seen: unknown[] = [];
  const off = ep.on('note', (p) => {
    seen.push(p);
    if (p === 2) off();
  });
  epLink.receive({
    cb: 1,
    t: 'call',
    id: 0,
    ev: 'note',
    op: 'b',
    p: '',
    ps: ['{"json":1}', 'nonsense', '{"json":2}', '{"json":3}'],
    from: 1,
  });
  t.deepEqual(seen, [1, 2], 'a payload that cannot be decoded is skipped; the handler removed itself after 2');
  t.is(ep.stats().ignored, 0);
});

test('endpoint - a sender runs its own broadcasts from copies: equal to what others get, never the object sent', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const got = new Map<number, unknown[]>();
  const sender = net.add(2, { note: (p) => void got.get(2)!.push(p) });
  net.add(3, { note: (p) => void got.get(3)!.push(p) });
  got.set(2, []).set(3, []);
  await net.ready(2, 3);
  const plain = { list: [{ k: 'v' }], n: 1 };
  const rich = { at: new Date(1_700_000_000_000), tags: new Set(['a']) };
  const polluted = JSON.parse('{"__proto__":{"admin":true}}') as unknown;
  const sent = [plain, rich, polluted, 'text'].map((p) => sender.request(spec('note', 'broadcast', p)));
  plain.list[0]!.k = 'changed after sending';
  // The polluted payload is refused in the sender; the others of its run go on.
  await t.throwsAsync(sent[2]!, {
    instanceOf: BadPayloadError,
    message: 'cannot send "note": payload["__proto__"] is an own "__proto__" property, which every receiver refuses',
  });
  await Promise.all([sent[0], sent[1], sent[3]]);
  await until(() => got.get(2)!.length === 3 && got.get(3)!.length === 3, 'deliveries');
  const expected = [{ list: [{ k: 'v' }], n: 1 }, rich, 'text'];
  t.deepEqual(got.get(3), expected, 'the receiver decodes; the polluted payload never left the sender');
  t.deepEqual(got.get(2), expected, 'the sender gets the same values');
  t.not(got.get(2)![0], plain);
  t.true((got.get(2)![1] as typeof rich).at instanceof Date, 'a rich payload is decoded from the text kept');
  const own = net.down.get(2)!.filter((f) => f.t === 'call' && f.own !== undefined);
  t.is(own.length, 1, 'its own delivery came back as one reference, without payloads');
  t.like(sender.stats(), { ownCopyChars: 0, ignored: 0, pendingCalls: 0 });
});

test('endpoint - past its budget of copies, the new runs of a sender keep none and come back whole', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const seen: unknown[] = [];
  const sender = net.add(2, { note: (p) => void seen.push(p) });
  await net.ready(2);
  const big = 'x'.repeat(Math.floor(OWN_COPY_CHARS / 3));
  const payloads = Array.from({ length: 8 }, (_, i) => ({ i, big }));
  const sent = payloads.map((p) => sender.request(spec('note', 'broadcast', p)));
  t.true(sender.stats().ownCopyChars >= OWN_COPY_CHARS, 'copies held up to the budget');
  t.true(sender.stats().ownCopyChars < OWN_COPY_CHARS + RUN_CHARS, 'and no further');
  await Promise.all(sent);
  await until(() => seen.length === 8, 'own deliveries');
  t.deepEqual(seen, payloads);
  t.is(sender.stats().ownCopyChars, 0, 'nothing held once delivered and accepted');
  // Two payloads fit a run: the first two runs kept copies (43 Ki characters was still under
  // the budget when the second began), the last two came back with their payloads.
  const calls = net.down.get(2)!.flatMap((f) => (f.t === 'call' ? [f.own === undefined ? f.ps?.length : 'own'] : []));
  t.deepEqual(calls, ['own', 'own', 2, 2]);
  // A request the broker never answers lets go of its copies at its local deadline.
  const { ep: mute } = directEndpoint(5, resolveOptions({ logger: silentLogger, timeoutMs: 20 }), () => true);
  t.teardown(() => mute.close());
  mute.on('note', () => {});
  const lost = mute.request(spec('note', 'broadcast', { a: 1 }));
  t.true(mute.stats().ownCopyChars > 0);
  await t.throwsAsync(lost, { instanceOf: TimeoutError });
  t.is(mute.stats().ownCopyChars, 0);
});

test('endpoint - a call for an event it has no handler for answers NoHandlerError', async (t) => {
  const frames: UpFrame[] = [];
  const { ep, link: epLink } = directEndpoint(2, resolveOptions({ logger: silentLogger }), (f) => frames.push(f) > 0);
  t.teardown(() => ep.close());
  epLink.receive({ cb: 1, t: 'call', id: 5, ev: 'nope', op: 'm', p: '{"json":1}', from: 0 });
  epLink.receive({ cb: 1, t: 'call', id: 0, ev: 'nope', op: 'b', p: '{"json":1}', from: 0 });
  await tick();
  t.deepEqual(
    frames.map((f) => (f.t === 'res' ? [f.id, f.ok, f.e?.c] : f.t)),
    [[5, false, ErrorCodes.NO_HANDLER]],
  );
  epLink.receive({ cb: 1, t: 'nope' });
  epLink.receive('junk');
  t.is(ep.stats().ignored, 2);
});

test('endpoint - a lost link fails pending calls with NotConnectedError; close with ClosedError', async (t) => {
  let connected = true;
  const { ep, link: epLink } = directEndpoint(2, resolveOptions({ logger: silentLogger }), () => connected);
  const a = ep.request(spec('ask', 'map', null));
  epLink.disconnect();
  await t.throwsAsync(a, { instanceOf: NotConnectedError });
  connected = false;
  await t.throwsAsync(ep.request(spec('ask', 'map', null)), { instanceOf: NotConnectedError });
  connected = true;
  const b = ep.request(spec('task', 'consume', null));
  ep.close();
  await t.throwsAsync(b, { instanceOf: ClosedError });
  await t.throwsAsync(ep.request(spec('task', 'consume', null)), { instanceOf: ClosedError });
  t.is(ep.stats().pendingCalls, 0);
});

test('broker - close fails every pending request with CB_CLOSED', async (t) => {
  const net = new Net();
  const caller = net.add(1);
  net.add(2, { ask: () => new Promise(() => {}) });
  await net.ready(1, 2);
  const pending = caller.request(spec('ask', 'map', null));
  await until(() => net.router.stats().pendingDeliveries === 1, 'the delivery');
  net.router.close();
  const err = (await pending.catch((e: unknown) => e)) as BusError;
  t.is(err.code, ErrorCodes.CLOSED);
  net.close();
});

test('broker - once requests are refused (shutdown), every new request fails with ClosedError saying why; routed ones settle', async (t) => {
  const net = new Net();
  t.teardown(() => net.close());
  const caller = net.add(1);
  const slow = gate<{ ok: boolean }>();
  net.add(2, { slow: slow.handler, who: () => 2, job: () => undefined });
  await net.ready(1, 2);
  const routed = caller.request(spec('slow', 'map', {}));
  await until(() => slow.calls() === 1, 'the map to reach its handler');
  net.router.refuseRequests('the cluster is shutting down');
  for (const [ev, op] of [
    ['who', 'map'],
    ['who', 'mapSettled'],
    ['job', 'consume'],
    ['news', 'broadcast'],
  ] as const) {
    const err = await t.throwsAsync(caller.request(spec(ev, op, {})), { instanceOf: ClosedError });
    t.is(err?.code, ErrorCodes.CLOSED);
    t.is(err?.message, `the cluster is shutting down; "${ev}" was not completed`, op);
  }
  slow.release({ ok: true });
  t.deepEqual(await routed, [{ ok: true }], 'a request routed before still settles');
  t.is(net.router.stats().pendingRequests, 0);
});
