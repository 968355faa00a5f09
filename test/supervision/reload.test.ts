// Supervision: rolling reloads under continuous HTTP load (from a worker, by signal, merged
// triggers, a replacement that fails to start), against a real master process
// (test/fixtures/supervision/app.ts).
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  killAll,
  pidsOf,
  request,
  sleep,
  startHttp2Load,
  startLoad,
  startMaster,
  waitDead,
  type Master,
} from './harness.js';

const flags: string[] = [];

test.afterEach.always(async (t) => {
  for (const flag of flags.splice(0)) rmSync(flag, { force: true });
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

const WORKERS = 2;
const byNumber = (a: number, b: number) => a - b;

/**
 * Runs `trigger` (which resolves once the reload it caused is over) under HTTP load, and
 * checks: no failed request, every worker replaced, never fewer than N ready workers and never
 * more than one starting, the old workers gone, the new ones serving.
 */
async function reloadUnderLoad(
  t: ExecutionContext,
  what: string,
  trigger: (m: Master) => Promise<void>,
  reloads = 1,
  { keepAlive = false, opts = {} }: { keepAlive?: boolean; opts?: Record<string, unknown> } = {},
): Promise<void> {
  const m = await startMaster({ SUP_WORKERS: String(WORKERS), SUP_OPTS: JSON.stringify(opts) });
  const old = pidsOf(await m.ready());
  // Bounded by time only: on a quiet machine 20 keep-alive clients send the default 20,000
  // requests before a reload is over, and the new workers must still be seen serving.
  const bounds = { maxMs: 30_000, maxRequests: Number.POSITIVE_INFINITY };
  const load = startLoad(m.port, keepAlive ? { ...bounds, concurrency: 20, keepAlive } : bounds);
  await sleep(500);
  m.command('sample');
  await m.next('sampling');
  await trigger(m);
  const reloadedAt = Date.now();
  m.command('sample-stop');
  const sample = await m.next('sample');
  // Old workers drain in the background once their replacements are ready.
  t.deepEqual(await waitDead(old, 15_000), [], 'every old worker is gone');
  await m.exitsSeen(old);
  const after = await m.settled(WORKERS);
  const mark = load.stats.sent;
  await sleep(500);
  const stats = await load.stop();
  const lastOld = load.lastAnswerBy(old);
  t.log(
    `${what}: ${stats.sent} requests sent, ${stats.failed} failed; ` +
      `the old code last answered ${lastOld === undefined ? '-' : lastOld - reloadedAt} ms after the reload was done`,
  );
  // A drained worker exits by itself once its last connection is closed, never killed.
  for (const pid of old) {
    const exit = m.all('exit', (e) => e.workerPid === pid)[0];
    t.like(exit, { code: 0, signal: null }, `old worker ${pid} exited by itself`);
  }

  t.is(stats.failed, 0, stats.errors.join('; '));
  t.true(stats.sent > 0);
  const fresh = pidsOf(after, 'ready').sort(byNumber);
  t.is(fresh.length, WORKERS);
  t.is(after.workers.length, WORKERS);
  t.deepEqual(
    fresh.filter((p) => old.includes(p)),
    [],
    'every worker was replaced',
  );
  t.deepEqual(after.workers.map((w) => w.index).sort(byNumber), [1, 2]);
  t.false(after.reloading);
  t.true(after.healthy);
  t.true((sample.samples as number) > 5);
  t.true((sample.minReady as number) >= WORKERS, `ready workers dropped to ${sample.minReady as number}`);
  t.true((sample.maxStarting as number) <= 1, `${sample.maxStarting as number} workers were starting at once`);
  t.is(m.logs('rolling reload started').length, reloads);
  t.is(m.logs('rolling reload done').length, reloads);
  const late = load.pidsSince(mark);
  t.true(late.size > 0 && [...late].every((p) => fresh.includes(p)), 'the new workers serve');
  t.is(m.logs('worker exited unexpectedly').length, 0);
}

test.serial('supervision - a rolling reload asked by a worker under HTTP load fails no request', async (t) => {
  t.timeout(60_000);
  await reloadUnderLoad(t, 'reload from a worker', async (m) => {
    const answer = await request(m.port, '/reload', 'POST', 30_000);
    t.is(answer.status, 200, JSON.stringify(answer.body));
    t.true(answer.body.reloaded);
  });
});

test.serial('supervision - a rolling reload on SIGUSR2 under HTTP load fails no request', async (t) => {
  t.timeout(60_000);
  await reloadUnderLoad(t, 'reload on SIGUSR2', async (m) => {
    process.kill(m.pid, 'SIGUSR2');
    await m.next('log', (e) => e.pid === m.pid && e.msg === 'rolling reload done', 30_000);
  });
});

test.serial('supervision - a rolling reload on SIGUSR2 under keep-alive load fails no request', async (t) => {
  t.timeout(60_000);
  await reloadUnderLoad(
    t,
    'keep-alive, reload on SIGUSR2',
    async (m) => {
      process.kill(m.pid, 'SIGUSR2');
      await m.next('log', (e) => e.pid === m.pid && e.msg === 'rolling reload done', 30_000);
    },
    1,
    { keepAlive: true },
  );
});

test.serial(
  'supervision - a reload by the think-cluster-reload-workers directive under keep-alive load fails no request',
  async (t) => {
    t.timeout(60_000);
    await reloadUnderLoad(
      t,
      'keep-alive, reload by directive',
      async (m) => {
        const answer = await request(m.port, '/legacy-reload', 'POST');
        t.is(answer.status, 200);
        await m.next('log', (e) => e.pid === m.pid && e.msg === 'rolling reload done', 30_000);
      },
      1,
      { keepAlive: true },
    );
  },
);

test.serial(
  'supervision - a reload with killTimeoutMs 1500 under steady keep-alive load fails no request',
  async (t) => {
    t.timeout(60_000);
    await reloadUnderLoad(
      t,
      'keep-alive, killTimeoutMs 1500',
      async (m) => {
        process.kill(m.pid, 'SIGUSR2');
        await m.next('log', (e) => e.pid === m.pid && e.msg === 'rolling reload done', 30_000);
      },
      1,
      { keepAlive: true, opts: { killTimeoutMs: 1500 } },
    );
  },
);

// The one case a draining worker cannot make safe: HTTP/1.1 has no way to tell a client that
// an idle connection is about to close, so a client that sends on it at the instant the worker
// closes it (after `drainIdleMs` of idleness) gets a reset. Clients that pause about as long as
// `drainIdleMs` between requests are the ones that can hit it; this measures how often.
test.serial(
  'supervision - keep-alive clients that pause around drainIdleMs: the idle-close window, measured',
  async (t) => {
    t.timeout(60_000);
    const m = await startMaster({ SUP_WORKERS: String(WORKERS), SUP_OPTS: JSON.stringify({ drainIdleMs: 200 }) });
    const old = pidsOf(await m.ready());
    const clients = 20;
    const load = startLoad(m.port, { maxMs: 30_000, concurrency: clients, keepAlive: true, pauseMs: 400 });
    await sleep(500);
    for (let i = 0; i < 2; i++) {
      process.kill(m.pid, 'SIGUSR2');
      await m.next('log', (e) => e.pid === m.pid && e.msg === 'rolling reload done', 30_000, m.events.length);
      await sleep(800);
    }
    await m.settled(WORKERS);
    const stats = await load.stop();
    t.log(
      `keep-alive clients pausing 0-400 ms, drainIdleMs 200, two reloads: ${stats.sent} requests sent, ` +
        `${stats.failed} failed (${stats.errors.join('; ') || 'none'})`,
    );
    t.true(stats.sent > 0);
    // At most one request per connection a draining worker closed while idle, and only resets.
    t.true(stats.failed <= clients * 2, `${stats.failed} failed`);
    t.true(
      stats.errors.every((e) => /ECONNRESET|socket hang up/.test(e)),
      stats.errors.join('; '),
    );
    t.deepEqual(await waitDead(old, 15_000), []);
  },
);

test.serial('supervision - a rolling reload under HTTP/2 load fails no request', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: String(WORKERS), SUP_HTTP2: '1' });
  const old = pidsOf(await m.ready());
  const load = startHttp2Load(m.port, { clients: 8, maxMs: 30_000 });
  await sleep(500);
  process.kill(m.pid, 'SIGUSR2');
  await m.next('log', (e) => e.pid === m.pid && e.msg === 'rolling reload done', 30_000);
  t.deepEqual(await waitDead(old, 15_000), [], 'every old worker is gone');
  await m.exitsSeen(old);
  const fresh = pidsOf(await m.settled(WORKERS));
  await sleep(500);
  const stats = await load.stop();
  t.log(
    `HTTP/2, reload on SIGUSR2: ${stats.sent} requests sent, ${stats.failed} failed, ` +
      `${stats.retried} refused unprocessed and sent again, ${stats.sessions} sessions`,
  );
  t.is(stats.failed, 0, stats.errors.join('; '));
  for (const pid of old) t.like(m.all('exit', (e) => e.workerPid === pid)[0], { code: 0, signal: null });
  t.true(
    fresh.every((p) => stats.pids.includes(p)),
    'the new workers serve',
  );
});

test.serial('supervision - reload triggers during a reload are merged into one follow-up', async (t) => {
  t.timeout(60_000);
  await reloadUnderLoad(
    t,
    'three merged reloads',
    async (m) => {
      // Three calls at once: the first runs, the other two share one follow-up reload.
      m.command('reload a\nreload b\nreload c');
      for (const tag of ['a', 'b', 'c']) await m.next('reloaded', (e) => e.tag === tag, 30_000);
      t.is(m.all('reload-failed').length, 0);
    },
    2,
  );
});

test.serial(
  'supervision - a replacement that fails to start stops the reload and the old workers keep serving',
  async (t) => {
    t.timeout(60_000);
    const flag = path.join(os.tmpdir(), `clusterbus-sup-fail-${process.pid}-${Date.now()}`);
    flags.push(flag);
    const m = await startMaster({ SUP_WORKERS: String(WORKERS), SUP_FAIL_FLAG: flag });
    const old = pidsOf(await m.ready()).sort(byNumber);
    const load = startLoad(m.port, { maxMs: 30_000 });
    await sleep(500);
    // From now on a fresh worker throws at start-up.
    writeFileSync(flag, 'fail');

    // Through the API in the master...
    m.command('reload api');
    const failed = await m.next('reload-failed', (e) => e.tag === 'api', 30_000);
    t.is(failed.code, 'CB_RELOAD_FAILED');
    // ...and through reloadWorkers() in a worker.
    const answer = await request(m.port, '/reload', 'POST', 30_000);
    t.is(answer.status, 500);
    t.is(answer.body.code, 'CB_RELOAD_FAILED');

    const mark = load.stats.sent;
    await sleep(1_000);
    const status = await m.status();
    const stats = await load.stop();
    t.log(`failed reload: ${stats.sent} requests sent, ${stats.failed} failed`);
    t.is(stats.failed, 0, stats.errors.join('; '));
    t.deepEqual(pidsOf(status, 'ready').sort(byNumber), old, 'the old workers still serve');
    t.is(status.workers.length, WORKERS, 'no failed replacement is left behind');
    t.false(status.reloading);
    t.true(status.healthy);
    const late = load.pidsSince(mark);
    t.true(late.size > 0 && [...late].every((p) => old.includes(p)));
    // One fork per slot at start, one per failed reload attempt: no retry storm.
    t.is(m.all('fork').length, WORKERS + 2);
    t.is(m.logs('rolling reload done').length, 0);

    // Once the build is fixed, a reload goes through.
    rmSync(flag, { force: true });
    m.command('reload fixed');
    await m.next('reloaded', (e) => e.tag === 'fixed', 30_000);
    t.deepEqual(await waitDead(old, 15_000), []);
    await m.exitsSeen(old);
    const after = await m.settled(WORKERS);
    t.deepEqual(
      pidsOf(after).filter((p) => old.includes(p)),
      [],
    );
    t.true(after.healthy);
  },
);
