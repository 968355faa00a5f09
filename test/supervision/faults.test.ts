// Supervision: a crash under HTTP load, a crash loop, and a bus map in flight to a crashing
// worker, against a real master process (test/fixtures/supervision/app.ts).
import test from 'ava';
import type { SlotStatus } from 'clusterbus';
import { killAll, pidsOf, request, sleep, startLoad, startMaster, waitDead, type Ev } from './harness.js';

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

test.serial('supervision - a crash under HTTP load fails no request', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const before = pidsOf(await m.ready());
  const load = startLoad(m.port, { maxMs: 20_000 });
  await sleep(800);
  const crash = await request(m.port, '/crash', 'POST');
  t.is(crash.status, 202);
  const crashedPid = crash.body.pid as number;
  const crashedIndex = crash.body.index as number;
  // The master forks the replacement first, into the same slot...
  const fresh = await m.next('worker-start', (e) => e.index === crashedIndex && !before.includes(e.pid), 15_000);
  // ...then drains the crashed worker, which exits.
  t.deepEqual(await waitDead([crashedPid], 15_000), [], 'the crashed worker is gone');
  const mark = load.stats.sent;
  await sleep(1_000);
  const stats = await load.stop();
  await m.exitsSeen([crashedPid]);
  t.log(`crash under load: ${stats.sent} requests sent, ${stats.failed} failed`);
  t.is(stats.failed, 0, stats.errors.join('; '));
  t.true(stats.sent > 0);
  t.true(load.pidsSince(0).has(fresh.pid), 'the replacement served requests');
  t.false(load.pidsSince(mark).has(crashedPid), 'nothing reached the crashed worker after it exited');

  const after = await m.status();
  t.deepEqual(
    pidsOf(after, 'ready').sort((a, b) => a - b),
    [...before.filter((p) => p !== crashedPid), fresh.pid].sort((a, b) => a - b),
  );
  t.true(after.healthy);
  const slot = after.slots.find((s) => s.index === crashedIndex);
  t.is(slot?.restarts, 1);
  t.is(slot?.quickDeaths, 0, 'a crash replacement is not a crash loop');
  t.regex(slot?.lastExitReason ?? '', /crash requested/, 'status says why the previous worker ended');
  // The crash was reported (not a silent death): the master logged it and drained the worker.
  t.truthy(m.logs('worker crashed').find((e) => e.pid === m.pid));
  t.truthy(m.all('worker-drain', (e) => e.pid === crashedPid)[0], 'its drain hook ran');
  t.is(m.logs('worker exited unexpectedly').length, 0);
});

test.serial('supervision - two uncaught exceptions under keep-alive load fail no request', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  let workers = pidsOf(await m.ready());
  const load = startLoad(m.port, { maxMs: 30_000, concurrency: 20, keepAlive: true });
  await sleep(500);
  for (let i = 0; i < 2; i++) {
    const crash = await request(m.port, '/crash', 'POST');
    t.is(crash.status, 202);
    const crashedPid = crash.body.pid as number;
    await m.next('worker-start', (e) => e.index === crash.body.index && !workers.includes(e.pid), 15_000);
    t.deepEqual(await waitDead([crashedPid], 15_000), [], 'the crashed worker is gone');
    await m.exitsSeen([crashedPid]);
    const exit = m.all('exit', (e) => e.workerPid === crashedPid)[0];
    t.like(exit, { code: 0, signal: null }, 'the crashed worker drained and exited by itself');
    workers = pidsOf(await m.settled(2));
    await sleep(300);
  }
  const stats = await load.stop();
  t.log(`keep-alive, two crashes: ${stats.sent} requests sent, ${stats.failed} failed`);
  t.is(stats.failed, 0, stats.errors.join('; '));
  t.true(stats.sent > 0);
  // Each crash is logged with the stack of the uncaught exception, in the worker and in the master.
  const crashes = m.logs('worker crashed').filter((e) => e.pid === m.pid);
  t.is(crashes.length, 2);
  for (const e of crashes) {
    const fields = e.fields as { reason: string; stack: string };
    t.regex(fields.reason, /uncaught exception: Error: crash requested/);
    t.regex(fields.stack, /Error: crash requested in worker \d+\n\s+at /, 'the stack says where');
  }
});

test.serial('supervision - a crash loop backs off with growing delays and the master stays up', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({
    SUP_WORKERS: '2',
    SUP_CRASH_AT_START: '1',
    SUP_OPTS: JSON.stringify({ minUptimeMs: 2000, backoffInitialMs: 100, backoffMaxMs: 30_000, maxRestarts: 1000 }),
  });
  const first = await m.next('fork');
  const windowMs = 3_000;
  const start = Date.now();
  const samples: SlotStatus[][] = [];
  const sample = async (): Promise<void> => {
    samples.push((await m.status()).slots);
    await sleep(100);
  };
  while (Date.now() - start < windowMs) await sample();
  const forks = m.events.slice(m.events.indexOf(first)).filter((e) => e.ev === 'fork').length;
  // Fork k + 1 of a slot comes at least sum(i < k) of 50 * 2^i ms after its first (the k-th delay
  // is 100 * 2^(k - 1) ms, halved at worst by jitter): at most log2(window / initial) + 1 forks
  // per slot fit in the window. Without backoff, start-up time alone would allow far more.
  const perSlot = Math.ceil(Math.log2(windowMs / 100)) + 1;
  t.log(`crash loop: ${forks} forks in ${windowMs} ms for 2 slots (bound ${perSlot * 2})`);
  t.true(forks >= 2, 'the master keeps trying');
  t.true(forks <= perSlot * 2, `${forks} forks in ${windowMs} ms`);

  // Keep watching (a loaded machine starts workers slowly) until each slot died quickly 3 times.
  const deathsOf = (index: number) => samples.map((slots) => slots.find((s) => s.index === index)?.quickDeaths ?? 0);
  while (Math.min(deathsOf(1).at(-1) ?? 0, deathsOf(2).at(-1) ?? 0) < 3 && Date.now() - start < 25_000) {
    await sample();
  }
  const final = await m.status();
  t.is(m.child.exitCode, null, 'the master is still running');
  t.is(m.child.signalCode, null);

  // Status shows the slots backing off with a growing count of quick deaths.
  t.true(
    samples.flat().some((s) => s.state === 'backoff' && s.nextForkInMs !== undefined),
    'a slot was seen in backoff',
  );
  for (const index of [1, 2]) {
    const deaths = deathsOf(index);
    t.deepEqual(
      deaths,
      [...deaths].sort((a, b) => a - b),
      `quickDeaths of slot ${index} never decrease`,
    );
    t.true((deaths.at(-1) ?? 0) >= 3, `slot ${index} counted ${deaths.at(-1)} quick deaths`);
  }
  t.true(final.slots.every((s) => s.state !== 'up'));
  t.false(final.healthy);
  t.regex(final.slots[0]?.lastExitReason ?? '', /exit code|killed/);
  // The delays grow: with jitter in [base/2, base] and a doubling base, each is >= the one before.
  for (const index of [1, 2]) {
    const delays = m
      .logs('worker is crash-looping; backing off')
      .map((e) => e.fields as { slot: number; delayMs: number; quickDeaths: number })
      .filter((f) => f.slot === index);
    t.true(delays.length >= 3, `slot ${index} backed off ${delays.length} times`);
    for (let i = 1; i < delays.length; i++) {
      t.true((delays[i]?.delayMs ?? 0) >= (delays[i - 1]?.delayMs ?? 0), JSON.stringify(delays));
      t.is(delays[i]?.quickDeaths, (delays[i - 1]?.quickDeaths ?? 0) + 1);
    }
  }
});

test.serial('supervision - a map in flight to a crashing worker still gets its answer', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const before = await m.ready();
  const pids = pidsOf(before).sort((a, b) => a - b);
  const victim = before.workers[0]?.pid as number;
  // The victim crashes right after the map reaches it and answers 3 s later (the other worker
  // answers at once); meanwhile its replacement becomes ready and the master drains it.
  m.command(`map sup.slow {"delayMs":3000,"crashPid":${victim}}`);
  const ready = await m.next(
    'log',
    (e: Ev) =>
      e.pid === m.pid && e.msg === 'worker ready' && !pids.includes((e.fields as { workerPid: number }).workerPid),
    15_000,
  );
  const mapped = await m.next('mapped', () => true, 20_000);
  t.is(m.all('map-failed').length, 0);
  const results = mapped.results as { pid: number }[];
  t.deepEqual(
    results.map((r) => r.pid).sort((a, b) => a - b),
    pids,
    'both old workers answered, the crashed one included',
  );
  // The replacement was ready (and the victim draining) before the answer came.
  t.true(m.events.indexOf(ready) < m.events.indexOf(mapped));
  const draining = m.logs('draining worker').find((e) => e.pid === m.pid);
  t.truthy(draining);
  t.true(m.events.indexOf(draining as Ev) < m.events.indexOf(mapped), 'the victim was draining while it owed');
  // The victim's drain hook runs only once it owes nothing: after it answered (both lines come
  // from the victim's own stdout, so their order is the order they happened in).
  const hook = await m.next('worker-drain', (e) => e.pid === victim, 15_000);
  const answered = m.all('slow-answered', (e) => e.pid === victim)[0];
  t.truthy(answered);
  t.true(m.events.indexOf(hook) > m.events.indexOf(answered as Ev));
  t.deepEqual(await waitDead([victim], 15_000), []);
  await m.exitsSeen([victim]);
  const after = await m.status();
  t.true(after.healthy);
  t.false(pidsOf(after).includes(victim));
});
