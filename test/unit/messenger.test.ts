// The messenger's run-time checks: what the compiler cannot see (JavaScript callers, `any`).
// Every operation reports a misuse as a rejected promise, never as a synchronous throw.
import test, { type ExecutionContext } from 'ava';
import {
  BadOptionsError,
  ContractConflictError,
  createMessenger,
  ErrorCodes,
  UnknownEventError,
  WrongKindError,
  type BusError,
} from 'clusterbus';
import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';

interface UnitEvents {
  'unit.note': Broadcast<{ text: string }>;
  'unit.task': Consume<{ n: number }>;
  'unit.ask': MapCall<{ n: number }, number>;
}

const typed = createMessenger<UnitEvents>('test/unit/messenger.test.ts', {
  'unit.note': { kind: 'broadcast' },
  'unit.task': { kind: 'consume' },
  'unit.ask': { kind: 'map' },
});

/** The same messenger, as a JavaScript caller sees it. */
type Op = 'broadcast' | 'consume' | 'map' | 'mapSettled';
const js = typed as unknown as Record<Op, (event: unknown, payload: unknown, options?: unknown) => Promise<unknown>> & {
  on(event: unknown, handler: unknown): () => void;
};

const eventOf: Record<Op, string> = {
  broadcast: 'unit.note',
  consume: 'unit.task',
  map: 'unit.ask',
  mapSettled: 'unit.ask',
};
const ops = Object.keys(eventOf) as Op[];

/** Calls `op`, asserting it does not throw synchronously and returns a rejected promise of `type`. */
async function rejectsWith<E extends BusError>(
  t: ExecutionContext,
  type: abstract new (...args: never[]) => E,
  code: string,
  call: () => Promise<unknown>,
  what: string,
): Promise<void> {
  let promise: Promise<unknown> | undefined;
  t.notThrows(() => {
    promise = call();
  }, `${what}: threw synchronously`);
  t.true(promise instanceof Promise, `${what}: no promise`);
  const err = await t.throwsAsync(promise!, undefined, what);
  t.true(err instanceof type, `${what}: ${String(err)}`);
  t.is((err as unknown as BusError).code as string, code, what);
}

test('messenger - an unknown event is an UnknownEventError rejection for every operation', async (t) => {
  for (const op of ops) {
    for (const event of ['unit.nope', '', '__proto__', 'constructor', 'toString', 42, undefined, null, { a: 1 }]) {
      await rejectsWith(
        t,
        UnknownEventError,
        ErrorCodes.UNKNOWN_EVENT,
        () => js[op](event, { n: 1 }),
        `${op}(${String(event)})`,
      );
    }
  }
});

test('messenger - an operation the event kind does not allow is a WrongKindError rejection', async (t) => {
  const wrong: [Op, string][] = [
    ['broadcast', 'unit.task'],
    ['broadcast', 'unit.ask'],
    ['consume', 'unit.note'],
    ['consume', 'unit.ask'],
    ['map', 'unit.note'],
    ['map', 'unit.task'],
    ['mapSettled', 'unit.note'],
    ['mapSettled', 'unit.task'],
  ];
  for (const [op, event] of wrong) {
    await rejectsWith(t, WrongKindError, ErrorCodes.WRONG_KIND, () => js[op](event, { n: 1 }), `${op}(${event})`);
  }
});

const badTimeouts: unknown[] = [0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, '100', null, true, {}, 10n];

test('messenger - a bad timeoutMs is a BadOptionsError rejection for every operation', async (t) => {
  for (const op of ops) {
    for (const timeoutMs of badTimeouts) {
      await rejectsWith(
        t,
        BadOptionsError,
        ErrorCodes.BAD_OPTIONS,
        () => js[op](eventOf[op], { n: 1, text: 'x' }, { timeoutMs }),
        `${op} timeoutMs=${String(timeoutMs)}`,
      );
    }
  }
});

test('messenger - a bad or misplaced dedupeKey is a BadOptionsError rejection for every operation', async (t) => {
  for (const dedupeKey of ['', 5, null, {}, ['k'], true]) {
    await rejectsWith(
      t,
      BadOptionsError,
      ErrorCodes.BAD_OPTIONS,
      () => js.consume('unit.task', { n: 1 }, { dedupeKey }),
      `consume dedupeKey=${JSON.stringify(dedupeKey)}`,
    );
  }
  // Only consume takes one.
  for (const op of ['broadcast', 'map', 'mapSettled'] as const) {
    await rejectsWith(
      t,
      BadOptionsError,
      ErrorCodes.BAD_OPTIONS,
      () => js[op](eventOf[op], { n: 1, text: 'x' }, { dedupeKey: 'k' }),
      `${op} with a dedupeKey`,
    );
  }
});

test('messenger - options that are not an object, or unknown options, are BadOptionsError rejections', async (t) => {
  for (const op of ops) {
    for (const options of ['fast', 5, null, true, { timeout: 5 }, { timeoutMs: 5, retries: 2 }]) {
      await rejectsWith(
        t,
        BadOptionsError,
        ErrorCodes.BAD_OPTIONS,
        () => js[op](eventOf[op], { n: 1, text: 'x' }, options),
        `${op} options=${JSON.stringify(options)}`,
      );
    }
  }
});

test('messenger - a broadcast takes no options at all', async (t) => {
  await rejectsWith(
    t,
    BadOptionsError,
    ErrorCodes.BAD_OPTIONS,
    () => js.broadcast('unit.note', { text: 'x' }, { timeoutMs: 1000 }),
    'broadcast with timeoutMs',
  );
});

test('messenger - the errors name the event', async (t) => {
  const err = await t.throwsAsync(js.map('unit.ask', { n: 1 }, { timeoutMs: -5 }), { instanceOf: BadOptionsError });
  t.is(err.event, 'unit.ask');
  t.regex(err.message, /timeoutMs of "unit\.ask" must be a positive integer, got -5/);
  const kind = await t.throwsAsync(js.broadcast('unit.task', { n: 1 }), { instanceOf: WrongKindError });
  t.is(kind.event, 'unit.task');
  t.regex(kind.message, /"unit\.task" is a consume event; broadcast is not allowed on it/);
});

test('messenger - on() checks its event and handler when it is called', (t) => {
  t.throws(() => js.on('unit.nope', () => {}), { instanceOf: UnknownEventError });
  t.throws(() => js.on('unit.task', 'not a function'), { instanceOf: BadOptionsError });
});

test('messenger - a second contract declaring an event differently is a ContractConflictError', (t) => {
  const err = t.throws(
    () =>
      createMessenger<UnitEvents>('other.contract.ts', {
        'unit.note': { kind: 'broadcast' },
        'unit.task': { kind: 'consume', timeoutMs: 5 },
        'unit.ask': { kind: 'map' },
      }),
    { instanceOf: ContractConflictError },
  );
  t.is(err.event, 'unit.task');
  t.regex(err.message, /test\/unit\/messenger\.test\.ts and other\.contract\.ts/);
  // The same declaration twice is fine.
  t.notThrows(() =>
    createMessenger<UnitEvents>('again.contract.ts', {
      'unit.note': { kind: 'broadcast' },
      'unit.task': { kind: 'consume' },
      'unit.ask': { kind: 'map' },
    }),
  );
});
