// Fault tests: workers that die, handlers that throw, reject or never return.
import test from 'ava';
import {
  busStats,
  ErrorCodes,
  HandlerError,
  MapError,
  TimeoutError,
  WorkerExitedError,
  type Settled,
} from 'clusterbus';
import { messenger } from '../fixtures/cluster/messenger.js';
import { entriesStarting, logs, logsUntil } from '../helpers/fixture.js';
import {
  killAndWait,
  owedBy,
  owingPeers,
  settleTime,
  startWorkers,
  stopAllWorkers,
  waitFor,
  waitForQuiet,
} from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

/** Every test's calls use this deadline; "at once" means well within half of it. */
const DEADLINE = 8000;
const WELL_BEFORE = DEADLINE / 2;

type EchoResult = { worker: number; pid: number; tag: string };

function redelivered(): number {
  return busStats().broker?.redelivered ?? 0;
}

// ---- workers that die while they owe a reply ----------------------------------------------

test.serial('faults - SIGKILL during a map: that worker fails with WorkerExitedError, the others answer', async (t) => {
  const workers = await startWorkers(3);
  const victim = workers[1]!;
  const start = Date.now();
  const map = settleTime(messenger.map('test.echo', { tag: 'm', delayMs: 1000 }, { timeoutMs: DEADLINE }), start);
  const settled = settleTime(
    messenger.mapSettled('test.echo', { tag: 's', delayMs: 1000 }, { timeoutMs: DEADLINE }),
    start,
  );
  await waitFor(() => owedBy(victim.id) === 2, 5000, 'the victim to hold both calls');
  await killAndWait(victim);

  const m = await map;
  t.true(m.ms < WELL_BEFORE, `map settled after ${m.ms} ms`);
  t.true(m.error instanceof MapError);
  const err = m.error as MapError<EchoResult>;
  t.is(err.code, ErrorCodes.MAP_FAILED);
  t.deepEqual(
    err.outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w !== victim]),
  );
  const dead = err.outcomes.find((o) => o.worker === victim.id)!;
  t.true(dead.error instanceof WorkerExitedError);
  t.is(dead.error?.code, ErrorCodes.WORKER_EXITED);
  t.is(dead.error?.worker, victim.id);
  t.is(dead.error?.event, 'test.echo');
  t.regex(dead.error?.message ?? '', new RegExp(`worker ${victim.id} exited before answering "test.echo"`));
  t.deepEqual(
    err.results.map((r) => [r.worker, r.tag]),
    workers.filter((w) => w !== victim).map((w) => [w.id, 'm']),
  );

  const s = await settled;
  t.true(s.ms < WELL_BEFORE, `mapSettled settled after ${s.ms} ms`);
  const outcomes = s.value as Settled<EchoResult>[];
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w !== victim]),
  );
  for (const o of outcomes) {
    if (o.ok) t.is(o.value.tag, 's');
    else t.true(o.error instanceof WorkerExitedError && o.error.worker === victim.id);
  }
  await waitForQuiet();
});

test.serial('faults - SIGKILL during a consume: the task is redelivered to another worker', async (t) => {
  const workers = await startWorkers(2);
  await logs(true);
  const before = redelivered();
  const start = Date.now();
  const call = settleTime(
    messenger.consume('test.task', { key: 'redo', delayMs: 1000 }, { timeoutMs: DEADLINE }),
    start,
  );
  await waitFor(() => owingPeers().length === 1, 5000, 'a worker to take the task');
  const victim = workers.find((w) => w.id === owingPeers()[0])!;
  await killAndWait(victim);

  const r = await call;
  t.is(r.error, undefined);
  t.true(r.ms < WELL_BEFORE, `consume settled after ${r.ms} ms`);
  t.is(redelivered(), before + 1);
  const seen = await logs();
  t.is(seen.length, 1);
  t.not(seen[0]!.worker, victim.id);
  t.deepEqual(entriesStarting(seen, 'task:'), ['task:redo']);
  await waitForQuiet();
});

test.serial(
  'faults - SIGKILL during a consume without redelivery rejects with WorkerExitedError at once',
  async (t) => {
    const workers = await startWorkers(2);
    await logs(true);
    const before = redelivered();
    const call = messenger.consume('test.once', { key: 'once', delayMs: 3000 });
    await waitFor(() => owingPeers().length === 1, 5000, 'a worker to take the task');
    const victim = workers.find((w) => w.id === owingPeers()[0])!;
    const killedAt = Date.now();
    const r = await settleTime(
      killAndWait(victim).then(() => call),
      killedAt,
    );
    // The handler would have taken 3 s and the deadline is 8 s: the exit is reported first.
    t.true(r.ms < 2000, `rejected ${r.ms} ms after the kill`);
    t.true(r.error instanceof WorkerExitedError);
    t.is((r.error as WorkerExitedError).worker, victim.id);
    t.is((r.error as WorkerExitedError).event, 'test.once');
    t.is(redelivered(), before);
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.deepEqual(entriesStarting(await logs(), 'once:'), [], 'no other worker ran it');
    await waitForQuiet();
  },
);

test.serial('faults - a worker that calls process.exit in a map handler is reported as exited', async (t) => {
  const workers = await startWorkers(3);
  const quitter = workers[2]!;
  const r = await settleTime(
    messenger.map('test.echo', { tag: 'x', fail: 'exit', onlyWorker: quitter.id }, { timeoutMs: DEADLINE }),
  );
  t.true(r.ms < WELL_BEFORE, `map settled after ${r.ms} ms`);
  const err = r.error as MapError<EchoResult>;
  t.true(err instanceof MapError);
  const gone = err.outcomes.find((o) => !o.ok)!;
  t.is(gone.worker, quitter.id);
  t.true(gone.error instanceof WorkerExitedError);
  t.regex(gone.error?.message ?? '', new RegExp(`worker ${quitter.id} exited before answering`));
  t.deepEqual(
    err.results.map((x) => x.worker),
    [workers[0]!.id, workers[1]!.id],
  );
  await waitForQuiet();
});

test.serial('faults - a consume whose handler exits everywhere is redelivered once, then fails', async (t) => {
  await startWorkers(3);
  await logs(true);
  const before = redelivered();
  const r = await settleTime(messenger.consume('test.task', { key: 'doomed', fail: 'exit' }, { timeoutMs: DEADLINE }));
  t.true(r.ms < WELL_BEFORE, `consume settled after ${r.ms} ms`);
  t.true(r.error instanceof WorkerExitedError);
  t.is(redelivered(), before + 1, 'redelivered exactly once');
  const seen = await logs();
  t.is(seen.length, 1, 'the third worker is still there');
  t.deepEqual(entriesStarting(seen, 'task:'), [], 'and never ran it');
  await waitForQuiet();
});

test.serial('faults - a consume without redelivery whose handler exits rejects with WorkerExitedError', async (t) => {
  await startWorkers(2);
  const before = redelivered();
  const r = await settleTime(messenger.consume('test.once', { key: 'bye', fail: 'exit' }));
  t.true(r.ms < WELL_BEFORE, `consume settled after ${r.ms} ms`);
  t.true(r.error instanceof WorkerExitedError);
  t.is(redelivered(), before);
  await waitForQuiet();
});

// ---- handlers that throw or reject ----------------------------------------------------------

async function pids(): Promise<Map<number, number>> {
  const results = await messenger.map('test.echo', { tag: 'pid' });
  return new Map(results.map((r) => [r.worker, r.pid]));
}

test.serial('faults - a consume handler that throws sends name, message, code and stack back', async (t) => {
  await startWorkers(2);
  const before = await pids();
  const err = await t.throwsAsync(messenger.consume('test.task', { key: 't', fail: 'throw' }), {
    instanceOf: HandlerError,
  });
  t.is(err.code, ErrorCodes.HANDLER_FAILED);
  t.is(err.event, 'test.task');
  t.true(before.has(err.worker!));
  t.is(err.remote.name, 'TypeError');
  t.is(err.remote.message, `thrown by worker ${err.worker}`);
  t.is(err.remote.code, 'E_FIXTURE');
  t.is(typeof err.remote.stack, 'string');
  t.regex(err.remote.stack!, /worker\.ts/);
  t.true(err.cause instanceof Error);
  t.is((err.cause as Error).name, 'TypeError');
  t.is((err.cause as Error & { code?: string }).code, 'E_FIXTURE');
  t.regex(err.message, /TypeError: thrown by worker/);
  // The worker keeps serving, without a restart.
  t.deepEqual(await pids(), before);
  await messenger.consume('test.task', { key: 'after' });
  await waitForQuiet();
});

test.serial('faults - a consume handler that rejects sends the rejection back', async (t) => {
  await startWorkers(2);
  const before = await pids();
  const err = await t.throwsAsync(messenger.consume('test.once', { key: 'r', fail: 'reject' }), {
    instanceOf: HandlerError,
  });
  t.is(err.remote.name, 'RangeError');
  t.is(err.remote.message, `rejected by worker ${err.worker}`);
  t.is(err.remote.code, undefined);
  t.regex(err.remote.stack ?? '', /RangeError: rejected by worker/);
  t.deepEqual(await pids(), before);
  await waitForQuiet();
});

test.serial('faults - map with one throwing worker rejects with MapError carrying the partial results', async (t) => {
  const workers = await startWorkers(3);
  const bad = workers[0]!.id;
  const err = await t.throwsAsync(messenger.map('test.echo', { tag: 'p', fail: 'throw', onlyWorker: bad }), {
    instanceOf: MapError,
  });
  t.is(err.code, ErrorCodes.MAP_FAILED);
  t.regex(err.message, /failed on 1 of 3 workers/);
  const results = err.results as EchoResult[];
  t.deepEqual(
    results.map((r) => [r.worker, r.tag]),
    workers.slice(1).map((w) => [w.id, 'p']),
  );
  t.deepEqual(
    err.outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w.id !== bad]),
  );
  const failed = err.outcomes[0]!;
  t.true(failed.error instanceof HandlerError);
  t.is((failed.error as HandlerError).remote.code, 'E_FIXTURE');
  t.is(failed.error?.worker, bad);
  // It keeps serving.
  t.is((await messenger.map('test.echo', { tag: 'again' })).length, 3);
  await waitForQuiet();
});

test.serial('faults - mapSettled with one rejecting worker: the others are ok', async (t) => {
  const workers = await startWorkers(3);
  const bad = workers[1]!.id;
  const outcomes = await messenger.mapSettled('test.echo', { tag: 'q', fail: 'reject', onlyWorker: bad, delayMs: 10 });
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w.id !== bad]),
  );
  for (const o of outcomes) {
    if (o.ok) t.is(o.value.tag, 'q');
    else {
      t.true(o.error instanceof HandlerError);
      t.is((o.error as HandlerError).remote.name, 'RangeError');
    }
  }
  await waitForQuiet();
});

test.serial('faults - a throwing or rejecting broadcast handler does not stop the worker', async (t) => {
  await startWorkers(2);
  const before = await pids();
  await logs(true);
  await messenger.broadcast('test.note', { text: 'boom', fail: 'throw' });
  await messenger.broadcast('test.note', { text: 'nope', fail: 'reject' });
  await messenger.broadcast('test.note', { text: 'fine' });
  const seen = await logsUntil((l) => l.every((w) => w.entries.length >= 3));
  for (const l of seen) {
    t.deepEqual(l.entries, ['note:boom:from=0', 'note:nope:from=0', 'note:fine:from=0']);
  }
  t.deepEqual(await pids(), before);
  await waitForQuiet();
});

// ---- handlers that never return --------------------------------------------------------------

test.serial('faults - a map whose handler hangs times out on that worker only', async (t) => {
  const workers = await startWorkers(3);
  const stuck = workers[2]!.id;
  const r = await settleTime(
    messenger.map('test.echo', { tag: 'h', fail: 'hang', onlyWorker: stuck }, { timeoutMs: 500 }),
  );
  t.true(r.ms < 3000, `settled after ${r.ms} ms`);
  const err = r.error as MapError<EchoResult>;
  t.true(err instanceof MapError);
  const late = err.outcomes.find((o) => !o.ok)!;
  t.is(late.worker, stuck);
  t.true(late.error instanceof TimeoutError);
  t.is(late.error?.code, ErrorCodes.TIMEOUT);
  t.is(late.error?.worker, stuck);
  t.is((late.error as TimeoutError).timeoutMs, 500);
  t.regex(late.error?.message ?? '', new RegExp(`worker ${stuck}\\b`));
  t.deepEqual(
    err.results.map((x) => x.worker),
    [workers[0]!.id, workers[1]!.id],
  );

  const outcomes = await messenger.mapSettled(
    'test.echo',
    { tag: 'h2', fail: 'hang', onlyWorker: stuck },
    { timeoutMs: 500 },
  );
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w.id !== stuck]),
  );
  const timedOut = outcomes.find((o) => !o.ok);
  t.true(timedOut?.ok === false && timedOut.error instanceof TimeoutError && timedOut.error.worker === stuck);
  // The hung handlers still run in the worker, but the master holds nothing for them.
  await waitForQuiet();
  t.is(busStats().broker?.parkedRequests, 0);
});

test.serial('faults - a consume whose handler hangs times out naming the worker', async (t) => {
  const workers = await startWorkers(2);
  const r = await settleTime(messenger.consume('test.task', { key: 'forever', fail: 'hang' }, { timeoutMs: 500 }));
  t.true(r.ms < 3000, `settled after ${r.ms} ms`);
  const err = r.error as TimeoutError;
  t.true(err instanceof TimeoutError);
  t.is(err.code, ErrorCodes.TIMEOUT);
  t.is(err.event, 'test.task');
  t.true(
    workers.some((w) => w.id === err.worker),
    `worker ${err.worker}`,
  );
  t.regex(err.message, new RegExp(`waiting for worker ${err.worker}\\b`));
  await waitForQuiet();
  // A timed-out consume is not redelivered: nobody recorded it.
  t.deepEqual(entriesStarting(await logs(), 'task:'), []);
});
