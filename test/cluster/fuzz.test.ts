// Fuzz: random, malformed and hostile envelopes thrown at the master (from a worker) and at a
// worker (from the master). Neither may crash, and both must keep serving correct results.
// The frames come from a seeded PRNG: re-run a failure with FUZZ_SEED=<the printed seed>.
import test, { type ExecutionContext } from 'ava';
import cluster, { type Worker } from 'node:cluster';
import { busStats } from 'clusterbus';
import { isBusMessage } from '../../src/core/protocol/frames.js';
import { messenger } from '../fixtures/cluster/messenger.js';
import { downMessage, prng } from '../helpers/fuzz.js';
import { logs, logsUntil } from '../helpers/fixture.js';
import { sleep, startWorkers, stopAllWorkers, waitForQuiet } from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32);
process.stderr.write(`fuzz.test.ts: seed ${seed} (re-run with FUZZ_SEED=${seed})\n`);

const COUNT = 10_000;

/** The bus serves correct results from every worker, and every operation still works. */
async function stillServes(t: ExecutionContext, workers: Worker[], tag: string): Promise<void> {
  const results = await messenger.map('test.echo', { tag });
  t.deepEqual(
    results.map((r) => [r.worker, r.pid, r.tag]),
    workers.map((w) => [w.id, w.process.pid, tag]),
  );
  const settled = await messenger.mapSettled('test.echo', { tag: `${tag}-s` });
  t.true(settled.every((s) => s.ok && s.value.tag === `${tag}-s`));
  await logs(true);
  await messenger.consume('test.task', { key: tag });
  await messenger.broadcast('test.note', { text: tag });
  const seen = await logsUntil((l) => l.every((w) => w.entries.includes(`note:${tag}:from=0`)));
  t.deepEqual(
    seen.flatMap((l) => l.entries.filter((e) => e.startsWith('task:'))),
    [`task:${tag}`],
  );
  t.true(seen.every((l) => l.entries.includes(`note:${tag}:from=0`)));
  t.true(
    seen.every((l) => !l.polluted),
    'no worker got a polluted Object.prototype',
  );
  t.is(({} as Record<string, unknown>).polluted, undefined, "the master's Object.prototype is clean");
}

test.serial(`fuzz - ${COUNT} random envelopes from a worker do not break the master`, async (t) => {
  t.log(`seed ${seed}`);
  const workers = await startWorkers(2);
  const fuzzer = workers[0]!;
  await stillServes(t, workers, 'before');
  let foreign = 0;
  const onMessage = (worker: Worker, message: unknown): void => {
    if (worker === fuzzer && !isBusMessage(message)) foreign++;
  };
  cluster.on('message', onMessage);
  const before = busStats().broker!;
  try {
    const out = await messenger.mapSettled('test.fuzz', { seed, count: COUNT, onlyWorker: fuzzer.id });
    t.deepEqual(
      out.map((o) => [o.worker, o.ok && o.value.sent]),
      [
        [fuzzer.id, COUNT],
        [workers[1]!.id, 0],
      ],
    );
    await sleep(300); // the forged requests' short deadlines run out
  } finally {
    cluster.off('message', onMessage);
  }
  const after = busStats().broker!;
  t.log(
    `malformed +${after.malformed - before.malformed}, stale replies +${after.staleReplies - before.staleReplies},` +
      ` unhandled broadcasts +${after.unhandledBroadcasts - before.unhandledBroadcasts}, foreign messages ${foreign}`,
  );
  t.true(after.malformed - before.malformed > COUNT / 4, 'malformed envelopes were counted and dropped');
  t.true(after.staleReplies > before.staleReplies, 'forged replies were ignored');
  t.true(foreign > 0, "the worker's non-bus messages reached cluster.on('message')");
  t.true(fuzzer.isConnected() && !fuzzer.isDead());
  await stillServes(t, workers, 'after');
  await waitForQuiet();
  t.is(busStats().broker?.parkedRequests, 0);
});

test.serial(`fuzz - ${COUNT} random envelopes from the master do not break a worker`, async (t) => {
  t.log(`seed ${seed}`);
  const workers = await startWorkers(2);
  const target = workers[1]!;
  await stillServes(t, workers, 'before');
  const ignoredBefore = (await logs()).find((l) => l.worker === target.id)!.ignored;
  const r = prng(seed ^ 0x5eed);
  let sent = 0;
  for (let i = 0; i < COUNT; i++) {
    target.send(downMessage(r) as object);
    sent++;
    if (i % 500 === 499) await sleep(1);
  }
  t.is(sent, COUNT);
  await sleep(300);
  t.true(target.isConnected() && !target.isDead());
  const ignoredAfter = (await logs()).find((l) => l.worker === target.id)!.ignored;
  t.log(`the worker dropped ${ignoredAfter - ignoredBefore} envelopes`);
  t.true(ignoredAfter - ignoredBefore > COUNT / 10, 'the worker counted and dropped malformed envelopes');
  await stillServes(t, workers, 'after');
  await waitForQuiet();
});

test.serial("fuzz - users' own IPC messages pass through untouched, both ways", async (t) => {
  const workers = await startWorkers(2);
  const seenInMaster: unknown[] = [];
  const onMessage = (worker: Worker, message: unknown): void => {
    if ((message as { act?: string } | null)?.act === 'user-ping') seenInMaster.push([worker.id, message]);
  };
  cluster.on('message', onMessage);
  try {
    const ping = { act: 'user-ping', n: 1, nested: { cb: 2, list: [1, 'two'] } };
    await messenger.map('test.raw', { frame: ping });
    await sleep(100);
    // Each worker's message arrives once; their relative order is the channels' business.
    seenInMaster.sort((a, b) => (a as [number])[0] - (b as [number])[0]);
    t.deepEqual(seenInMaster, [
      [workers[0]!.id, ping],
      [workers[1]!.id, ping],
    ]);
  } finally {
    cluster.off('message', onMessage);
  }
  await logs(true);
  for (const w of workers) w.send({ act: 'user-pong' });
  // A user message that only looks a bit like ours (no cb: 1) is theirs too.
  workers[0]!.send({ act: 'user-lookalike', t: 'call', id: 1 });
  const seen = await logsUntil((l) => l.every((w) => w.entries.includes('user:user-pong')));
  t.deepEqual(
    seen.map((l) => l.entries),
    [['user:user-pong', 'user:user-lookalike'], ['user:user-pong']],
  );
  t.is(
    seen.reduce((n, l) => n + l.ignored, 0),
    0,
    'the endpoints did not even look at them',
  );
  await stillServes(t, workers, 'users');
});
