// Start-up: calls made while workers are still starting, and the bootstrap-once job.
import test from 'ava';
import { busStats, TimeoutError } from 'clusterbus';
import { messenger } from '../fixtures/cluster/messenger.js';
import { entriesStarting, logsUntil } from '../helpers/fixture.js';
import {
  forkWorkers,
  settleTime,
  sleep,
  startWorkers,
  stopAllWorkers,
  waitFor,
  waitForQuiet,
} from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

test.serial('startup - calls made right after forking wait for the workers instead of failing', async (t) => {
  busStats(); // the bus already runs when the workers are forked
  await sleep(20);
  const workers = forkWorkers(2);
  const ids = workers.map((w) => w.id);
  // Same tick as the fork: no worker has joined, none has even been announced by 'fork' yet.
  const map = messenger.map('test.echo', { tag: 'early' });
  const settled = messenger.mapSettled('test.echo', { tag: 'early-settled' });
  const consume = messenger.consume('test.task', { key: 'early' });
  const broadcast = messenger.broadcast('test.note', { text: 'early' });

  await broadcast;
  const results = await map;
  t.true(results.length >= 1, 'answered by the workers that joined');
  for (const r of results) {
    t.true(ids.includes(r.worker));
    t.is(r.tag, 'early');
  }
  const outcomes = await settled;
  t.true(outcomes.length >= 1);
  t.true(outcomes.every((o) => o.ok && ids.includes(o.worker) && o.value.tag === 'early-settled'));
  await consume;

  // Both workers got the broadcast, queued for them while they started; one ran the task.
  const seen = await logsUntil((l) => l.length === 2 && l.every((w) => w.entries.includes('note:early:from=0')));
  t.deepEqual(
    seen.map((l) => l.worker),
    ids,
  );
  for (const l of seen) t.true(l.entries.includes('note:early:from=0'), `worker ${l.worker}: ${l.entries.join()}`);
  t.deepEqual(entriesStarting(seen, 'task:'), ['task:early']);
  await waitForQuiet();
});

test.serial(
  'startup - a request parked for a starting worker fails with NoHandlerError once it joins without one',
  async (t) => {
    forkWorkers(1, { FIXTURE_NO_HANDLERS: '1' });
    const r = await settleTime(messenger.map('test.echo', { tag: 'x' }, { timeoutMs: 8000 }));
    t.is((r.error as { code?: string }).code, 'CB_NO_HANDLER');
    t.true(r.ms < 4000, `settled after ${r.ms} ms`);
    await waitForQuiet();
    t.is(busStats().broker?.parkedRequests, 0);
  },
);

test.serial('startup - a request parked for a starting worker waits no longer than its deadline', async (t) => {
  forkWorkers(1, { FIXTURE_JOIN_DELAY_MS: '4000' });
  const consume = settleTime(messenger.consume('test.task', { key: 'late' }, { timeoutMs: 500 }));
  const map = settleTime(messenger.mapSettled('test.echo', { tag: 'late' }, { timeoutMs: 500 }));
  await waitFor(() => busStats().broker?.parkedRequests === 2, 2000, 'both requests to park');
  for (const r of [await consume, await map]) {
    t.true(r.error instanceof TimeoutError, String(r.error));
    t.true(r.ms >= 450 && r.ms < 2500, `settled after ${r.ms} ms`);
  }
  t.is(busStats().broker?.parkedRequests, 0);
  await waitForQuiet();
});

test.serial('startup - a job every worker asks for at boot with one dedupe key runs exactly once', async (t) => {
  const key = `boot-${process.pid}-${Date.now()}`;
  const env = { FIXTURE_BOOT_JOB: '1', FIXTURE_BOOT_KEY: key };
  await startWorkers(4, env);
  let seen = await logsUntil(
    (l) => l.length === 4 && l.every((w) => w.entries.some((e) => e.startsWith('boot-settled:'))),
  );
  t.is(seen.length, 4);
  t.is(entriesStarting(seen, 'boot:').length, 1, `boot entries: ${entriesStarting(seen, 'boot:').join()}`);
  for (const l of seen) t.true(l.entries.includes('boot-settled:ok'), `worker ${l.worker}: ${l.entries.join()}`);

  // A later caller with the same key, the master here, settles at once without running it again.
  const again = await settleTime(messenger.consume('test.boot', { by: 0 }, { dedupeKey: key, timeoutMs: 8000 }));
  t.is(again.error, undefined);
  t.true(again.ms < 1000, `settled after ${again.ms} ms`);
  // So does a worker started later (say, a replacement) that asks at its boot.
  await startWorkers(1, env);
  seen = await logsUntil((l) => l.length === 5 && l.every((w) => w.entries.some((e) => e.startsWith('boot-settled:'))));
  t.is(seen.length, 5);
  t.is(entriesStarting(seen, 'boot:').length, 1, 'still exactly one run');
  t.true(seen.every((l) => l.entries.includes('boot-settled:ok')));
  await waitForQuiet();
  t.is(busStats().broker?.dedupeWaiters, 0);
});
