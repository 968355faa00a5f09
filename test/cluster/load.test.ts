// Many calls at once: every answer goes to its own caller, and nothing is left pending after a
// burst with timeouts and a worker killed in the middle of it.
import test from 'ava';
import cluster from 'node:cluster';
import { busStats, ErrorCodes, type Settled } from 'clusterbus';
import { messenger } from '../fixtures/cluster/messenger.js';
import { logs } from '../helpers/fixture.js';
import {
  forkWorkers,
  isJoined,
  killAndWait,
  startWorkers,
  stopAllWorkers,
  waitFor,
  waitForQuiet,
} from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

test.serial('load - 1,000 concurrent maps each get their own answers', async (t) => {
  const workers = await startWorkers(2);
  const ids = workers.map((w) => w.id);
  const tags = Array.from({ length: 1000 }, (_, i) => `tag-${i}-${Math.random().toString(36).slice(2)}`);
  t.is(new Set(tags).size, tags.length);
  const answers = await Promise.all(tags.map((tag) => messenger.map('test.echo', { tag })));
  let wrong = 0;
  answers.forEach((results, i) => {
    const ok =
      results.length === 2 &&
      results.every((r, j) => r.tag === tags[i] && r.worker === ids[j] && r.pid === workers[j]!.process.pid);
    if (!ok) wrong++;
  });
  t.is(wrong, 0, 'every map got exactly its own results, from each worker, in worker-id order');
  await waitForQuiet();
});

/** Runs `task(i)` for i in [0, n), at most `limit` at a time. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    while (next < n) await task(next++);
  });
  await Promise.all(lanes);
}

test.serial('load - after 10,000 maps with timeouts and a killed worker, nothing is left pending', async (t) => {
  const [survivor, victim] = await startWorkers(2);
  const total = 10_000;
  const killAt = total / 2;
  let replacementId: number | undefined;
  let hangsSent = 0;
  const problems: string[] = [];
  const counts = { ok: 0, hungTimeouts: 0, slowTimeouts: 0, exited: 0, relays: 0 };
  const started = Date.now();

  await pool(total, 500, async (i) => {
    if (i === killAt) {
      // SIGKILL one worker mid-burst and start its replacement; the burst goes on meanwhile.
      void killAndWait(victim!).then(() => {
        replacementId = forkWorkers(1)[0]!.id;
      });
    }
    const tag = `b${i}`;
    let outcomes: Settled<unknown>[];
    let expect: (value: unknown) => boolean;
    const hang = i % 20 === 7;
    if (hang) {
      // A handler that never returns on the survivor, with a short deadline.
      hangsSent++;
      outcomes = await messenger.mapSettled(
        'test.echo',
        { tag, fail: 'hang', onlyWorker: survivor!.id },
        { timeoutMs: 150 },
      );
      expect = (v) => (v as { tag: string }).tag === tag;
    } else if (i % 50 === 11) {
      // A worker that itself maps through the master while others come and go.
      counts.relays++;
      outcomes = await messenger.mapSettled('test.relay', { op: 'map', text: tag });
      expect = (v) =>
        typeof v === 'string' && (v === 'error:CB_MAP_FAILED' || v.split(',').every((x) => x.endsWith(`:${tag}`)));
    } else {
      outcomes = await messenger.mapSettled('test.echo', { tag });
      expect = (v) => (v as { tag: string }).tag === tag;
    }
    if (outcomes.length === 0) problems.push(`${tag}: no outcome`);
    for (const o of outcomes) {
      if (o.ok) {
        counts.ok++;
        if (!expect(o.value)) problems.push(`${tag}: worker ${o.worker} answered ${JSON.stringify(o.value)}`);
      } else if (o.error.code === ErrorCodes.TIMEOUT) {
        if (hang && o.worker === survivor!.id) counts.hungTimeouts++;
        // The other worker may answer a 150 ms deadline late on a loaded machine: tolerated there only.
        else if (hang) counts.slowTimeouts++;
        else problems.push(`${tag}: timeout on ${o.worker}`);
      } else if (o.error.code === ErrorCodes.WORKER_EXITED) {
        counts.exited++;
        if (o.worker !== victim!.id) problems.push(`${tag}: worker ${o.worker} exited?`);
      } else {
        problems.push(`${tag}: worker ${o.worker} failed with ${o.error.code}: ${o.error.message}`);
      }
    }
  });
  t.log(`burst of ${total} maps in ${Date.now() - started} ms:`, counts, `${hangsSent} hung handlers`);
  t.deepEqual(problems.slice(0, 10), [], `${problems.length} problems`);
  t.is(counts.hungTimeouts, hangsSent, 'every hung handler timed out');

  // The master holds nothing: no pending call, request, delivery or parked request, nobody owes.
  await waitForQuiet();
  await waitFor(() => replacementId !== undefined && isJoined(replacementId), 20_000, 'the replacement to join');
  const master = busStats();
  t.is(master.endpoint.pendingCalls, 0);
  t.is(master.broker?.pendingRequests, 0);
  t.is(master.broker?.pendingDeliveries, 0);
  t.is(master.broker?.parkedRequests, 0);
  t.is(master.broker?.dedupeWaiters, 0);
  t.deepEqual(
    master.broker?.peers.filter((p) => p.owed > 0),
    [],
  );
  t.deepEqual(
    Object.keys(cluster.workers ?? {})
      .map(Number)
      .sort((a, b) => a - b),
    [survivor!.id, replacementId],
  );

  // The workers hold no pending call; only the hung handlers still run (plus test.log itself).
  const seen = await logs();
  t.deepEqual(
    seen.map((l) => [l.worker, l.pendingCalls]),
    [
      [survivor!.id, 0],
      [replacementId, 0],
    ],
  );
  const survivorLog = seen.find((l) => l.worker === survivor!.id)!;
  t.is(survivorLog.runningHandlers, hangsSent + 1, 'the survivor runs its hung handlers and test.log');
  t.is(seen.find((l) => l.worker === replacementId)!.runningHandlers, 1, 'the replacement only runs test.log');
  t.true(Date.now() - started < 60_000);
});
