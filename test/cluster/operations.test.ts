import test from 'ava';
import { messenger } from '../fixtures/cluster/messenger.js';
import type { Rich } from '../fixtures/cluster/test.contract.js';
import { startWorkers, stopAllWorkers, waitFor, waitForQuiet } from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

const rich = (): Rich => ({
  at: new Date('2026-01-02T03:04:05.678Z'),
  map: new Map([
    ['a', 1],
    ['b', 2],
  ]),
  set: new Set(['x', 'y']),
  big: 12345678901234567890n,
  nothing: undefined,
});
const richText = '2026-01-02T03:04:05.678Z|[["a",1],["b",2]]|["x","y"]|12345678901234567890n|undefined-kept';

async function logs(clear = true) {
  return messenger.map('test.log', { clear });
}

for (const n of [1, 2, 4]) {
  test.serial(`operations - map answers from each of ${n} workers in worker-id order with rich values`, async (t) => {
    const workers = await startWorkers(n);
    const results = await messenger.map('test.echo', { tag: 'hi', rich: rich() });
    t.deepEqual(
      results.map((r) => r.worker),
      workers.map((w) => w.id),
    );
    for (const r of results) {
      t.is(r.tag, 'hi');
      t.true(r.rich?.at instanceof Date);
      t.deepEqual(r.rich, rich());
    }
    const settled = await messenger.mapSettled('test.echo', { tag: 'again' });
    t.deepEqual(
      settled.map((s) => [s.worker, s.ok]),
      workers.map((w) => [w.id, true]),
    );
    await waitForQuiet();
  });

  test.serial(`operations - broadcast reaches each of ${n} workers exactly once with rich values`, async (t) => {
    await startWorkers(n);
    await logs();
    await messenger.broadcast('test.note', { text: 'hello', rich: rich() });
    await waitFor(() => true, 0, 'nothing');
    let seen: Awaited<ReturnType<typeof logs>> = [];
    const until = Date.now() + 5000;
    do {
      seen = await logs(false);
    } while (!seen.every((l) => l.entries.length >= 2) && Date.now() < until);
    t.is(seen.length, n);
    for (const l of seen) t.deepEqual(l.entries, ['note:hello:from=0', `rich:${richText}`]);
  });

  test.serial(`operations - consume runs each task on exactly one of ${n} workers, round-robin`, async (t) => {
    await startWorkers(n);
    await logs();
    const keys = Array.from({ length: 4 * n }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => messenger.consume('test.task', { key, rich: rich() })));
    const seen = await logs();
    const ran = seen.flatMap((l) => l.entries.filter((e) => e.startsWith('task:')));
    t.deepEqual(ran.sort(), keys.map((k) => `task:${k}`).sort());
    for (const l of seen) {
      t.is(l.entries.filter((e) => e.startsWith('task:')).length, 4, `worker ${l.worker} ran its share`);
      t.true(l.entries.filter((e) => e.startsWith('rich:')).every((e) => e === `rich:${richText}`));
    }
  });
}

test.serial('operations - a worker broadcast reaches every worker, the sender included', async (t) => {
  const workers = await startWorkers(3);
  await logs();
  const sender = workers[1]!.id;
  const relay = await messenger.mapSettled('test.relay', { op: 'broadcast', text: 'from-worker' });
  t.true(relay.every((r) => r.ok));
  await new Promise((r) => setTimeout(r, 200));
  const seen = await logs();
  for (const l of seen) {
    const notes = l.entries.filter((e) => e.startsWith('note:from-worker'));
    // Three workers each broadcast once: every worker sees three notes, one of them its own.
    t.is(notes.length, 3);
    t.true(notes.includes(`note:from-worker:from=${l.worker}`));
  }
  t.truthy(sender);
});

test.serial('operations - a burst of broadcasts from one worker arrives whole and in order everywhere', async (t) => {
  await startWorkers(3);
  await logs();
  // More broadcasts in one turn than one run holds, split by a consume in the middle.
  const count = 1500;
  const relay = await messenger.mapSettled('test.relay', { op: 'burst', text: 'b', repeat: count });
  t.deepEqual(
    relay.map((r) => (r.ok ? r.value : r.error.code)),
    ['ok', 'ok', 'ok'],
  );
  let seen: Awaited<ReturnType<typeof logs>> = [];
  const until = Date.now() + 10_000;
  do {
    seen = await logs(false);
  } while (!seen.every((l) => l.entries.length >= 3 * count + 1) && Date.now() < until);
  const senders = seen.map((l) => l.worker);
  for (const l of seen) {
    for (const from of senders) {
      const notes = l.entries.filter((e) => e.endsWith(`:from=${from}`));
      t.deepEqual(
        notes,
        Array.from({ length: count }, (_, i) => `note:b#${i}:from=${from}`),
        `worker ${l.worker}: the broadcasts of worker ${from}, in order`,
      );
    }
  }
  const tasks = seen.flatMap((l) => l.entries.filter((e) => e.startsWith('task:')));
  t.deepEqual(tasks, ['task:b-mid', 'task:b-mid', 'task:b-mid']);
  await waitForQuiet();
});

test.serial('operations - a worker can map and consume through the master', async (t) => {
  await startWorkers(2);
  const answers = await messenger.map('test.relay', { op: 'map', text: 'nested' });
  t.is(answers.length, 2);
  for (const a of answers) t.regex(a, /^\d+:nested,\d+:nested$/);
  // Large enough for the calling worker to run its own call from the copy it kept.
  const large = await messenger.map('test.relay', { op: 'map', text: 'nested', repeat: 200 });
  t.is(large.length, 2);
  for (const a of large) t.regex(a, /^\d+:(nested){200},\d+:(nested){200}$/);
  const consumed = await messenger.map('test.relay', { op: 'consume', text: 'from-worker' });
  t.deepEqual(consumed, ['ok', 'ok']);
  await waitForQuiet();
});

test.serial('operations - the master can handle events too, as worker 0', async (t) => {
  await startWorkers(2);
  const off = messenger.on('test.echo', (p) => ({ worker: 0, pid: process.pid, tag: `master:${p.tag}` }));
  try {
    await new Promise((r) => setImmediate(r));
    await waitFor(() => true, 0, '');
    await new Promise((r) => setTimeout(r, 20));
    const results = await messenger.map('test.echo', { tag: 'x' });
    t.is(results[0]?.worker, 0);
    t.is(results[0]?.tag, 'master:x');
    t.is(results.length, 3);
  } finally {
    off();
  }
  await new Promise((r) => setTimeout(r, 20));
  const after = await messenger.map('test.echo', { tag: 'y' });
  t.is(after.length, 2);
});
