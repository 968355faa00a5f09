// Nothing is dropped silently: with no handler anywhere, requests fail at once, never hang.
import test, { type ExecutionContext } from 'ava';
import { busStats, ErrorCodes, NoHandlerError } from 'clusterbus';
import { messenger } from '../fixtures/cluster/messenger.js';
import { settleTime, startWorkers, stopAllWorkers, waitForQuiet } from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

function unhandled(): number {
  return busStats().broker?.unhandledBroadcasts ?? 0;
}

async function checkNobody(t: ExecutionContext, events: { map: 'test.nobody.map' | 'test.echo' }) {
  // Deadlines of 8 s: "at once" is well under a second.
  const consume = await settleTime(messenger.consume('test.nobody.task', { x: 1 }, { timeoutMs: 8000 }));
  t.true(consume.error instanceof NoHandlerError, String(consume.error));
  t.is((consume.error as NoHandlerError).code, ErrorCodes.NO_HANDLER);
  t.is((consume.error as NoHandlerError).event, 'test.nobody.task');
  t.true(consume.ms < 1000, `consume settled after ${consume.ms} ms`);

  const map =
    events.map === 'test.echo'
      ? await settleTime(messenger.map('test.echo', { tag: 'nobody' }, { timeoutMs: 8000 }))
      : await settleTime(messenger.map('test.nobody.map', { x: 1 }, { timeoutMs: 8000 }));
  t.true(map.error instanceof NoHandlerError, String(map.error));
  t.is((map.error as NoHandlerError).event, events.map);
  t.true(map.ms < 1000, `map settled after ${map.ms} ms`);

  const settled =
    events.map === 'test.echo'
      ? await settleTime(messenger.mapSettled('test.echo', { tag: 'nobody' }, { timeoutMs: 8000 }))
      : await settleTime(messenger.mapSettled('test.nobody.map', { x: 1 }, { timeoutMs: 8000 }));
  t.deepEqual(settled.value, []);
  t.true(settled.ms < 1000, `mapSettled settled after ${settled.ms} ms`);

  const before = unhandled();
  const broadcast = await settleTime(messenger.broadcast('test.nobody.note', { x: 1 }));
  t.is(broadcast.error, undefined);
  t.true(broadcast.ms < 1000, `broadcast settled after ${broadcast.ms} ms`);
  t.is(unhandled(), before + 1);
  await waitForQuiet();
  t.is(busStats().broker?.parkedRequests, 0);
}

test.serial('no handler - with workers that do not handle the events, requests fail at once', async (t) => {
  await startWorkers(2);
  await checkNobody(t, { map: 'test.nobody.map' });
});

test.serial('no handler - with no worker at all, requests fail at once', async (t) => {
  t.is(busStats().broker?.peers.filter((p) => p.id !== 0).length, 0);
  await checkNobody(t, { map: 'test.nobody.map' });
});

test.serial('no handler - workers that joined without the handler: map of test.echo fails at once', async (t) => {
  await startWorkers(2, { FIXTURE_NO_HANDLERS: '1' });
  // These workers only handle test.log, so the helper's "joined" check holds.
  t.is(busStats().broker?.peers.filter((p) => p.state === 'ready' && p.handlers.includes('test.log')).length, 2);
  await checkNobody(t, { map: 'test.echo' });
});

test.serial('no handler - a handler removed in the master is no longer routed to', async (t) => {
  const off = messenger.on('test.nobody.map', (p) => p.x * 2);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(await messenger.map('test.nobody.map', { x: 21 }), [42]);
  off();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await checkNobody(t, { map: 'test.nobody.map' });
});
