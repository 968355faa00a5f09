import test from 'ava';
import { BadPayloadError, ErrorCodes, MapError } from 'clusterbus';
import { messenger } from '../fixtures/cluster/messenger.js';
import type { PlainNote, UnsendableOutcome } from '../fixtures/cluster/test.contract.js';
import { stopAllWorkers, startWorkers, waitForQuiet } from '../helpers/cluster.js';
import { entriesStarting, logs, logsUntil } from '../helpers/fixture.js';

test.afterEach.always(stopAllWorkers);

const kinds = ['plain', 'rich', 'unknown'] as const;
const events = ['note', 'task', 'ask'].flatMap((op) => kinds.map((kind) => `test.typed.${op}.${kind}`));
const CLASSES = 'only plain objects, arrays, Date, Map, Set, RegExp, URL, Error and typed arrays do';

/** Where each bad payload of the fixture worker (`badParts` in worker.ts) goes wrong, and why. */
const expected: Record<UnsendableOutcome['bad'], string> = {
  function: 'payload.items[2].cb is a function',
  symbol: 'payload.items[0].kind is a symbol (Symbol(kind))',
  'class instance': `payload.where is an instance of Point, which does not travel (${CLASSES})`,
  ['__proto__']: 'payload["__proto__"] is an own "__proto__" property, which every receiver refuses',
};

test.serial(
  'unsendable - a worker’s bad payloads are refused in the sender on every operation and payload kind, and nobody gets them',
  async (t) => {
    const workers = await startWorkers(2);
    await logs(true);
    const sender = workers[0]!.id;
    const answers = await messenger.map('test.unsendable', { onlyWorker: sender });
    t.deepEqual(
      answers.flat(),
      events.flatMap((event) =>
        (Object.keys(expected) as UnsendableOutcome['bad'][]).map((bad) => ({
          event,
          bad,
          settled: 'BadPayloadError',
          code: ErrorCodes.BAD_PAYLOAD,
          message: `cannot send "${event}": ${expected[bad]}`,
        })),
      ),
    );
    // The worker sent one good payload through each event after the bad ones: once those are
    // in, everything the worker sent is, and only they reached a handler.
    const everyone = workers.map((w) => w.id);
    const want = [
      ...kinds.flatMap((kind) => everyone.map(() => `typed:test.typed.note.${kind}:good`)),
      ...kinds.map((kind) => `typed:test.typed.task.${kind}:good`),
      ...kinds.flatMap((kind) => everyone.map(() => `typed:test.typed.ask.${kind}:good`)),
    ].sort();
    const seen = await logsUntil((l) => entriesStarting(l, 'typed:').length >= want.length);
    t.deepEqual(entriesStarting(seen, 'typed:').sort(), want);
    for (const l of seen) t.false(l.polluted, `worker ${l.worker}'s Object.prototype`);
    await waitForQuiet();
  },
);

test.serial('unsendable - the master’s bad payloads are refused in the sender too', async (t) => {
  await startWorkers(1);
  await logs(true);
  const bad = { tag: 'bad', badResultFrom: null, items: [{ id: 1, cb: () => 1 }] } as unknown as PlainNote;
  const message = 'payload.items[0].cb is a function';
  for (const [event, call] of [
    ['test.typed.note.plain', () => messenger.broadcast('test.typed.note.plain', bad)],
    ['test.typed.task.rich', () => messenger.consume('test.typed.task.rich', { ...bad, at: new Date() })],
    ['test.typed.ask.unknown', () => messenger.map('test.typed.ask.unknown', bad)],
  ] as const) {
    const err = await t.throwsAsync(call(), { instanceOf: BadPayloadError });
    t.is(err?.message, `cannot send "${event}": ${message}`);
    t.is(err?.event, event);
    t.is(err?.worker, 0);
  }
  t.deepEqual(entriesStarting(await logs(), 'typed:'), []);
});

test.serial(
  'unsendable - a map result with a function is that worker’s BadPayloadError, with a result path',
  async (t) => {
    const workers = await startWorkers(2);
    const [good, bad] = workers.map((w) => w.id) as [number, number];
    for (const kind of kinds) {
      const event = `test.typed.ask.${kind}` as const;
      const payload = { tag: kind, items: [], badResultFrom: bad, ...(kind === 'rich' ? { at: new Date(7) } : {}) };
      // One cast for the three events: the payload suits all three.
      const ask = event as 'test.typed.ask.plain';
      const message = `cannot send "${event}": result.later is a function`;

      const settled = await messenger.mapSettled(ask, payload);
      t.deepEqual(
        settled.map((s) => [s.worker, s.ok]),
        [
          [good, true],
          [bad, false],
        ],
      );
      const failed = settled[1]!;
      t.true(!failed.ok && failed.error instanceof BadPayloadError, `${event}: the failure is a BadPayloadError`);
      if (!failed.ok) {
        t.is(failed.error.code, ErrorCodes.BAD_PAYLOAD);
        t.is(failed.error.message, message);
        t.is(failed.error.worker, bad);
        t.is(failed.error.event, event);
      }
      t.like(settled[0], { ok: true, value: { worker: good, tag: kind } });

      const err = await t.throwsAsync(messenger.map(ask, payload), { instanceOf: MapError });
      t.true(err?.message.includes(`worker ${bad}: ${message}`), err?.message);
      const outcome = err?.outcomes.find((o) => !o.ok);
      t.true(outcome?.error instanceof BadPayloadError);
      t.is(outcome?.error?.message, message);
      t.is(outcome?.worker, bad);
      t.is(err?.results.length, 1);
    }
    await waitForQuiet();
  },
);
