import { parseWorkerControl } from '../../src/supervision/control.js';
import { MAX_TIMER_MS, timerDelay } from '../../src/core/deadlines.js';
import test from 'ava';
import {
  BadPayloadError,
  BusError,
  ClosedError,
  ContractConflictError,
  ContractMismatchError,
  BadOptionsError,
  ErrorCodes,
  HandlerError,
  MapError,
  NoHandlerError,
  NotConnectedError,
  PayloadTooLargeError,
  TimeoutError,
  UnknownEventError,
  WorkerExitedError,
  WrongKindError,
  type ErrorCode,
} from 'clusterbus';
import {
  errorFromWire,
  errorToWire,
  isBusMessage,
  parseDownFrame,
  parseUpFrame,
  type WireError,
} from '../../src/core/protocol/frames.js';

// ---- envelopes a worker sends to the master ----------------------------------------------------

const goodUp: Record<string, Record<string, unknown>> = {
  hello: { cb: 1, t: 'hello', ev: ['a', 'b'] },
  handlers: { cb: 1, t: 'handlers', ev: [] },
  req: { cb: 1, t: 'req', id: 1, ev: 'a', op: 'c', p: '{}', ms: 10, rd: true, mr: 5, mp: 6, dk: 'k' },
  'minimal req': { cb: 1, t: 'req', id: 7, ev: '', op: 'b', p: '' },
  'broadcast run': { cb: 1, t: 'req', id: 8, ev: 'a', op: 'b', p: '', ps: ['{}', ''] },
  'broadcast keeping its own copies': { cb: 1, t: 'req', id: 9, ev: 'a', op: 'b', p: '', ps: ['{}'], own: true },
  'map keeping its own copy': { cb: 1, t: 'req', id: 10, ev: 'a', op: 'm', p: '{}', ms: 10, own: true },
  'consume keeping its own copy': { cb: 1, t: 'req', id: 11, ev: 'a', op: 'c', p: '{}', rd: true, own: true },
  'ok res': { cb: 1, t: 'res', id: 3, ok: true, p: '' },
  'failed res': {
    cb: 1,
    t: 'res',
    id: 3,
    ok: false,
    e: { c: 'CB_TIMEOUT', m: 'late', ev: 'a', w: 2, n: 'X', x: 'E', s: 'stack', ms: 5, sz: 1, lim: 1, wh: 'result' },
  },
};

for (const [name, frame] of Object.entries(goodUp)) {
  test(`protocol - parseUpFrame accepts a well-formed ${name}`, (t) => {
    t.is(parseUpFrame(frame) as unknown, frame);
  });
}

const with_ = (base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> => {
  const out = { ...base, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete out[k];
  return out;
};
const req = goodUp.req!;
const run = goodUp['broadcast run']!;
const res = goodUp['ok res']!;
const failed = goodUp['failed res']!;

const badUp: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 1],
  ['a string', 'req'],
  ['an array', [1, 'req']],
  ['an object without cb', { t: 'req' }],
  ['cb 2', with_(req, { cb: 2 })],
  ["cb '1'", with_(req, { cb: '1' })],
  ['no t', with_(req, { t: undefined })],
  ['an unknown t', with_(req, { t: 'nope' })],
  ['a down frame type', { cb: 1, t: 'call', id: 1, ev: 'a', op: 'c', p: '', from: 0 }],
  ['hello without ev', { cb: 1, t: 'hello' }],
  ['hello with ev not a list', { cb: 1, t: 'hello', ev: 'a' }],
  ['hello with a non-string event', { cb: 1, t: 'hello', ev: ['a', 1] }],
  ['handlers with too many events', { cb: 1, t: 'handlers', ev: Array.from({ length: 100_001 }, () => 'e') }],
  ['req without id', with_(req, { id: undefined })],
  ['req with id 0', with_(req, { id: 0 })],
  ['req with a negative id', with_(req, { id: -1 })],
  ['req with a fractional id', with_(req, { id: 1.5 })],
  ['req with an unsafe id', with_(req, { id: 2 ** 53 })],
  ['req with a string id', with_(req, { id: '1' })],
  ['req without ev', with_(req, { ev: undefined })],
  ['req with a non-string ev', with_(req, { ev: 5 })],
  ['req with an unknown op', with_(req, { op: 'x' })],
  ['req with a mapSettled op', with_(req, { op: 'mapSettled' })],
  ['req without p', with_(req, { p: undefined })],
  ['req with an object p', with_(req, { p: { a: 1 } })],
  ['req with ms 0', with_(req, { ms: 0 })],
  ['req with a string ms', with_(req, { ms: '10' })],
  ['req with ms Infinity', with_(req, { ms: Infinity })],
  ['req with a non-boolean rd', with_(req, { rd: 1 })],
  ['req with a negative mr', with_(req, { mr: -5 })],
  ['req with a fractional mp', with_(req, { mp: 1.5 })],
  ['req with a non-string dk', with_(req, { dk: 7 })],
  ['a run of consumes', with_(run, { op: 'c' })],
  ['a run with a payload of its own', with_(run, { p: '{}' })],
  ['an empty run', with_(run, { ps: [] })],
  ['a run with a non-string payload', with_(run, { ps: ['{}', 1] })],
  ['a run that is not a list', with_(run, { ps: '{}' })],
  ['a run too long', with_(run, { ps: Array.from({ length: 100_001 }, () => '') })],
  ['a consume with own not true', with_(req, { own: 1 })],
  ['a broadcast with own not true', with_(run, { own: 1 })],
  ['res without id', with_(res, { id: undefined })],
  ['res with id 0', with_(res, { id: 0 })],
  ['res without ok', with_(res, { ok: undefined })],
  ['res with a non-boolean ok', with_(res, { ok: 'true' })],
  ['an ok res without p', with_(res, { p: undefined })],
  ['an ok res with a non-string p', with_(res, { p: 5 })],
  ['a failed res without e', with_(failed, { e: undefined })],
  ['a failed res with a string e', with_(failed, { e: 'boom' })],
  ['a failed res whose e has no code', with_(failed, { e: { m: 'x' } })],
  ['a failed res whose e has no message', with_(failed, { e: { c: 'CB_TIMEOUT' } })],
  ['a failed res whose e has a non-string ev', with_(failed, { e: { c: 'C', m: 'x', ev: 1 } })],
  ['a failed res whose e has a fractional w', with_(failed, { e: { c: 'C', m: 'x', w: 0.5 } })],
  ['a failed res whose e has a non-string name', with_(failed, { e: { c: 'C', m: 'x', n: 5 } })],
  ['a failed res whose e has an object code', with_(failed, { e: { c: 'C', m: 'x', x: {} } })],
  ['a failed res whose e has a non-string stack', with_(failed, { e: { c: 'C', m: 'x', s: [] } })],
  ['a failed res whose e has a string size', with_(failed, { e: { c: 'C', m: 'x', sz: '5' } })],
  ['a failed res whose e has an unknown what', with_(failed, { e: { c: 'C', m: 'x', wh: 'other' } })],
];

for (const [name, frame] of badUp) {
  test(`protocol - parseUpFrame rejects ${name}`, (t) => {
    t.is(parseUpFrame(frame), undefined);
  });
}

test('protocol - parseUpFrame does not trust an own __proto__ key', (t) => {
  const frame = JSON.parse('{"cb":1,"t":"hello","__proto__":{"ev":["x"]}}') as unknown;
  t.is(parseUpFrame(frame), undefined);
  t.is(({} as Record<string, unknown>).ev, undefined);
});

// ---- envelopes the master sends to a worker -----------------------------------------------------

const goodDown: Record<string, Record<string, unknown>> = {
  call: { cb: 1, t: 'call', id: 4, ev: 'a', op: 'm', p: '{}', from: 0, mr: 10 },
  'broadcast call': { cb: 1, t: 'call', id: 0, ev: 'a', op: 'b', p: '{}', from: 2 },
  'broadcast run call': { cb: 1, t: 'call', id: 0, ev: 'a', op: 'b', p: '', ps: ['{}'], from: 2 },
  'own broadcast call': { cb: 1, t: 'call', id: 0, ev: 'a', op: 'b', p: '', own: 3, from: 2 },
  'own map call': { cb: 1, t: 'call', id: 4, ev: 'a', op: 'm', p: '', from: 2, mr: 10, own: 3 },
  'ok done': { cb: 1, t: 'done', id: 1, ok: true },
  'failed done': { cb: 1, t: 'done', id: 1, ok: false, e: { c: 'CB_NO_HANDLER', m: 'none' } },
  mapped: {
    cb: 1,
    t: 'mapped',
    id: 1,
    r: [
      [1, true, '{}'],
      [2, false, { c: 'CB_TIMEOUT', m: 'late' }],
    ],
  },
  'empty mapped': { cb: 1, t: 'mapped', id: 1, r: [] },
};

for (const [name, frame] of Object.entries(goodDown)) {
  test(`protocol - parseDownFrame accepts a well-formed ${name}`, (t) => {
    t.is(parseDownFrame(frame) as unknown, frame);
  });
}

const call = goodDown.call!;
const mapped = goodDown.mapped!;
const badDown: [string, unknown][] = [
  ['null', null],
  ['a string', 'call'],
  ['no cb', with_(call, { cb: undefined })],
  ['an up frame type', goodUp.req],
  ['call with a negative id', with_(call, { id: -1 })],
  ['call with a fractional id', with_(call, { id: 0.5 })],
  ['call without ev', with_(call, { ev: undefined })],
  ['call with an unknown op', with_(call, { op: 'mapSettled' })],
  ['call with a non-string p', with_(call, { p: null })],
  ['call without from', with_(call, { from: undefined })],
  ['call with a string from', with_(call, { from: '0' })],
  ['call with mr 0', with_(call, { mr: 0 })],
  ['a map call with a run', with_(call, { p: '', ps: ['{}'] })],
  ['a broadcast call with an empty run', with_(goodDown['broadcast run call']!, { ps: [] })],
  ['an own call with a payload', with_(goodDown['own broadcast call']!, { p: '{}' })],
  ['an own call with a run', with_(goodDown['own broadcast call']!, { ps: ['{}'] })],
  ['an own map call with a payload', with_(goodDown['own map call']!, { p: '{}' })],
  ['an own map call naming no request', with_(goodDown['own map call']!, { own: true })],
  ['an own call naming request 0', with_(goodDown['own broadcast call']!, { own: 0 })],
  ['an own call naming a fractional request', with_(goodDown['own broadcast call']!, { own: 1.5 })],
  ['done with id 0', { cb: 1, t: 'done', id: 0, ok: true }],
  ['done without ok', { cb: 1, t: 'done', id: 1 }],
  ['a failed done without e', { cb: 1, t: 'done', id: 1, ok: false }],
  ['a failed done with a malformed e', { cb: 1, t: 'done', id: 1, ok: false, e: { c: 1, m: 'x' } }],
  ['mapped without r', with_(mapped, { r: undefined })],
  ['mapped with r not a list', with_(mapped, { r: {} })],
  ['mapped with a short outcome', with_(mapped, { r: [[1, true]] })],
  ['mapped with a long outcome', with_(mapped, { r: [[1, true, '{}', 'x', 'y']] })],
  ['mapped with a host that is not a string', with_(mapped, { r: [[1, true, '{}', 2]] })],
  ['mapped with a non-integer worker', with_(mapped, { r: [['1', true, '{}']] })],
  ['mapped with an ok outcome without text', with_(mapped, { r: [[1, true, {}]] })],
  ['mapped with a failed outcome without error', with_(mapped, { r: [[1, false, 'x']] })],
  ['mapped with a non-boolean ok', with_(mapped, { r: [[1, 1, '{}']] })],
];

for (const [name, frame] of badDown) {
  test(`protocol - parseDownFrame rejects ${name}`, (t) => {
    t.is(parseDownFrame(frame), undefined);
  });
}

test('protocol - isBusMessage tells our envelopes from users’ messages', (t) => {
  t.true(isBusMessage({ cb: 1, t: 'anything' }));
  for (const m of [null, undefined, 1, 'x', [], { act: 'x' }, { cb: 2 }, { cb: '1' }, { cmd: 'NODE_CLUSTER' }]) {
    t.false(isBusMessage(m), JSON.stringify(m));
  }
});

// ---- errors on the wire -------------------------------------------------------------------------

const MiB = 1024 * 1024;

/** One error of each code, with its expected class after a round trip (`BusError` where the wire keeps only the code). */
const samples: Record<ErrorCode, () => { err: BusError; rebuilt: abstract new (...args: never[]) => BusError }> = {
  [ErrorCodes.TIMEOUT]: () => ({ err: new TimeoutError('ev', 500, 3), rebuilt: TimeoutError }),
  [ErrorCodes.NO_HANDLER]: () => ({ err: new NoHandlerError('ev'), rebuilt: NoHandlerError }),
  [ErrorCodes.WORKER_EXITED]: () => ({
    err: new WorkerExitedError('ev', 4, 'killed by SIGKILL'),
    rebuilt: WorkerExitedError,
  }),
  [ErrorCodes.PAYLOAD_TOO_LARGE]: () => ({
    err: new PayloadTooLargeError('ev', 'result', 2 * MiB, MiB, 5),
    rebuilt: PayloadTooLargeError,
  }),
  [ErrorCodes.HANDLER_FAILED]: () => ({
    err: new HandlerError('ev', 6, {
      name: 'TypeError',
      message: 'bad',
      code: 'E_X',
      stack: 'TypeError: bad\n    at x',
    }),
    rebuilt: HandlerError,
  }),
  [ErrorCodes.MAP_FAILED]: () => ({
    err: new MapError('ev', [{ worker: 1, host: 'h', ok: false, error: new NoHandlerError('ev') }]),
    rebuilt: BusError,
  }),
  [ErrorCodes.BAD_PAYLOAD]: () => ({
    err: new BadPayloadError('cannot decode', { event: 'ev', worker: 7 }),
    rebuilt: BadPayloadError,
  }),
  [ErrorCodes.UNKNOWN_EVENT]: () => ({ err: new UnknownEventError('ev'), rebuilt: BusError }),
  [ErrorCodes.WRONG_KIND]: () => ({ err: new WrongKindError('ev', 'map', 'broadcast'), rebuilt: BusError }),
  [ErrorCodes.BAD_OPTIONS]: () => ({ err: new BadOptionsError('bad option', 'ev'), rebuilt: BusError }),
  [ErrorCodes.NOT_CONNECTED]: () => ({
    err: new NotConnectedError('ev', 'host b cannot be reached now', { worker: 2, host: 'b' }),
    rebuilt: NotConnectedError,
  }),
  [ErrorCodes.CONTRACT_MISMATCH]: () => ({
    err: new ContractMismatchError('ev', 3, 'aaaa', 'bbbb', 'host-b'),
    rebuilt: ContractMismatchError,
  }),
  [ErrorCodes.CONTRACT_CONFLICT]: () => ({ err: new ContractConflictError('ev', 'a and b'), rebuilt: BusError }),
  [ErrorCodes.CLOSED]: () => ({ err: new ClosedError('ev'), rebuilt: BusError }),
  [ErrorCodes.RELOAD_FAILED]: () => ({
    err: new BusError(ErrorCodes.RELOAD_FAILED, 'reload failed'),
    rebuilt: BusError,
  }),
  [ErrorCodes.START_FAILED]: () => ({ err: new BusError(ErrorCodes.START_FAILED, 'start failed'), rebuilt: BusError }),
  [ErrorCodes.CONTROL_SOCKET]: () => ({
    err: new BusError(ErrorCodes.CONTROL_SOCKET, 'no master listens'),
    rebuilt: BusError,
  }),
};

for (const code of Object.values(ErrorCodes)) {
  test(`protocol - an error with code ${code} survives errorToWire and errorFromWire`, (t) => {
    const make = samples[code];
    t.truthy(make, `no sample for ${code}: add one`);
    const { err, rebuilt } = make();
    const wire = errorToWire(err, 'fallback.ev', 9);
    // The wire form is plain JSON and passes the envelope check.
    t.deepEqual(JSON.parse(JSON.stringify(wire)), wire);
    t.truthy(parseUpFrame({ cb: 1, t: 'res', id: 1, ok: false, e: wire }));
    const back = errorFromWire(JSON.parse(JSON.stringify(wire)) as WireError, 'other.ev');
    t.true(back instanceof rebuilt, `${back.constructor.name} is not a ${rebuilt.name}`);
    t.true(back instanceof BusError);
    t.is(back.code, code);
    t.is(back.event, err.event ?? 'fallback.ev');
    t.is(back.message, err.message);
    if (err.worker !== undefined && !(err instanceof NoHandlerError)) t.is(back.worker, err.worker);
    if (err instanceof TimeoutError) t.is((back as TimeoutError).timeoutMs, 500);
    if (err instanceof PayloadTooLargeError) {
      const b = back as PayloadTooLargeError;
      t.deepEqual([b.size, b.limit, b.what, b.worker], [2 * MiB, MiB, 'result', 5]);
    }
    if (err instanceof HandlerError) t.deepEqual((back as HandlerError).remote, err.remote);
  });
}

test('protocol - errorToWire turns any thrown value into CB_HANDLER_FAILED', (t) => {
  const typed = Object.assign(new TypeError('typed'), { code: 'E_T' });
  const w = errorToWire(typed, 'ev', 2);
  t.like(w, { c: ErrorCodes.HANDLER_FAILED, m: 'typed', n: 'TypeError', x: 'E_T', ev: 'ev', w: 2 });
  t.regex(w.s ?? '', /TypeError: typed/);

  t.is(errorToWire(Object.assign(new Error('n'), { code: 42 }), 'ev', 2).x, '42');
  t.is(errorToWire(Object.assign(new Error('o'), { code: { no: 1 } }), 'ev', 2).x, undefined);
  t.like(errorToWire('just text', 'ev', 2), { c: ErrorCodes.HANDLER_FAILED, m: 'just text', n: 'Error' });
  t.like(errorToWire(42, 'ev', 2), { m: 'non-error thrown: 42' });
  t.like(errorToWire(undefined, 'ev', 2), { m: 'non-error thrown: undefined' });
  t.like(errorToWire(Object.create(null), 'ev', 2), { m: 'non-error thrown' });
  t.like(errorToWire({ toString: () => 'custom' }, 'ev', 2), { m: 'non-error thrown: custom' });
  // A name or message that is not a string would make the reply malformed: they travel as text.
  const odd = Object.assign(new Error('x'), { name: 7, message: { a: 1 } });
  const ow = errorToWire(odd, 'ev', 2);
  t.is(ow.n, '7');
  t.is(ow.m, '[object Object]');
  t.truthy(parseUpFrame({ cb: 1, t: 'res', id: 1, ok: false, e: ow }));
  const back = errorFromWire(ow, 'ev') as HandlerError;
  t.is(back.remote.name, '7');
});

test('protocol - stacks travel outside production only', (t) => {
  const before = process.env.NODE_ENV;
  try {
    process.env.NODE_ENV = 'production';
    t.is(errorToWire(new Error('p'), 'ev', 1).s, undefined);
    process.env.NODE_ENV = 'development';
    t.is(typeof errorToWire(new Error('d'), 'ev', 1).s, 'string');
  } finally {
    if (before === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = before;
  }
});

test('protocol - errorFromWire rebuilds a HandlerError with its cause', (t) => {
  const back = errorFromWire(
    { c: ErrorCodes.HANDLER_FAILED, m: 'boom', ev: 'ev', w: 3, n: 'RangeError', x: 'E_R' },
    'x',
  );
  t.true(back instanceof HandlerError);
  const h = back as HandlerError;
  t.deepEqual(h.remote, { name: 'RangeError', message: 'boom', code: 'E_R' });
  t.is(h.worker, 3);
  t.true(h.cause instanceof Error);
  t.is((h.cause as Error).name, 'RangeError');
  t.is((h.cause as Error & { code?: string }).code, 'E_R');
  t.is(h.message, 'handler of "ev" on worker 3 failed: RangeError: boom');
});

test('protocol - a ClosedError crosses as a ClosedError, with the shutdown reason', (t) => {
  const shutdown = errorFromWire(errorToWire(new ClosedError('ev', 'the cluster is shutting down'), 'ev', 0), 'x');
  t.true(shutdown instanceof ClosedError);
  t.is(shutdown.code, ErrorCodes.CLOSED);
  t.is((shutdown as ClosedError).reason, 'the cluster is shutting down');
  t.is(shutdown.message, 'the cluster is shutting down; "ev" was not completed');
  const closed = errorFromWire(errorToWire(new ClosedError('ev'), 'ev', 0), 'x');
  t.true(closed instanceof ClosedError);
  t.is((closed as ClosedError).reason, undefined);
  t.is(closed.message, 'bus closed; "ev" was not completed');
});

test('protocol - supervision messages are validated by type: a crash look-alike is not a crash report', (t) => {
  t.is(parseWorkerControl({ cbc: 1, t: 'crashed', reason: 42 }), undefined);
  t.is(parseWorkerControl({ cbc: 1, t: 'crashed' }), undefined);
  t.is(parseWorkerControl({ cbc: 1, t: 'crashed', reason: 'x', stack: {} }), undefined);
  t.is(parseWorkerControl({ cbc: 1, t: 'reload', id: 'x' }), undefined);
  t.is(parseWorkerControl({ cbc: 1, t: 'status', id: -1 }), undefined);
  t.is(parseWorkerControl({ cbc: 2, t: 'ready' }), undefined);
  t.deepEqual(parseWorkerControl({ cbc: 1, t: 'crashed', reason: 'boom', stack: 'Error: boom\n    at x' }), {
    cbc: 1,
    t: 'crashed',
    reason: 'boom',
    stack: 'Error: boom\n    at x',
  });
  t.is(
    (parseWorkerControl({ cbc: 1, t: 'crashed', reason: 'r'.repeat(5000) }) as { reason: string }).reason.length,
    2000,
  );
  t.deepEqual(parseWorkerControl('think-cluster-reload-workers'), { cbc: 1, t: 'reload', id: 0 });
});

test('protocol - errorFromWire maps an unknown code to CB_HANDLER_FAILED and keeps the message', (t) => {
  const back = errorFromWire({ c: 'SOMETHING_ELSE' as ErrorCode, m: 'strange' }, 'ev');
  t.true(back instanceof BusError);
  t.is(back.code, ErrorCodes.HANDLER_FAILED);
  t.is(back.message, 'strange');
  t.is(back.event, 'ev');
});

test('protocol - timerDelay keeps long deadlines from overflowing Node timers', (t) => {
  t.is(timerDelay(1), 1);
  t.is(timerDelay(MAX_TIMER_MS), MAX_TIMER_MS);
  t.is(timerDelay(MAX_TIMER_MS + 1), MAX_TIMER_MS);
  t.is(timerDelay(Number.MAX_SAFE_INTEGER), 2 ** 31 - 1);
});
