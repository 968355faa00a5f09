// The global payload cap, set with configureBus. It is process-global and must be set before the
// bus is first used, hence a file of its own.
import test from 'ava';
import { BadOptionsError, busStats, configureBus, ErrorCodes, PayloadTooLargeError } from 'clusterbus';
import { errorFromWire, type DoneFrame } from '../../src/core/protocol/frames.js';
import { messenger } from '../fixtures/cluster/messenger.js';
import { entriesStarting, logs } from '../helpers/fixture.js';
import { startWorkers, stopAllWorkers, waitForQuiet } from '../helpers/cluster.js';

const CAP = 4096;
configureBus({ maxPayloadBytes: CAP });

test.afterEach.always(stopAllWorkers);

const big = 'x'.repeat(CAP + 100);

test.serial(
  'limits (global cap) - every operation of the master rejects a payload over the cap before sending',
  async (t) => {
    await startWorkers(2);
    await logs(true);
    const attempts: [string, Promise<unknown>][] = [
      ['test.note', messenger.broadcast('test.note', { text: big })],
      ['test.task', messenger.consume('test.task', { key: big })],
      ['test.echo', messenger.map('test.echo', { tag: big })],
      ['test.echo', messenger.mapSettled('test.echo', { tag: big })],
    ];
    for (const [event, attempt] of attempts) {
      const err = await t.throwsAsync(attempt, { instanceOf: PayloadTooLargeError });
      t.is(err.code, ErrorCodes.PAYLOAD_TOO_LARGE);
      t.is(err.event, event);
      t.is(err.limit, CAP);
      t.is(err.worker, 0);
      t.is(err.what, 'payload');
      t.true(err.size > CAP);
    }
    t.is(busStats().endpoint.pendingCalls, 0);
    // Under the cap is fine, and no worker saw the big ones.
    await messenger.consume('test.task', { key: 'small' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const seen = await logs();
    t.deepEqual(entriesStarting(seen, 'task:'), ['task:small']);
    t.deepEqual(entriesStarting(seen, 'note:'), []);
    await waitForQuiet();
  },
);

test.serial('limits (global cap) - configureBus once the bus runs throws BadOptionsError', (t) => {
  busStats();
  t.throws(() => configureBus({ maxPayloadBytes: 1 }), { instanceOf: BadOptionsError });
  t.is(busStats().endpoint.worker, 0);
});

test.serial('limits (global cap) - the master rejects what a worker with a larger cap sends', async (t) => {
  // The workers run with the default 8 MiB cap; the master's is 4 KiB.
  const workers = await startWorkers(2);
  await logs(true);
  const answers = await messenger.map('test.relay', { op: 'broadcast', text: 'y', repeat: CAP + 100 });
  t.deepEqual(answers, ['error:CB_PAYLOAD_TOO_LARGE', 'error:CB_PAYLOAD_TOO_LARGE']);
  const consumed = await messenger.map('test.relay', { op: 'consume', text: 'y', repeat: CAP + 100 });
  t.deepEqual(consumed, ['error:CB_PAYLOAD_TOO_LARGE', 'error:CB_PAYLOAD_TOO_LARGE']);
  // A raw request with no per-event limit in its envelope meets the master's cap.
  const id = 1_000_000_011;
  const frame = { cb: 1, t: 'req', id, ev: 'test.note', op: 'b', p: '' };
  const fillP = CAP + 100;
  const pLength = JSON.stringify({ json: { text: 'x'.repeat(fillP) } }).length;
  const raw = await messenger.map('test.raw', { frame, fillP, awaitId: id, onlyWorker: workers[1]!.id });
  const reply = raw.find((r) => r.sent)?.reply as DoneFrame;
  t.false(reply.ok);
  const err = errorFromWire(reply.e!, 'test.note');
  t.true(err instanceof PayloadTooLargeError);
  t.is((err as PayloadTooLargeError).limit, CAP);
  t.is((err as PayloadTooLargeError).size, pLength);
  t.is(err.worker, workers[1]!.id);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const seen = await logs();
  t.deepEqual(entriesStarting(seen, 'note:'), [], 'no worker saw a note');
  t.deepEqual(entriesStarting(seen, 'task:'), [], 'no worker ran a task');
  await waitForQuiet();
});

test.serial('limits (global cap) - a worker applies its own, smaller cap before sending', async (t) => {
  // 2000 bytes fit the master's 4 KiB cap, so only the worker's own 1 KiB cap can refuse them.
  await startWorkers(2, { FIXTURE_MAX_PAYLOAD_BYTES: '1024' });
  await logs(true);
  const answers = await messenger.map('test.relay', { op: 'broadcast', text: 'z', repeat: 2000 });
  t.deepEqual(answers, ['error:CB_PAYLOAD_TOO_LARGE', 'error:CB_PAYLOAD_TOO_LARGE']);
  // Under the worker's cap, the same relay works.
  const ok = await messenger.map('test.relay', { op: 'map', text: 'z', repeat: 500 });
  for (const a of ok) t.regex(a, /^\d+:z{500},\d+:z{500}$/);
  t.deepEqual(entriesStarting(await logs(), 'note:'), []);
  await waitForQuiet();
});
