// Supervision: worker counts, stable slot indexes, raw IPC next to the bus, the master's death
// and graceful shutdown, against a real master process (test/fixtures/supervision/app.ts).
import os from 'node:os';
import test from 'ava';
import { WORKER_INDEX_ENV } from 'clusterbus';
import { killAll, pidsOf, request, startMaster, waitDead, type Ev } from './harness.js';

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test.serial('supervision - workers: 0 forks one worker per CPU', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '0' });
  const status = await m.ready();
  const n = os.availableParallelism();
  t.is(status.workers.length, n);
  t.deepEqual(
    status.workers.map((w) => w.index).sort((a, b) => a - b),
    range(n),
  );
  t.is(new Set(pidsOf(status, 'ready')).size, n);
  t.true(status.healthy);
});

for (const count of [1, 3]) {
  test.serial(`supervision - workers: ${count} forks exactly ${count}, indexed 1..${count}`, async (t) => {
    t.timeout(60_000);
    const m = await startMaster({ SUP_WORKERS: String(count) });
    const status = await m.ready();
    t.is(status.workers.length, count);
    t.is(status.slots.length, count);
    t.deepEqual(
      status.workers.map((w) => w.index).sort((a, b) => a - b),
      range(count),
    );
    t.is(new Set(pidsOf(status, 'ready')).size, count);
    // Each worker sees its own index in the environment and in its context.
    const starts = m.all('worker-start');
    t.is(starts.length, count);
    for (const s of starts) t.is(s.envIndex, String(s.index));
    t.is(m.all('fork').length, count);
  });
}

test.serial('supervision - a killed worker is replaced in the same slot with the same index', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const before = await m.ready();
  const victim = before.workers.find((w) => w.index === 2);
  const other = before.workers.find((w) => w.index === 1);
  if (!victim?.pid || !other?.pid) return t.fail('no worker in slot 2');
  process.kill(victim.pid, 'SIGKILL');
  const fresh = await m.next('worker-start', (e) => e.pid !== victim.pid && e.index === 2);
  t.is(fresh.envIndex, '2', `${WORKER_INDEX_ENV} of the replacement`);
  t.not(fresh.pid, victim.pid);
  t.deepEqual(await waitDead([victim.pid], 5_000), []);
  // Wait until the master has seen the replacement ready, then look at the status.
  await m.next('log', (e) => e.msg === 'worker ready' && (e.fields as { workerPid: number }).workerPid === fresh.pid);
  const after = await m.status();
  const slot2 = after.workers.filter((w) => w.index === 2);
  t.deepEqual(
    slot2.map((w) => [w.pid, w.state]),
    [[fresh.pid, 'ready']],
  );
  t.is(slot2[0]?.restarts, 1);
  t.is(slot2[0]?.lastExitReason, 'killed by SIGKILL');
  t.deepEqual(
    after.workers.filter((w) => w.index === 1).map((w) => w.pid),
    [other.pid],
    'the other slot is untouched',
  );
  t.true(after.healthy);
  // The replacement serves.
  const seen = new Set<number>();
  for (let i = 0; i < 6 && !seen.has(fresh.pid); i++) seen.add((await request(m.port, '/')).body.pid as number);
  t.true(seen.has(fresh.pid));
});

test.serial('supervision - no worker outlives a SIGKILLed master by more than 2 s', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const pids = pidsOf(await m.ready());
  t.is(pids.length, 2);
  process.kill(m.pid, 'SIGKILL');
  await m.exited;
  const killedAt = Date.now();
  const alive = await waitDead(pids, 2_000);
  t.deepEqual(alive, [], 'workers still alive 2 s after the master died');
  t.log(`workers gone ${Date.now() - killedAt} ms after the master's death`);
});

test.serial('supervision - raw process.send IPC reaches the master next to a working bus', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const pids = pidsOf(await m.ready()).sort((a, b) => a - b);
  const rawFrom = async (): Promise<void> => {
    const { status, body } = await request(m.port, '/raw', 'POST');
    t.is(status, 200);
    const raw = await m.next('raw', (e: Ev) => e.from === body.pid, 5_000);
    t.true(pids.includes(raw.from as number));
  };
  for (let i = 0; i < 4; i++) await rawFrom();
  // The bus, from the master's bootstrap: every worker answers.
  m.command('map sup.who {"tag":"after-raw"}');
  const mapped = await m.next('mapped');
  const results = mapped.results as { pid: number; tag: string }[];
  t.deepEqual(
    results.map((r) => r.pid).sort((a, b) => a - b),
    pids,
  );
  t.true(results.every((r) => r.tag === 'after-raw'));
  // And raw IPC still flows after the bus was used.
  await rawFrom();
  t.is(m.all('map-failed').length, 0);
});

test.serial('supervision - SIGTERM lets a slow request finish, exits 0 and leaves no worker', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const pids = pidsOf(await m.ready());
  const slow = request(m.port, '/slow?ms=2000');
  await m.next('slow-start');
  process.kill(m.pid, 'SIGTERM');
  const { status, body } = await slow;
  t.is(status, 200);
  t.true(body.slow);
  const exit = await m.exited;
  t.deepEqual(exit, { code: 0, signal: null });
  t.deepEqual(await waitDead(pids, 2_000), []);
  t.truthy(m.logs('shutdown complete')[0]);
});
