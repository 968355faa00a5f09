// The routing and failure scenarios every transport must pass (core/transport.ts states the
// rules). Each transport's test file runs them all with its own harness.
import type { ExecutionContext } from 'ava';
import {
  ClosedError,
  MapError,
  NoHandlerError,
  PayloadTooLargeError,
  TimeoutError,
  WorkerExitedError,
  type Settled,
} from 'clusterbus';
import { call, records, type ConformanceBus, type Harness } from './harness.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** What the scenarios need of ava's `test`: serial tests (a NATS run wraps it to skip without a server). */
interface SerialTests {
  serial(title: string, impl: (t: ExecutionContext) => Promise<void>): void;
}

export function conformance(test: SerialTests, harness: Harness): void {
  const scenario = (
    title: string,
    workers: number,
    body: (t: ExecutionContext, bus: ConformanceBus) => Promise<void>,
  ): void => {
    test.serial(`conformance (${harness.name}) - ${title}`, async (t) => {
      t.timeout(60_000);
      const bus = await harness.start(workers);
      try {
        await body(t, bus);
      } finally {
        await bus.close();
      }
    });
  };

  scenario(
    'broadcasts reach every ready worker in the order sent, and a starting one once it joins',
    2,
    async (t, bus) => {
      const sent = Array.from({ length: 50 }, (_, i) => call(bus, 'conf.note', 'broadcast', `n${i}`));
      const late = await bus.startWorker();
      const more = Array.from({ length: 5 }, (_, i) => call(bus, 'conf.note', 'broadcast', `late${i}`));
      await Promise.all([...sent, ...more]);
      await late.joined;
      const expected = [
        ...Array.from({ length: 50 }, (_, i) => `note:n${i}`),
        ...Array.from({ length: 5 }, (_, i) => `note:late${i}`),
      ];
      await until(
        async () => [...(await records(bus)).values()].every((r) => r.length >= 55 || r.length >= 5),
        'deliveries',
      );
      const got = await records(bus);
      for (const id of bus.workers.filter((w) => w !== late.id)) t.deepEqual(got.get(id), expected, `worker ${id}`);
      // A worker that was starting gets what was sent while it started, once it joined.
      t.deepEqual(got.get(late.id)?.slice(-5), expected.slice(-5), 'the late worker');
    },
  );

  scenario('consume runs on exactly one worker, round-robin', 2, async (t, bus) => {
    for (let i = 0; i < 6; i++) await call(bus, 'conf.job', 'consume', { tag: `j${i}` });
    const got = await records(bus);
    const jobs = bus.workers.map((id) => (got.get(id) ?? []).filter((r) => r.startsWith('job:')).length);
    t.deepEqual(jobs, [3, 3]);
    t.is(
      jobs.reduce((a, b) => a + b, 0),
      6,
    );
  });

  scenario('a consume whose worker dies is redelivered once to another worker', 2, async (t, bus) => {
    // Round-robin: the worker that did not run the probe takes the next job, and never answers.
    await call(bus, 'conf.job', 'consume', { tag: 'probe' });
    const before = await records(bus);
    const probed = bus.workers.find((id) => before.get(id)?.includes('job:probe')) as number;
    const next = bus.workers.find((id) => id !== probed) as number;
    const job = call(bus, 'conf.job', 'consume', { tag: 'once', hangOn: next });
    await until(async () => ((await records(bus)).get(next) ?? []).includes('job:once'), 'the job to start');
    await bus.kill(next);
    await job;
    t.deepEqual((await records(bus)).get(probed), ['job:probe', 'job:once'], 'redelivered to the other worker');
  });

  scenario('map and mapSettled report a worker that dies at once, by name, with the others', 2, async (t, bus) => {
    const [first, second] = bus.workers as [number, number];
    const settled = call(bus, 'conf.ask', 'mapSettled', { tag: 's', hangOn: first }) as Promise<
      Settled<{ me: number }>[]
    >;
    const mapped = call(bus, 'conf.ask', 'map', { tag: 'm', hangOn: first });
    await sleep(100);
    const killedAt = Date.now();
    await bus.kill(first);
    const outcomes = await settled;
    t.true(Date.now() - killedAt < 3_000, 'reported at once, not at the deadline');
    t.deepEqual(
      outcomes.map((o) => [o.worker, o.ok]),
      [
        [first, false],
        [second, true],
      ],
    );
    const failed = outcomes[0] as { error: Error; host: string };
    t.true(failed.error instanceof WorkerExitedError);
    t.is(typeof failed.host, 'string');
    const err = await t.throwsAsync(mapped, { instanceOf: MapError });
    t.deepEqual(
      (err as MapError).outcomes.map((o) => [o.worker, o.ok]),
      [
        [first, false],
        [second, true],
      ],
    );
  });

  scenario('a worker that misses the deadline is a TimeoutError of its own; the others answer', 2, async (t, bus) => {
    const [first, second] = bus.workers as [number, number];
    const outcomes = (await call(bus, 'conf.ask', 'mapSettled', { hangOn: second }, { timeoutMs: 300 })) as Settled<{
      me: number;
    }>[];
    t.deepEqual(
      outcomes.map((o) => [o.worker, o.ok]),
      [
        [first, true],
        [second, false],
      ],
    );
    const err = (outcomes[1] as { error: Error }).error as TimeoutError;
    t.true(err instanceof TimeoutError);
    t.is(err.worker, second);
  });

  scenario('no handler anywhere is an immediate NoHandlerError; mapSettled is empty', 1, async (t, bus) => {
    const start = Date.now();
    await t.throwsAsync(call(bus, 'conf.none', 'consume', null), { instanceOf: NoHandlerError });
    await t.throwsAsync(call(bus, 'conf.none', 'map', null), { instanceOf: NoHandlerError });
    t.deepEqual(await call(bus, 'conf.none', 'mapSettled', null), []);
    await call(bus, 'conf.none', 'broadcast', null);
    t.true(Date.now() - start < 2_000);
  });

  scenario('payloads over the limit fail in the sender; results over it fail that worker only', 2, async (t, bus) => {
    const [first, second] = bus.workers as [number, number];
    const big = { tag: 'x'.repeat(5_000) };
    const err = await t.throwsAsync(call(bus, 'conf.ask', 'map', big, { maxPayloadBytes: 4_096 }), {
      instanceOf: PayloadTooLargeError,
    });
    t.is((err as PayloadTooLargeError).what, 'payload');
    const outcomes = (await call(
      bus,
      'conf.ask',
      'mapSettled',
      { bigOn: first, big: 10_000 },
      { maxResultBytes: 4_096 },
    )) as Settled<unknown>[];
    t.deepEqual(
      outcomes.map((o) => [o.worker, o.ok]),
      [
        [first, false],
        [second, true],
      ],
    );
    t.true((outcomes[0] as { error: Error }).error instanceof PayloadTooLargeError);
  });

  scenario('consumes with one dedupe key run the job once, and every caller settles', 2, async (t, bus) => {
    const key = `k${Date.now()}`;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        call(bus, 'conf.job', 'consume', { tag: key, slowOn: bus.workers[0], delayMs: 100 }, { dedupeKey: key }),
      ),
    );
    await call(bus, 'conf.job', 'consume', { tag: key }, { dedupeKey: key });
    const ran = [...(await records(bus)).values()].flat().filter((r) => r === `job:${key}`);
    t.is(ran.length, 1);
  });

  scenario('a draining worker answers what it owes, then is drained and gets no new work', 2, async (t, bus) => {
    const [first, second] = bus.workers as [number, number];
    const owed = call(bus, 'conf.ask', 'map', { tag: 'owed', slowOn: first, delayMs: 300 }) as Promise<
      { me: number }[]
    >;
    await sleep(50);
    let drained = false;
    const draining = bus.drain(first).then(() => (drained = true));
    await sleep(100);
    t.false(drained, 'not drained while it owes a reply');
    const after = (await call(bus, 'conf.ask', 'map', { tag: 'after' })) as { me: number }[];
    t.deepEqual(
      after.map((r) => r.me),
      [second],
      'new work goes to the others only',
    );
    t.deepEqual(
      (await owed).map((r) => r.me),
      [first, second],
      'what it owed is answered',
    );
    await draining;
    t.true(drained);
    // Not an error anywhere: ClosedError would say this bus closed.
    t.false((await call(bus, 'conf.ask', 'mapSettled', {})) instanceof ClosedError);
  });
}
