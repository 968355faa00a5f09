// Shutdown under a container's grace period: a real master (test/fixtures/supervision/app.ts) with
// a slow HTTP request in flight gets SIGTERM, as `docker stop` or Kubernetes sends it; what the
// master's exit and the client show, with the default deadline and with a longer one.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { killAll, pidsOf, request, startMaster, waitDead, type Master } from './harness.js';

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

/** What an HTTP client saw, and when (ms after `since`). */
async function outcome(
  pending: Promise<{ status: number }>,
  since: () => number,
): Promise<{ status?: number; error?: string; atMs: number }> {
  try {
    const { status } = await pending;
    return { status, atMs: performance.now() - since() };
  } catch (err) {
    return { error: (err as Error).message, atMs: performance.now() - since() };
  }
}

/**
 * Sends `GET /slow?ms=<ms>` to `m`, and SIGTERM to the master once a worker has started it, as
 * `docker stop` would; what the master's exit and the client showed, timed from the signal.
 */
async function slowRequestAtSigterm(m: Master, ms: number) {
  let signalledAt = 0;
  const client = outcome(request(m.port, `/slow?ms=${ms}`, 'GET', 30_000), () => signalledAt);
  const slow = await m.next('slow-start');
  signalledAt = performance.now();
  process.kill(m.pid, 'SIGTERM');
  const exit = await m.exited;
  const exitMs = performance.now() - signalledAt;
  const seen = await client;
  return {
    slow,
    exit,
    exitMs,
    seen,
    summary:
      `master exited with ${String(exit.code)} ${Math.round(exitMs)} ms after SIGTERM; ` +
      `the client got ${seen.error ?? `HTTP ${seen.status}`} ${Math.round(seen.atMs)} ms after it`,
  };
}

test.serial(
  'shutdown - by default a 20 s request is cut before Docker’s 10 s: the master exits 124 and logs what it cut',
  async (t) => {
    t.timeout(60_000);
    const m = await startMaster({ SUP_WORKERS: '2' });
    const pids = pidsOf(await m.ready());
    const { slow, exit, exitMs, seen, summary } = await slowRequestAtSigterm(m, 20_000);
    t.log(summary);
    t.deepEqual(exit, { code: 124, signal: null });
    t.true(exitMs < 10_000, 'gone before Docker would kill it');
    // Timers never fire early: the request had until 1 s before the 9 s deadline.
    t.true(seen.atMs >= 7_900, `cut at ${seen.atMs} ms`);
    t.is(seen.status, undefined);
    t.regex(seen.error ?? '', /socket hang up|ECONNRESET/);

    const killing = m.logs('worker still busy at its deadline; killing it');
    t.is(killing.length, 1);
    t.like(killing[0]?.fields, {
      worker: slow.id,
      workerPid: slow.pid,
      deadline: 'shutdownTimeoutMs',
      shutdownTimeoutMs: 9_000,
      requests: 1,
    });
    const cut = m.logs('request cut: its worker is killed');
    t.is(cut.length, 1);
    t.like(cut[0]?.fields, { worker: slow.id, method: 'GET', url: '/slow?ms=20000' });
    const runningMs = (cut[0]?.fields as { runningMs: number }).runningMs;
    t.true(runningMs >= 7_900, `it had run ${runningMs} ms`);
    t.log(`logged: ${JSON.stringify(killing[0]?.fields)}; ${JSON.stringify(cut[0]?.fields)}`);
    t.like(m.logs('shutdown complete')[0]?.fields, { killedWorkers: 1 });
    t.like(m.logs('shutdown had to kill workers still serving at the deadline')[0]?.fields, {
      killed: String(slow.pid),
      exitCode: 124,
    });
    const idle = pids.find((p) => p !== slow.pid);
    t.like(m.all('exit', (e) => e.workerPid === idle)[0], { code: 0, signal: null }, 'the idle worker drained');
    t.like(m.all('exit', (e) => e.workerPid === slow.pid)[0], { code: null, signal: 'SIGKILL' });
    t.deepEqual(await waitDead(pids, 2_000), []);
  },
);

test.serial(
  'shutdown - with shutdownTimeoutMs for Kubernetes an 11 s request finishes and the master exits 0',
  async (t) => {
    t.timeout(60_000);
    const m = await startMaster({ SUP_WORKERS: '1', SUP_OPTS: JSON.stringify({ shutdownTimeoutMs: 25_000 }) });
    const pids = pidsOf(await m.ready());
    const { exit, exitMs, seen, summary } = await slowRequestAtSigterm(m, 11_000);
    t.log(summary);
    t.deepEqual(exit, { code: 0, signal: null });
    t.is(seen.status, 200, seen.error);
    t.true(exitMs < 25_000);
    t.is(m.logs('request cut: its worker is killed').length, 0);
    t.like(m.logs('shutdown complete')[0]?.fields, { killedWorkers: 0 });
    t.deepEqual(await waitDead(pids, 2_000), []);
  },
);
