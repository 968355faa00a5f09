// The dedupe table's bound, end to end: run-once consumes with distinct keys through the master's
// real broker, as a master that uses per-order keys would receive them for weeks. In its own file
// (its own process) so that the heap figures are this test's alone.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';
import { BadOptionsError, silentLogger } from 'clusterbus';
import { Router } from '../../src/core/router/router.js';
import { DirectRouterTransport } from '../helpers/direct.js';
import { DEFAULTS, resolveOptions } from '../../src/core/options.js';

const MB = 1024 * 1024;

/**
 * A full collection, so heap figures measure what is kept, not garbage not yet collected. ava's
 * node arguments are shared by every test file and have no --expose-gc: turn it on for this
 * process only. Undefined if the runtime refuses; the figures are then noisier, the bound holds.
 */
const gc = ((): (() => void) | undefined => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

function heapUsed(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}

test.serial('dedupe - a million distinct keys keep the table and the heap bounded', async (t) => {
  const KEYS = 1_000_000;
  const BATCH = 1_000;
  const EV = 'order.settle';
  const options = resolveOptions({ logger: silentLogger });
  // Peer 1 asks, peer 2 runs the jobs. Envelopes go straight into the broker and replies are
  // counted, not decoded: a million requests through endpoints cost half a minute of encoding
  // and hops that have nothing to do with the table.
  const calls: number[] = [];
  let answered = 0;
  let failed = 0;
  const transport = new DirectRouterTransport((peer, frame) => {
    if (peer === 2 && frame.t === 'call') calls.push(frame.id);
    else if (peer === 1 && frame.t === 'oks') answered += frame.ids.length;
    else if (frame.t === 'done' && !frame.ok) failed++;
  });
  const broker = new Router(options, transport);
  t.teardown(() => broker.close());
  transport.inject(1, { cb: 1, t: 'hello', ev: [] });
  transport.inject(2, { cb: 1, t: 'hello', ev: [EV] });

  const before = heapUsed();
  const start = process.hrtime.bigint();
  let runs = 0;
  for (let from = 0; from < KEYS; from += BATCH) {
    // A batch of requests in flight at once, then their jobs' replies, then a turn for the answers.
    for (let i = from; i < from + BATCH; i++)
      transport.inject(1, { cb: 1, t: 'req', id: i + 1, ev: EV, op: 'c', p: '{"json":null}', dk: `o${i}` });
    runs += calls.length;
    for (const id of calls.splice(0)) transport.inject(2, { cb: 1, t: 'res', id, ok: true, p: '' });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = heapUsed();
  const stats = broker.stats();

  // What the same keys would hold if nothing were forgotten: a sample of settled entries of the
  // table's shape, scaled up (building the full million would cost the machine more than it tells).
  const SAMPLE = 100_000;
  const sampleBefore = heapUsed();
  const unbounded = new Map<string, { outcome: { ok: true }; at: number }>();
  for (let i = 0; i < SAMPLE; i++) unbounded.set(`${EV}\u0000o${i}`, { outcome: { ok: true }, at: i });
  const unboundedBytes = ((heapUsed() - sampleBefore) * KEYS) / SAMPLE;
  unbounded.clear();

  const growth = after - before;
  t.log(
    `keys driven: ${KEYS} (${BATCH} in flight), jobs run: ${runs}, answered: ${answered}, in ${seconds.toFixed(1)} s`,
  );
  t.log(`table: ${stats.dedupeKeys} keys remembered (max ${options.maxDedupeKeys}), ${stats.dedupeEvicted} evicted`);
  t.log(
    `heap: ${(before / MB).toFixed(1)} MB before, ${(after / MB).toFixed(1)} MB after, ` +
      `growth ${(growth / MB).toFixed(1)} MB (${gc ? 'after a full gc' : 'no gc available: includes garbage'})`,
  );
  t.log(`an unbounded table of ${KEYS} settled keys: about ${(unboundedBytes / MB).toFixed(0)} MB`);

  t.is(runs, KEYS, 'every distinct key ran its job once');
  t.is(answered, KEYS, 'every caller got its outcome');
  t.is(failed, 0);
  t.is(stats.dedupeKeys, options.maxDedupeKeys);
  t.is(stats.dedupeEvicted, KEYS - options.maxDedupeKeys, 'every key not remembered was evicted');
  t.like(stats, { pendingRequests: 0, pendingDeliveries: 0, dedupeWaiters: 0 });
  t.true(growth < 64 * MB, `heap grew by ${(growth / MB).toFixed(1)} MB`);
});

test('dedupe - dedupeTtlMs and maxDedupeKeys default to no age limit and 10 000, and refuse what is not a count', (t) => {
  t.like(resolveOptions({}), { dedupeTtlMs: Infinity, maxDedupeKeys: 10_000 });
  t.like(DEFAULTS, { dedupeTtlMs: Infinity, maxDedupeKeys: 10_000 });
  t.is(resolveOptions({ dedupeTtlMs: Infinity }).dedupeTtlMs, Infinity);
  for (const bad of [0, -1, 1.5, NaN, -Infinity, '60000']) {
    t.throws(() => resolveOptions({ dedupeTtlMs: bad as number }), { instanceOf: BadOptionsError });
    t.throws(() => resolveOptions({ maxDedupeKeys: bad as number }), { instanceOf: BadOptionsError });
  }
  t.throws(() => resolveOptions({ maxDedupeKeys: Infinity }), { instanceOf: BadOptionsError });
});
