// Size limits: map results (per event and the 1 MiB default) and payloads (per event), checked in
// the sender and again in the master.
import test, { type ExecutionContext } from 'ava';
import { busStats, ErrorCodes, MapError, PayloadTooLargeError } from 'clusterbus';
import { errorFromWire, type DoneFrame } from '../../src/core/protocol/frames.js';
import { messenger } from '../fixtures/cluster/messenger.js';
import { entriesStarting, logs, logsUntil } from '../helpers/fixture.js';
import { startWorkers, stopAllWorkers, waitFor, waitForQuiet } from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

const MiB = 1024 * 1024;

function assertTooLarge(
  t: ExecutionContext,
  err: unknown,
  expected: { event: string; limit: number; worker: number; what: 'payload' | 'result'; atLeast: number },
): void {
  t.true(err instanceof PayloadTooLargeError, String(err));
  const e = err as PayloadTooLargeError;
  t.is(e.code, ErrorCodes.PAYLOAD_TOO_LARGE);
  t.is(e.event, expected.event);
  t.is(e.limit, expected.limit);
  t.is(e.worker, expected.worker);
  t.is(e.what, expected.what);
  t.true(e.size >= expected.atLeast && e.size > e.limit, `size ${e.size}`);
  // The message names the event, the size, the limit and the worker.
  t.true(e.message.includes(`"${expected.event}"`), e.message);
  t.true(e.message.includes(String(e.size)), e.message);
  t.true(e.message.includes(String(expected.limit)), e.message);
  t.true(e.message.includes(`worker ${expected.worker}`), e.message);
}

test.serial('limits - a result over the event limit fails on that worker only', async (t) => {
  const workers = await startWorkers(3);
  const big = workers[1]!.id;
  const outcomes = await messenger.mapSettled('test.small', { resultBytes: 2000, onlyWorker: big });
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w.id !== big]),
  );
  for (const o of outcomes) {
    if (o.ok) t.is(o.value, 'ok');
    else assertTooLarge(t, o.error, { event: 'test.small', limit: 1024, worker: big, what: 'result', atLeast: 2000 });
  }
  const err = await t.throwsAsync(messenger.map('test.small', { resultBytes: 5000, onlyWorker: big }), {
    instanceOf: MapError,
  });
  t.deepEqual(err.results, ['ok', 'ok']);
  assertTooLarge(t, err.outcomes[1]?.error, {
    event: 'test.small',
    limit: 1024,
    worker: big,
    what: 'result',
    atLeast: 5000,
  });
  // Under the limit, everyone answers.
  t.deepEqual(await messenger.map('test.small', { resultBytes: 1000 }), [
    'y'.repeat(1000),
    'y'.repeat(1000),
    'y'.repeat(1000),
  ]);
  await waitForQuiet();
});

test.serial('limits - a result over the default 1 MiB fails on that worker only', async (t) => {
  const workers = await startWorkers(2);
  const big = workers[0]!.id;
  const outcomes = await messenger.mapSettled('test.echo', { tag: 'big', resultBytes: 1_100_000, onlyWorker: big });
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    workers.map((w) => [w.id, w.id !== big]),
  );
  const failed = outcomes.find((o) => !o.ok);
  assertTooLarge(t, failed?.ok === false ? failed.error : undefined, {
    event: 'test.echo',
    limit: MiB,
    worker: big,
    what: 'result',
    atLeast: 1_100_000,
  });
  const ok = outcomes.find((o) => o.ok);
  t.is(ok?.ok && ok.value.tag, 'big');
  // Just under the default goes through.
  const fits = await messenger.map('test.echo', { tag: 'fits', resultBytes: 1_000_000, onlyWorker: big });
  t.is(fits[0]?.filler?.length, 1_000_000);
  await waitForQuiet();
});

test.serial('limits - the master re-checks results: a worker that skips the check still fails', async (t) => {
  // The forger answers `test.small` with ~5000 bytes before its endpoint's own check can run.
  const [honest] = await startWorkers(1);
  const [forger] = await startWorkers(1, { FIXTURE_FORGE_SMALL: '5000' });
  const staleBefore = busStats().broker?.staleReplies ?? 0;
  const outcomes = await messenger.mapSettled('test.small', { resultBytes: 10 });
  t.deepEqual(
    outcomes.map((o) => [o.worker, o.ok]),
    [
      [honest!.id, true],
      [forger!.id, false],
    ],
  );
  t.is(outcomes[0]?.ok && outcomes[0].value, 'y'.repeat(10));
  const failed = outcomes[1];
  assertTooLarge(t, failed?.ok === false ? failed.error : undefined, {
    event: 'test.small',
    limit: 1024,
    worker: forger!.id,
    what: 'result',
    atLeast: 5000,
  });
  await waitForQuiet();
  // The forger's endpoint answered too (with its own PayloadTooLargeError): a stale reply, ignored.
  await waitFor(() => (busStats().broker?.staleReplies ?? 0) > staleBefore, 5000, 'the second answer');
  t.pass();
});

test.serial('limits - a payload over the event limit is rejected in the sender', async (t) => {
  await startWorkers(2);
  await logs(true);
  const unhandledBefore = busStats().broker?.unhandledBroadcasts;
  const err = await t.throwsAsync(messenger.broadcast('test.tiny', { text: 'x'.repeat(100) }));
  assertTooLarge(t, err, { event: 'test.tiny', limit: 64, worker: 0, what: 'payload', atLeast: 100 });
  t.is(busStats().endpoint.pendingCalls, 0);
  // Under the limit it goes through; the big one never reached a worker.
  await messenger.broadcast('test.tiny', { text: 'ok' });
  const seen = await logsUntil((l) => entriesStarting(l, 'tiny:').length >= 2);
  t.deepEqual(entriesStarting(seen, 'tiny:'), ['tiny:ok', 'tiny:ok']);
  t.is(busStats().broker?.unhandledBroadcasts, unhandledBefore);
});

test.serial('limits - a worker that skips the payload check is stopped by the master', async (t) => {
  const workers = await startWorkers(2);
  await logs(true);
  const sender = workers[0]!.id;
  const p = JSON.stringify({ json: { text: 'x'.repeat(200) } });
  const id = 1_000_000_007;
  // A raw `req` with the event's limit in the envelope, as an endpoint would send it, but over it.
  const frame = { cb: 1, t: 'req', id, ev: 'test.tiny', op: 'b', p, mp: 64 };
  const answers = await messenger.map('test.raw', { frame, awaitId: id, onlyWorker: sender });
  const reply = answers.find((a) => a.sent)?.reply as DoneFrame;
  t.is(reply.t, 'done');
  t.is(reply.id, id);
  t.false(reply.ok);
  t.is(reply.e?.c, ErrorCodes.PAYLOAD_TOO_LARGE);
  assertTooLarge(t, errorFromWire(reply.e!, 'test.tiny'), {
    event: 'test.tiny',
    limit: 64,
    worker: sender,
    what: 'payload',
    atLeast: p.length,
  });
  t.is(reply.e?.sz, p.length);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(entriesStarting(await logs(), 'tiny:'), [], 'no worker saw it');
  await waitForQuiet();
});
