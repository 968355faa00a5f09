/**
 * The wire format: the envelopes workers and the master exchange, how errors travel in
 * them, and how a receiver tells a valid envelope from anything else.
 *
 * Every envelope is a plain object with `cb: PROTOCOL_VERSION`. Payloads and results are
 * already-encoded strings (`p`): the master routes on the envelope and forwards `p`
 * untouched. Keys are short because they cross the channel with every message.
 *
 * A broadcast envelope may carry a run of payloads (`ps`) instead of one: the broadcasts
 * of one event a process makes in one turn of the event loop travel, are routed and are
 * accepted together, and every receiver runs them in order.
 */
import {
  BadPayloadError,
  BusError,
  ClosedError,
  ErrorCodes,
  HandlerError,
  NoHandlerError,
  PayloadTooLargeError,
  TimeoutError,
  WorkerExitedError,
  type ErrorCode,
} from '../../errors.js';

/** Marks an envelope as ours, and its protocol version. */
export const PROTOCOL_VERSION = 1;

/** Operations as they travel: broadcast, consume, map (`mapSettled` is a `map` on the wire). */
export type WireOp = 'b' | 'c' | 'm';

/** An error as it travels. */
export interface WireError {
  /** The bus error code. */
  c: ErrorCode;
  /** Message. */
  m: string;
  /** Event. */
  ev?: string;
  /** Worker concerned. */
  w?: number;
  /** Host of that worker, when it is not the receiver's own. */
  h?: string;
  /** For CB_HANDLER_FAILED: the handler error's name, code and stack. */
  n?: string;
  x?: string;
  s?: string;
  /** For CB_TIMEOUT: the deadline. For CB_PAYLOAD_TOO_LARGE: size, limit, what. */
  ms?: number;
  sz?: number;
  lim?: number;
  wh?: 'payload' | 'result';
}

/** Worker (or master endpoint) to broker: joined, with the events it handles. */
export interface HelloFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'hello';
  ev: string[];
}
/** Worker to broker: the full list of events it handles changed. */
export interface HandlersFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'handlers';
  ev: string[];
}
/** Most payloads in one broadcast run. */
export const MAX_RUN = 100_000;
/**
 * Characters of payload an endpoint puts in one broadcast run at most: a run fills at most one
 * batch of the stream transport, whose batches hold 64 Ki characters.
 */
export const MAX_RUN_CHARS = 64 * 1024;

/** Caller to broker: a request. */
export interface RequestFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'req';
  /** Caller-local request id. */
  id: number;
  ev: string;
  op: WireOp;
  /** The payload; for a broadcast run, `''` with the payloads in `ps`. */
  p: string;
  /** A broadcast run's payloads, in order (broadcast only; never with a `p` of its own). */
  ps?: string[];
  /** Deadline in ms (consume, map). */
  ms?: number;
  /** Redeliver once if the worker dies (consume). */
  rd?: boolean;
  /** Result limit in bytes (map). */
  mr?: number;
  /** Payload limit in bytes. */
  mp?: number;
  /** Dedupe key (consume). */
  dk?: string;
  /**
   * The sender kept its own copies of the payloads, so its own delivery comes back as a
   * `call` with `own` instead of the payloads.
   */
  own?: true;
}
/** Worker to broker: the outcome of a delivery. */
export interface ReplyFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'res';
  /** Broker delivery id. */
  id: number;
  ok: boolean;
  p?: string;
  e?: WireError;
}
/** Broker to worker: run the handler. `id` 0 means no reply is expected (broadcast). */
export interface CallFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'call';
  id: number;
  ev: string;
  op: WireOp;
  /** The payload; for a broadcast run, `''` with the payloads in `ps`. */
  p: string;
  /** A broadcast run's payloads, in order (broadcast only). */
  ps?: string[];
  from: number;
  /** Result limit in bytes (map). */
  mr?: number;
  /**
   * A delivery back to its own sender (a broadcast, or a map or consume call): the id of the
   * sender's request, whose payloads (kept by the sender) are to be run; `p` is then `''`
   * and there is no `ps`.
   */
  own?: number;
}
/** Broker to caller: the request settled (broadcast accepted, consume done, or failed). */
export interface DoneFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'done';
  id: number;
  ok: boolean;
  e?: WireError;
}
/** One worker's outcome of a map: `[worker, true, encodedResult]` or `[worker, false, error]`. */
export type WireOutcome = [worker: number, ok: true, p: string] | [worker: number, ok: false, e: WireError];
/** Broker to caller: every worker's outcome of a map, in worker-id order. */
export interface MappedFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'mapped';
  id: number;
  r: WireOutcome[];
}

/** What an endpoint sends to the broker. */
export type UpFrame = HelloFrame | HandlersFrame | RequestFrame | ReplyFrame | DrainFrame | ByeFrame;
/**
 * Peer to router: this peer is draining. The router routes it no new work, and answers
 * `drained` once it owes no reply (at once if it owes none).
 */
export interface DrainFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'drain';
}
/** Peer to router: this peer leaves the bus now; whatever it still owed fails or is redelivered. */
export interface ByeFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'bye';
}
/** Router to a draining peer: it owes no reply any more; it may leave. */
export interface DrainedFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'drained';
}
/** Broker to caller: these requests settled successfully (broadcasts accepted, consumes done), in bulk. */
export interface OksFrame {
  cb: typeof PROTOCOL_VERSION;
  t: 'oks';
  ids: number[];
}
/** What the broker sends to an endpoint. */
export type DownFrame = CallFrame | DoneFrame | MappedFrame | OksFrame | DrainedFrame;

/** Whether `msg` claims to be one of ours; anything else is the user's own IPC. */
export function isBusMessage(msg: unknown): msg is { cb: number; t: unknown } {
  return typeof msg === 'object' && msg !== null && (msg as { cb?: unknown }).cb === PROTOCOL_VERSION;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isPosInt = (v: unknown): v is number => isInt(v) && v > 0;
const isStr = (v: unknown): v is string => typeof v === 'string';
const isOp = (v: unknown): v is WireOp => v === 'b' || v === 'c' || v === 'm';
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 100_000 && v.every(isStr);
/** A broadcast run's payloads: at least one, and nothing in `p` beside them. */
const isRun = (f: Record<string, unknown>): boolean =>
  f.ps === undefined ||
  (f.op === 'b' &&
    f.p === '' &&
    Array.isArray(f.ps) &&
    f.ps.length >= 1 &&
    f.ps.length <= MAX_RUN &&
    f.ps.every(isStr));
/** `own` on a request is `true`; on a call it names that request and replaces the payloads. */
const isOwnRequest = (f: Record<string, unknown>): boolean => f.own === undefined || f.own === true;
const isOwnCall = (f: Record<string, unknown>): boolean =>
  f.own === undefined || (isPosInt(f.own) && f.p === '' && f.ps === undefined);
const optional = <T>(v: unknown, check: (v: unknown) => v is T): boolean => v === undefined || check(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

const isNum = (v: unknown): v is number => typeof v === 'number';
const isWhat = (v: unknown): v is 'payload' | 'result' => v === 'payload' || v === 'result';

function isWireError(v: unknown): v is WireError {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  // The optional fields are checked too: the broker forwards a worker's error to the caller
  // as is, and the caller rebuilds it (`errorFromWire`) into typed fields, e.g. the string
  // `HandlerError.remote.name` or the number `PayloadTooLargeError.size`.
  return (
    isStr(e.c) &&
    isStr(e.m) &&
    optional(e.ev, isStr) &&
    optional(e.w, isInt) &&
    optional(e.h, isStr) &&
    optional(e.n, isStr) &&
    optional(e.x, isStr) &&
    optional(e.s, isStr) &&
    optional(e.ms, isNum) &&
    optional(e.sz, isNum) &&
    optional(e.lim, isNum) &&
    optional(e.wh, isWhat)
  );
}

/**
 * Validates an envelope received by the broker. Returns `undefined` for anything that is
 * not a well-formed frame, which the broker then drops.
 */
export function parseUpFrame(msg: unknown): UpFrame | undefined {
  if (!isBusMessage(msg)) return undefined;
  const f = msg as unknown as Record<string, unknown>;
  switch (f.t) {
    case 'drain':
    case 'bye':
      return { cb: PROTOCOL_VERSION, t: f.t };
    case 'hello':
    case 'handlers':
      return isStrList(f.ev) ? (f as unknown as HelloFrame | HandlersFrame) : undefined;
    case 'req':
      return isPosInt(f.id) &&
        isStr(f.ev) &&
        isOp(f.op) &&
        isStr(f.p) &&
        isRun(f) &&
        optional(f.ms, isPosInt) &&
        optional(f.rd, isBool) &&
        optional(f.mr, isPosInt) &&
        optional(f.mp, isPosInt) &&
        optional(f.dk, isStr) &&
        isOwnRequest(f)
        ? (f as unknown as RequestFrame)
        : undefined;
    case 'res':
      return isPosInt(f.id) && isBool(f.ok) && (f.ok ? isStr(f.p) : isWireError(f.e))
        ? (f as unknown as ReplyFrame)
        : undefined;
    default:
      return undefined;
  }
}

function isWireOutcome(v: unknown): v is WireOutcome {
  return (
    Array.isArray(v) &&
    v.length === 3 &&
    isInt(v[0]) &&
    ((v[1] === true && isStr(v[2])) || (v[1] === false && isWireError(v[2])))
  );
}

/** Validates an envelope received by an endpoint from the broker. */
export function parseDownFrame(msg: unknown): DownFrame | undefined {
  if (!isBusMessage(msg)) return undefined;
  const f = msg as unknown as Record<string, unknown>;
  switch (f.t) {
    case 'call':
      return isInt(f.id) &&
        f.id >= 0 &&
        isStr(f.ev) &&
        isOp(f.op) &&
        isStr(f.p) &&
        isRun(f) &&
        isInt(f.from) &&
        optional(f.mr, isPosInt) &&
        isOwnCall(f)
        ? (f as unknown as CallFrame)
        : undefined;
    case 'done':
      return isPosInt(f.id) && isBool(f.ok) && (f.ok || isWireError(f.e)) ? (f as unknown as DoneFrame) : undefined;
    case 'drained':
      return { cb: PROTOCOL_VERSION, t: 'drained' };
    case 'oks':
      return Array.isArray(f.ids) && f.ids.length <= 100_000 && f.ids.every(isPosInt)
        ? (f as unknown as OksFrame)
        : undefined;
    case 'mapped':
      return isPosInt(f.id) && Array.isArray(f.r) && f.r.every(isWireOutcome)
        ? (f as unknown as MappedFrame)
        : undefined;
    default:
      return undefined;
  }
}

/** Whether handler stacks travel: everywhere but production. */
function stacksTravel(): boolean {
  return process.env.NODE_ENV !== 'production';
}

/**
 * Turns anything a handler threw into a wire error. Bus errors keep their code; anything
 * else becomes CB_HANDLER_FAILED with the original name, message and code.
 */
export function errorToWire(err: unknown, event: string, worker: number): WireError {
  if (err instanceof BusError) {
    const w: WireError = { c: err.code, m: err.message, ev: err.event ?? event, w: err.worker ?? worker };
    if (err instanceof HandlerError) {
      w.n = err.remote.name;
      w.m = err.remote.message;
      if (err.remote.code !== undefined) w.x = err.remote.code;
      if (err.remote.stack !== undefined) w.s = err.remote.stack;
    } else if (err instanceof TimeoutError) {
      w.ms = err.timeoutMs;
    } else if (err instanceof PayloadTooLargeError) {
      w.sz = err.size;
      w.lim = err.limit;
      w.wh = err.what;
    }
    return w;
  }
  const e = err instanceof Error ? err : new Error(typeof err === 'string' ? err : safeString(err));
  // A thrown error's name and message need not be strings (user code can set anything); the
  // wire's must be, or the broker drops the reply as malformed and the caller waits for its deadline.
  const w: WireError = {
    c: ErrorCodes.HANDLER_FAILED,
    m: typeof e.message === 'string' ? e.message : toText(e.message),
    ev: event,
    w: worker,
    n: typeof e.name === 'string' ? e.name : toText(e.name),
  };
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') w.x = String(code);
  if (stacksTravel() && typeof e.stack === 'string') w.s = e.stack;
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
  const event = w.ev ?? fallbackEvent;
  const worker = w.w ?? 0;
  switch (w.c) {
    case ErrorCodes.HANDLER_FAILED: {
      const remote: { name: string; message: string; code?: string; stack?: string } = {
        name: w.n ?? 'Error',
        message: w.m,
      };
      if (w.x !== undefined) remote.code = w.x;
      if (w.s !== undefined) remote.stack = w.s;
      return new HandlerError(event, worker, remote);
    }
    case ErrorCodes.TIMEOUT:
      return new TimeoutError(event, w.ms ?? 0, w.w);
    case ErrorCodes.NO_HANDLER:
      return new NoHandlerError(event);
    case ErrorCodes.WORKER_EXITED:
      return restoreMessage(new WorkerExitedError(event, worker), w.m);
    case ErrorCodes.PAYLOAD_TOO_LARGE:
      return new PayloadTooLargeError(event, w.wh ?? 'payload', w.sz ?? 0, w.lim ?? 0, worker);
    case ErrorCodes.BAD_PAYLOAD:
      return new BadPayloadError(w.m, { event, worker });
    case ErrorCodes.CLOSED:
      return restoreMessage(new ClosedError(event, closedReason(w.m)), w.m);
    default:
      return new BusError(isKnownCode(w.c) ? w.c : ErrorCodes.HANDLER_FAILED, w.m, { event, worker });
  }
}

/** The reason a ClosedError's message starts with, unless it is the plain "bus closed". */
function closedReason(message: string): string | undefined {
  const end = message.indexOf(';');
  const reason = end < 0 ? message : message.slice(0, end);
  return reason === 'bus closed' ? undefined : reason;
}

function restoreMessage<E extends Error>(err: E, message: string): E {
  err.message = message;
  return err;
}

const knownCodes = new Set<string>(Object.values(ErrorCodes));
function isKnownCode(c: string): c is ErrorCode {
  return knownCodes.has(c);
}
