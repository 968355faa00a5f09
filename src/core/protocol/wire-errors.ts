/**
 * How errors travel: the wire shape of an error (`WireError`), and one table saying, per error
 * code, which class it is rebuilt as and which of that class's properties travel in which wire
 * field. `errorToWire` and `errorFromWire` both read that table, so the two directions cannot
 * drift apart, and a new property of an error class is one line in it.
 */
import {
  BadPayloadError,
  BusError,
  ClosedError,
  ContractMismatchError,
  ErrorCodes,
  HandlerError,
  NoHandlerError,
  NotConnectedError,
  PayloadTooLargeError,
  TimeoutError,
  WorkerExitedError,
  type ErrorCode,
  type RemoteErrorInfo,
} from '../../errors.js';
import { localHost } from '../peer-id.js';
import { objectCheck } from './compile.js';
import { custom, int, num, oneOf, optional, str, type Shape } from './fields.js';

/** An error as it travels. */
const WIRE_ERROR = {
  /** The bus error code. Any string passes: an unknown code is rebuilt as CB_HANDLER_FAILED. */
  c: custom<ErrorCode>((v) => typeof v === 'string'),
  /** Message. */
  m: str,
  /** Event. */
  ev: optional(str),
  /** Worker concerned. */
  w: optional(int),
  /** Host of that worker, when it is not the receiver's own. */
  h: optional(str),
  /** For CB_HANDLER_FAILED: the handler error's name, code and stack. */
  n: optional(str),
  x: optional(str),
  s: optional(str),
  /** For CB_TIMEOUT: the deadline. */
  ms: optional(num),
  /** For CB_PAYLOAD_TOO_LARGE: size, limit, what. */
  sz: optional(num),
  lim: optional(num),
  wh: optional(oneOf('payload', 'result')),
  /** For CB_CLOSED: why, when it is not the receiver's own bus that closed. */
  rs: optional(str),
  /** For CB_CONTRACT_MISMATCH: the caller's and the worker's fingerprints of the event. */
  fx: optional(str),
  fa: optional(str),
} as const;

/** An error as it travels. */
export type WireError = Shape<typeof WIRE_ERROR>;

// The optional fields are checked too: the router forwards a worker's error to the caller as
// is, and the caller rebuilds it (`errorFromWire`) into typed fields, e.g. the string
// `HandlerError.remote.name` or the number `PayloadTooLargeError.size`.
/** Whether a value is a well-formed `WireError`. */
export const isWireError = objectCheck('isWireError', WIRE_ERROR) as (v: unknown) => v is WireError;

/** Wire fields every error has, filled from `BusError` itself rather than from the table. */
type BaseKey = 'c' | 'ev' | 'w' | 'h';
/** The wire fields a code's entry may map. */
type ExtraKey = Exclude<keyof WireError, BaseKey>;

type Defined<T> = Exclude<T, undefined>;
/** The properties of `S` whose type is the wire field `K`'s, both ways. */
type PropFor<S, K extends ExtraKey> = {
  [P in keyof S]-?: [Defined<S[P]>] extends [Defined<WireError[K]>]
    ? [Defined<WireError[K]>] extends [Defined<S[P]>]
      ? P
      : never
    : never;
}[keyof S] &
  string;

/** Where the event, worker and message of a wire error go when it is rebuilt. */
export interface WireContext {
  readonly event: string;
  /** As it travelled: absent when the error named no worker. */
  readonly worker: number | undefined;
  readonly message: string;
  /** As it travelled: absent for this process's own host. */
  readonly host: string | undefined;
}

/** One error code's entry: see `mapping`. */
interface Mapping<E extends BusError = BusError, S = unknown> {
  readonly type: abstract new (...args: never[]) => E;
  readonly source: ((err: E) => S) | undefined;
  readonly fields: Readonly<Partial<Record<ExtraKey, string>>>;
  readonly rebuild: (props: Partial<S>, at: WireContext) => E;
}

/**
 * How one error code travels:
 * - `type`: instances of this class carry the extra fields (another error with the code travels bare);
 * - `source`: where the properties are, when not on the error itself (`HandlerError.remote`);
 * - `fields`: wire field → property; the types must agree both ways;
 * - `rebuild`: makes the error again from the properties that travelled.
 */
function mapping<
  E extends BusError,
  S = E,
  const F extends { [K in ExtraKey]?: PropFor<S, K> } = Record<never, never>,
>(entry: {
  type: abstract new (...args: never[]) => E;
  source?: (err: E) => S;
  fields?: F;
  rebuild: (props: { [K in keyof F as F[K] & string]?: S[F[K] & keyof S] }, at: WireContext) => E;
}): Mapping {
  return {
    type: entry.type,
    source: entry.source as Mapping['source'],
    fields: entry.fields ?? {},
    rebuild: entry.rebuild as Mapping['rebuild'],
  };
}

/** Codes without an entry travel as code, message, event and worker, and come back as a plain `BusError`. */
const WIRE_CODES: Partial<Record<ErrorCode, Mapping>> = {
  [ErrorCodes.HANDLER_FAILED]: mapping({
    type: HandlerError,
    // Typed, so that `S` is known before `fields` is checked against it.
    source: (e: HandlerError) => e.remote,
    // The wire's message is the handler's own; the HandlerError's is rebuilt around it.
    fields: { m: 'message', n: 'name', x: 'code', s: 'stack' },
    rebuild: (r, at) => new HandlerError(at.event, at.worker ?? 0, remoteInfo(r, at.message), at.host),
  }),
  [ErrorCodes.TIMEOUT]: mapping({
    type: TimeoutError,
    fields: { ms: 'timeoutMs' },
    rebuild: (e, at) => restoreMessage(new TimeoutError(at.event, e.timeoutMs ?? 0, at.worker, at.host), at.message),
  }),
  [ErrorCodes.PAYLOAD_TOO_LARGE]: mapping({
    type: PayloadTooLargeError,
    fields: { sz: 'size', lim: 'limit', wh: 'what' },
    rebuild: (e, at) =>
      restoreMessage(
        new PayloadTooLargeError(at.event, e.what ?? 'payload', e.size ?? 0, e.limit ?? 0, at.worker ?? 0, at.host),
        at.message,
      ),
  }),
  [ErrorCodes.NO_HANDLER]: mapping({ type: NoHandlerError, rebuild: (_, at) => new NoHandlerError(at.event) }),
  [ErrorCodes.WORKER_EXITED]: mapping({
    type: WorkerExitedError,
    // The exit reason is only in the message, which travels whole.
    rebuild: (_, at) => restoreMessage(new WorkerExitedError(at.event, at.worker ?? 0, undefined, at.host), at.message),
  }),
  [ErrorCodes.BAD_PAYLOAD]: mapping({
    type: BadPayloadError,
    rebuild: (_, at) => new BadPayloadError(at.message, { event: at.event, worker: at.worker ?? 0 }),
  }),
  [ErrorCodes.CONTRACT_MISMATCH]: mapping({
    type: ContractMismatchError,
    fields: { fx: 'expected', fa: 'actual' },
    rebuild: (e, at) =>
      restoreMessage(
        new ContractMismatchError(at.event, at.worker ?? 0, e.expected ?? '', e.actual ?? '', at.host),
        at.message,
      ),
  }),
  [ErrorCodes.NOT_CONNECTED]: mapping({
    type: NotConnectedError,
    // The reason is only in the message, which travels whole.
    rebuild: (_, at) =>
      restoreMessage(
        new NotConnectedError(
          at.event,
          undefined,
          at.worker === undefined ? undefined : { worker: at.worker, host: at.host ?? localHost() },
        ),
        at.message,
      ),
  }),
  [ErrorCodes.CLOSED]: mapping({
    type: ClosedError,
    fields: { rs: 'reason' },
    rebuild: (e, at) => restoreMessage(new ClosedError(at.event, e.reason), at.message),
  }),
};

/** The entry of a code, if it has one (`c` comes off the wire: no inherited keys). */
function mappingOf(code: string): Mapping | undefined {
  return Object.hasOwn(WIRE_CODES, code) ? WIRE_CODES[code as ErrorCode] : undefined;
}

/** Copies the mapped properties of `source` into wire fields. */
function writeExtras(w: WireError, fields: Mapping['fields'], source: unknown): void {
  const from = source as Record<string, unknown>;
  const to = w as Record<string, unknown>;
  for (const [wire, prop] of Object.entries(fields)) {
    const v = from[prop];
    if (v !== undefined) to[wire] = v;
  }
}

/** The mapped properties a wire error carries. */
function readExtras(w: WireError, fields: Mapping['fields']): Record<string, unknown> {
  const from = w as Record<string, unknown>;
  const props: Record<string, unknown> = {};
  for (const [wire, prop] of Object.entries(fields)) {
    const v = from[wire];
    if (v !== undefined) props[prop] = v;
  }
  return props;
}

/** Whether handler stacks travel: everywhere but production. */
function stacksTravel(): boolean {
  return process.env.NODE_ENV !== 'production';
}

const handlerFailed = WIRE_CODES[ErrorCodes.HANDLER_FAILED] as Mapping;

/**
 * Turns anything a handler threw into a wire error. Bus errors keep their code; anything
 * else becomes CB_HANDLER_FAILED with the original name, message and code.
 */
export function errorToWire(err: unknown, event: string, worker: number): WireError {
  if (err instanceof BusError) {
    const w: WireError = { c: err.code, m: err.message, ev: err.event ?? event, w: err.worker ?? worker };
    if (err.host !== undefined && err.host !== localHost()) w.h = err.host;
    const entry = mappingOf(err.code);
    if (entry && err instanceof entry.type) writeExtras(w, entry.fields, entry.source ? entry.source(err) : err);
    return w;
  }
  const e = err instanceof Error ? err : new Error(typeof err === 'string' ? err : safeString(err));
  // A thrown error's name and message need not be strings (user code can set anything); the
  // wire's must be, or the router drops the reply as malformed and the caller waits for its deadline.
  const remote: { message: string; name: string; code?: string; stack?: string } = {
    message: typeof e.message === 'string' ? e.message : toText(e.message),
    name: typeof e.name === 'string' ? e.name : toText(e.name),
  };
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') remote.code = String(code);
  if (stacksTravel() && typeof e.stack === 'string') remote.stack = e.stack;
  const w: WireError = { c: ErrorCodes.HANDLER_FAILED, m: remote.message, ev: event, w: worker };
  writeExtras(w, handlerFailed.fields, remote);
  return w;
}

function toText(v: unknown): string {
  try {
    return String(v);
  } catch {
    return typeof v;
  }
}

function safeString(v: unknown): string {
  try {
    return `non-error thrown: ${String(v)}`;
  } catch {
    return 'non-error thrown';
  }
}

/** Rebuilds the typed error a wire error stands for. */
export function errorFromWire(w: WireError, fallbackEvent: string): BusError {
  const at: WireContext = { event: w.ev ?? fallbackEvent, worker: w.w, message: w.m, host: w.h };
  const entry = mappingOf(w.c);
  const err = entry
    ? entry.rebuild(readExtras(w, entry.fields), at)
    : new BusError(isKnownCode(w.c) ? w.c : ErrorCodes.HANDLER_FAILED, w.m, {
        event: at.event,
        worker: w.w ?? 0,
        ...(w.h === undefined ? {} : { host: w.h }),
      });
  // Subclasses take no host: they default to this process's, so a remote one is set afterwards.
  if (w.h !== undefined && err.host !== w.h) {
    Object.defineProperty(err, 'host', { value: w.h, enumerable: true, writable: true, configurable: true });
  }
  return err;
}

/** The handler error's own details, as `HandlerError.remote` holds them. */
function remoteInfo(r: Partial<RemoteErrorInfo>, message: string): RemoteErrorInfo {
  const remote: { name: string; message: string; code?: string; stack?: string } = {
    name: r.name ?? 'Error',
    message: r.message ?? message,
  };
  if (r.code !== undefined) remote.code = r.code;
  if (r.stack !== undefined) remote.stack = r.stack;
  return remote;
}

function restoreMessage<E extends Error>(err: E, message: string): E {
  err.message = message;
  return err;
}

const knownCodes = new Set<string>(Object.values(ErrorCodes));
function isKnownCode(c: string): c is ErrorCode {
  return knownCodes.has(c);
}

/** The wire fields each code's entry maps, for tests that prove every entry round-trips. */
export function wireFieldsOf(code: ErrorCode): Readonly<Partial<Record<ExtraKey, string>>> {
  return mappingOf(code)?.fields ?? {};
}
