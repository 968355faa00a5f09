// What the bus pipe changes: bus batches leave IPC alone, and a worker's last words on the pipe
// are read before it counts as gone.
import cluster, { Worker } from 'node:cluster';
import test from 'ava';
import { busStats } from 'clusterbus';
import { isBatch } from '../../../src/transports/stream/batch.js';
import { messenger } from '../../fixtures/cluster/messenger.js';
import { startWorkers, stopAllWorkers, useBusPipe, waitFor, waitForQuiet } from '../../helpers/cluster.js';

useBusPipe();
test.afterEach.always(stopAllWorkers);

/** Counts bus batches crossing IPC, both ways, from now on. */
function countIpcBatches(): { count: () => number; stop: () => void } {
  let n = 0;
  const onMessage = (_w: Worker, m: unknown): void => {
    if (isBatch(m)) n++;
  };
  cluster.on('message', onMessage);
  const send = Worker.prototype.send;
  Worker.prototype.send = function (this: Worker, ...args: Parameters<Worker['send']>) {
    if (isBatch(args[0])) n++;
    return send.apply(this, args);
  } as Worker['send'];
  return {
    count: () => n,
    stop: () => {
      cluster.off('message', onMessage);
      Worker.prototype.send = send;
    },
  };
}

/** Resolves once the broker no longer counts worker `id` as a peer. */
function forgotten(id: number): Promise<void> {
  return waitFor(
    () => !(busStats().broker?.peers.some((p) => p.id === id) ?? true),
    5000,
    `the broker to forget ${id}`,
  );
}

test.serial('bus pipe - every operation travels on the pipe; IPC carries no bus batch', async (t) => {
  const ipc = countIpcBatches();
  t.teardown(ipc.stop);
  const workers = await startWorkers(2);
  const answers = await messenger.map('test.echo', { tag: 'p' });
  t.deepEqual(
    answers.map((a) => [a.worker, a.tag]),
    workers.map((w) => [w.id, 'p']),
  );
  await messenger.broadcast('test.note', { text: 'via-pipe' });
  await messenger.consume('test.task', { key: 'via-pipe' });
  const relayed = await messenger.map('test.relay', { op: 'map', text: 'nested' });
  t.is(relayed.length, 2);
  const logs = await messenger.map('test.log', { clear: true });
  t.true(logs.every((l) => l.entries.includes('note:via-pipe:from=0')));
  t.is(logs.flatMap((l) => l.entries.filter((e) => e === 'task:via-pipe')).length, 1);
  t.is(ipc.count(), 0, 'no bus batch crossed IPC');
  await waitForQuiet();
});

test.serial('bus pipe - text of any size and script arrives intact, split across reads', async (t) => {
  const workers = await startWorkers(2);
  // Multi-byte characters throughout, in a payload far larger than one read of the pipe.
  const tag = 'é€😀 ascii \u2028 "quoted" \\ '.repeat(20_000);
  const answers = await messenger.map('test.echo', { tag });
  t.deepEqual(
    answers.map((a) => [a.worker, a.tag === tag]),
    workers.map((w) => [w.id, true]),
  );
  await waitForQuiet();
});

test.serial('bus pipe - an answer written just before the worker exits still counts', async (t) => {
  const workers = await startWorkers(2);
  const leaver = workers[1]!;
  const exited = new Promise<void>((resolve) => leaver.once('exit', () => resolve()));
  const answers = await messenger.map('test.echo', { tag: 'last', fail: 'answer-then-exit', onlyWorker: leaver.id });
  t.deepEqual(
    answers.map((a) => [a.worker, a.tag]),
    workers.map((w) => [w.id, 'last']),
  );
  await exited;
  await forgotten(leaver.id);
  await waitForQuiet();
});

test.serial('bus pipe - a worker that closed its IPC channel still answers what it owes', async (t) => {
  const workers = await startWorkers(2);
  const drained = workers[1]!;
  const exited = new Promise<void>((resolve) => drained.once('exit', () => resolve()));
  const answers = await messenger.map('test.echo', {
    tag: 'owed',
    fail: 'disconnect-then-answer',
    delayMs: 300,
    onlyWorker: drained.id,
  });
  t.deepEqual(
    answers.map((a) => [a.worker, a.tag]),
    workers.map((w) => [w.id, 'owed']),
  );
  // With nothing left to do and no IPC channel, it exits by itself, and the broker lets it go.
  await exited;
  await forgotten(drained.id);
  const after = await messenger.map('test.echo', { tag: 'after' });
  t.deepEqual(
    after.map((a) => a.worker),
    [workers[0]!.id],
  );
  await waitForQuiet();
});
