// Supervision: what a master must survive or report clearly, against a real master process
// (test/fixtures/supervision/app.ts): raw IPC that is not the bus's, a master hook that waits
// for its workers, workers that cannot start, an entry file that does not exist, and requests
// made while the cluster shuts down.
import { spawn } from 'node:child_process';
import test from 'ava';
import { killAll, pidsOf, request, startMaster, type Ev } from './harness.js';

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

test.serial('supervision - no raw IPC message a worker sends crashes the master (default serialization)', async (t) => {
  t.timeout(90_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const pids = pidsOf(await m.ready()).sort((a, b) => a - b);
  const kinds = [
    'deep',
    'deeper',
    'huge',
    'cycle',
    'crashed-lookalike',
    'control-lookalikes',
    'bus-lookalike',
    'batch-lookalike',
  ];
  const outcomes: string[] = [];
  for (const kind of kinds) {
    const { status, body } = await request(m.port, `/send?kind=${kind}`, 'POST', 30_000);
    t.is(status, 200);
    outcomes.push(body.sent ? `${kind}: sent` : `${kind}: refused by the worker's send (${String(body.message)})`);
    t.is(m.child.exitCode, null, `the master is up after ${kind}`);
  }
  t.log(outcomes.join('\n'));
  // The bus still works, with the same workers: no look-alike got one replaced.
  m.command('map sup.who {"tag":"after-raw"}');
  const mapped = await m.next('mapped');
  t.deepEqual(
    (mapped.results as { pid: number }[]).map((r) => r.pid).sort((a, b) => a - b),
    pids,
  );
  t.is(m.all('fork').length, 2, 'no worker was replaced');
  t.is(m.logs('worker crashed').length, 0, 'a crash look-alike is not a crash report');
  t.is(m.child.exitCode, null);
});

test.serial('supervision - a master hook that awaits control.ready() gets its workers', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '2', SUP_MASTER_AWAITS_READY: '1' });
  const saw = await m.next('hook-saw-ready', () => true, 30_000);
  t.is(saw.workers, 2);
  t.is((await m.status()).workers.length, 2);
});

test.serial(
  'supervision - workers that fail at boot make the master give up with exit code 1 and the stack in the log',
  async (t) => {
    t.timeout(60_000);
    const m = await startMaster({
      SUP_WORKERS: '2',
      SUP_CRASH_AT_START: '1',
      SUP_OPTS: JSON.stringify({ maxRestarts: 3, backoffInitialMs: 50 }),
    });
    const exit = await Promise.race([m.exited, new Promise((r) => setTimeout(() => r('still running'), 45_000))]);
    t.deepEqual(exit, { code: 1, signal: null }, 'the master exits non-zero');
    const gaveUp = m.logs('giving up: workers keep failing before they serve, and none is ready');
    t.is(gaveUp.length, 1);
    const fields = gaveUp[0]?.fields as { quickDeaths: number; maxRestarts: number; lastExitReason: string };
    t.log(`gave up after ${fields.quickDeaths} quick deaths: ${fields.lastExitReason}`);
    t.is(fields.maxRestarts, 3);
    t.true(fields.quickDeaths >= 3);
    // The worker said why before it exited by itself: no claim that it was killed.
    t.regex(
      fields.lastExitReason,
      /^crashed \(worker hook failed: Error: broken build: crashing at start-up\), then exit code 1$/,
    );
    const crashes = m.logs('worker crashed').filter((e: Ev) => e.pid === m.pid);
    t.true(crashes.length >= 3);
    for (const c of crashes)
      t.regex((c.fields as { stack: string }).stack, /app\.ts:\d+:\d+/, 'the stack has file and line');
  },
);

/** Runs `code` with `node -e` the way a user would, with clusterbus resolvable; resolves with its output. */
function runEval(code: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=clusterbus-source', '--input-type=module', '-e', code],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_ENV: 'test' },
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, out });
    });
  });
}

test.serial(
  'supervision - startCluster from node -e rejects with StartFailedError instead of a fork loop',
  async (t) => {
    t.timeout(30_000);
    const { code, out } = await runEval(
      `import { startCluster } from 'clusterbus';
     startCluster({ workers: 1, worker() {} }).then(
       () => { console.log('resolved'); process.exit(0); },
       (err) => { console.log('rejected', err.code, err.message); process.exit(3); },
     );`,
    );
    t.log(out.trim());
    t.is(code, 3, out);
    t.regex(out, /rejected CB_START_FAILED startCluster needs an entry file/);
  },
);

test.serial(
  'supervision - a request that needs the bus during shutdown fails with ClosedError saying so',
  async (t) => {
    t.timeout(60_000);
    const m = await startMaster({ SUP_WORKERS: '2' });
    await m.ready();
    const slow = request(m.port, '/slow-map?ms=1500');
    await m.next('slow-start');
    process.kill(m.pid, 'SIGTERM');
    const { status, body } = await slow;
    t.is(status, 200);
    t.log(`during shutdown: ${String(body.code)} ${String(body.message)}`);
    t.is(body.code, 'CB_CLOSED');
    t.is(body.name, 'ClosedError');
    t.regex(String(body.message), /^the cluster is shutting down; "sup\.who" was not completed$/);
    t.deepEqual(await m.exited, { code: 0, signal: null });
  },
);
