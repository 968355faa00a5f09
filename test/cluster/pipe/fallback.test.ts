// Workers without a bus pipe: forked by hand, with the pipe's environment but not its stdio (as
// on a platform where the worker cannot open the pipe's descriptor). They talk to the bus over
// IPC, in the same cluster as workers on the pipe.
import cluster, { Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { busPipeSettings } from 'clusterbus';
import { isBatch } from '../../../src/transports/stream/batch.js';
import { messenger } from '../../fixtures/cluster/messenger.js';
import { isJoined, stopAllWorkers, waitFor, waitForQuiet } from '../../helpers/cluster.js';

const workerScript = fileURLToPath(new URL('../../fixtures/cluster/worker.ts', import.meta.url));

test.afterEach.always(stopAllWorkers);

/** Worker ids whose bus batches crossed IPC, either way, from now on. */
function ipcBatchesBy(): { ids: () => number[]; stop: () => void } {
  const ids = new Set<number>();
  const onMessage = (w: Worker, m: unknown): void => {
    if (isBatch(m)) ids.add(w.id);
  };
  cluster.on('message', onMessage);
  const send = Worker.prototype.send;
  Worker.prototype.send = function (this: Worker, ...args: Parameters<Worker['send']>) {
    if (isBatch(args[0])) ids.add(this.id);
    return send.apply(this, args);
  } as Worker['send'];
  return {
    ids: () => [...ids].sort((a, b) => a - b),
    stop: () => {
      cluster.off('message', onMessage);
      Worker.prototype.send = send;
    },
  };
}

test.serial('bus pipe - a worker that cannot open its pipe uses IPC, next to workers that can', async (t) => {
  const ipc = ipcBatchesBy();
  t.teardown(ipc.stop);
  const { stdio, env } = busPipeSettings();
  cluster.setupPrimary({ exec: workerScript, silent: false, stdio });
  const piped = cluster.fork({ NODE_ENV: 'test', ...env });
  // Default stdio: descriptor 4 is not the pipe in this worker, whatever its environment says.
  cluster.setupPrimary({ exec: workerScript, silent: false, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const unpiped = cluster.fork({ NODE_ENV: 'test', ...env });
  await waitFor(() => isJoined(piped.id) && isJoined(unpiped.id), 20_000, 'both workers to join');

  const answers = await messenger.map('test.echo', { tag: 'mixed' });
  t.deepEqual(
    answers.map((a) => [a.worker, a.tag]),
    [
      [piped.id, 'mixed'],
      [unpiped.id, 'mixed'],
    ],
  );
  // Worker to worker across the two transports, both ways.
  const relayed = await messenger.map('test.relay', { op: 'map', text: 'across' });
  t.deepEqual(relayed.sort(), [`${piped.id}:across,${unpiped.id}:across`, `${piped.id}:across,${unpiped.id}:across`]);
  await messenger.broadcast('test.note', { text: 'both' });
  const logs = await messenger.map('test.log', { clear: true });
  t.true(logs.every((l) => l.entries.includes('note:both:from=0')));
  t.deepEqual(ipc.ids(), [unpiped.id], 'only the worker without a pipe used IPC for the bus');
  await waitForQuiet();
});
