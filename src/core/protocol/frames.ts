/**
 * The wire format: the envelopes workers and the master exchange, each declared once in
 * `FRAMES` (its fields, their kinds, which may be absent, the part each plays in a batch record,
 * and the rules across fields), from which the frame types, the validators `parseUpFrame` /
 * `parseDownFrame` and the batch transport's record layout are derived. Every envelope is a
 * plain object with `cb: PROTOCOL_VERSION` and a type `t`; payloads and results are
 * already-encoded strings (`p`) the master routes on the envelope and forwards untouched, and
 * keys are short because they cross the channel with every message.
 */
import { frame, frameParser, type Direction } from './compile.js';
import {
  bool,
  count,
  custom,
  each,
  int,
  key,
  listOf,
  oneOf,
  optional,
  outcomes,
  payload,
  payloads,
  posInt,
  solo,
  str,
  when,
  type Shape,
  type Simplify,
  type ValueOf,
} from './fields.js';
import { isWireError, type WireError } from './wire-errors.js';

export { errorFromWire, errorToWire, type WireError } from './wire-errors.js';

/** Marks an envelope as ours, and its protocol version. */
export const PROTOCOL_VERSION = 1;

/** Most payloads in one broadcast run. */
export const MAX_RUN = 100_000;
/**
 * Characters of payload an endpoint puts in one broadcast run at most: a run fills at most one
 * batch of the stream transport, whose batches hold 64 Ki characters.
 */
export const MAX_RUN_CHARS = 64 * 1024;
/** Most events in a handler list, and most ids in one `oks`. */
const MAX_LIST = 100_000;

const wireOp = oneOf('b', 'c', 'm');
/** Operations as they travel: broadcast, consume, map (`mapSettled` is a `map` on the wire). */
export type WireOp = ValueOf<typeof wireOp>;

/**
 * One worker's outcome of a map: `[worker, true, encodedResult]` or `[worker, false, error]`,
 * plus the worker's host when it is not the receiver's own.
 */
export type WireOutcome =
  [worker: number, ok: true, p: string, host?: string] | [worker: number, ok: false, e: WireError, host?: string];
const wireOutcome = custom<WireOutcome>(
  (v) =>
    Array.isArray(v) &&
    (v.length === 3 || (v.length === 4 && typeof v[3] === 'string')) &&
    Number.isSafeInteger(v[0]) &&
    ((v[1] === true && typeof v[2] === 'string') || (v[1] === false && isWireError(v[2]))),
);
const wireError = custom<WireError>(isWireError);
const events = listOf(str, { max: MAX_LIST });
/** A broadcast run's payloads: at least one. */
const run = listOf(str, { min: 1, max: MAX_RUN });

/**
 * A broadcast may carry a run of payloads (`ps`) instead of one: the broadcasts of one event a
 * process makes in one turn of the event loop travel, are routed and are accepted together, and
 * every receiver runs them in order. Such a frame has nothing in `p`.
 */
const runRule = (f: { op: WireOp; p: string; ps?: string[] }): boolean =>
  f.ps === undefined || (f.op === 'b' && f.p === '');

/** A `hello` or `handlers` frame's fingerprints, if any, are one per event. */
const sameLength = (f: { ev: string[]; fps?: string[] }): boolean =>
  f.fps === undefined || f.fps.length === f.ev.length;

/**
 * Every frame type. Fields are listed in the order senders set them (see `frame`). A broadcast
 * request or call never joins a run record: its payloads already travel together (`ps`), and
 * the router writes one call to every worker, whose record the batch keeps for the next.
 */
export const FRAMES = {
  /**
   * Worker (or master endpoint) to router: joined, with the events it handles and, when its
   * contracts were generated with them, each event's fingerprint (`fps[i]` for `ev[i]`, `''`
   * for none).
   */
  hello: frame('up', { ev: events, fps: optional(events) }, { refine: sameLength }),
  /** Worker to router: the full list of events it handles changed. */
  handlers: frame('up', { ev: events, fps: optional(events) }, { refine: sameLength }),
  /** Caller to router: a request. */
  req: frame(
    'up',
    {
      /** Caller-local request id. */
      id: key(posInt),
      ev: str,
      op: wireOp,
      /** The payload; for a broadcast run, `''` with the payloads in `ps`. */
      p: payload(str),
      /** A broadcast run's payloads, in order (broadcast only; never with a `p` of its own). */
      ps: optional(payloads(run)),
      /** Payload limit in bytes. */
      mp: optional(posInt),
      /** The caller's fingerprint of the event: only workers with the same one get the request. */
      fp: optional(str),
      /** Deadline in ms (consume, map). */
      ms: optional(posInt),
      /** Redeliver once if the worker dies (consume). */
      rd: optional(bool),
      /** Dedupe key (consume). */
      dk: optional(str),
      /** Result limit in bytes (map). */
      mr: optional(posInt),
      /**
       * The sender kept its own copies of the payloads, so its own delivery comes back as a
       * `call` with `own` instead of the payloads.
       */
      own: optional(oneOf(true)),
    },
    { refine: runRule, runs: (f) => f.op !== 'b' },
  ),
  /** Worker to router: the outcome of a delivery: a result if `ok`, else an error. */
  res: frame(
    'up',
    {
      /** Router delivery id. */
      id: key(posInt),
      ok: bool,
      p: when('ok', true, payload(str)),
      e: when('ok', false, solo(wireError)),
    },
    { runs: (f) => f.ok },
  ),
  /**
   * Peer to router: this peer is draining. The router routes it no new work, and answers
   * `drained` once it owes no reply (at once if it owes none).
   */
  drain: frame('up', {}),
  /** Peer to router: this peer leaves the bus now; whatever it still owed fails or is redelivered. */
  bye: frame('up', {}),
  /** Router to worker: run the handler. `id` 0 means no reply is expected (broadcast). */
  call: frame(
    'down',
    {
      id: key(count),
      ev: str,
      op: wireOp,
      /** The payload; for a broadcast run, `''` with the payloads in `ps`. */
      p: payload(str),
      /** A broadcast run's payloads, in order (broadcast only). */
      ps: optional(payloads(run)),
      from: int,
      /** The caller's host, when it is not the receiver's own. */
      fh: optional(str),
      /** Result limit in bytes (map). */
      mr: optional(posInt),
      /**
       * A delivery back to its own sender (a broadcast, or a map or consume call): the id of the
       * sender's request, whose payloads (kept by the sender) are to be run; `p` is then `''`
       * and there is no `ps`.
       */
      own: optional(each(posInt)),
    },
    {
      refine: (f) => runRule(f) && (f.own === undefined || (f.p === '' && f.ps === undefined)),
      runs: (f) => f.op !== 'b',
    },
  ),
  /** Router to caller: the request settled (broadcast accepted, consume done, or failed). */
  done: frame('down', { id: key(posInt), ok: bool, e: when('ok', false, solo(wireError)) }),
  /** Router to caller: every worker's outcome of a map, in worker-id order. */
  mapped: frame('down', { id: key(posInt), r: outcomes(listOf(wireOutcome)) }, { runs: () => true }),
  /** Router to caller: these requests settled successfully (broadcasts accepted, consumes done), in bulk. */
  oks: frame('down', { ids: listOf(posInt, { max: MAX_LIST }) }),
  /** Router to a draining peer: it owes no reply any more; it may leave. */
  drained: frame('down', {}),
};

type Frames = typeof FRAMES;
/** A frame type. */
export type FrameType = keyof Frames;
/** The envelope of frame type `T`, as `FRAMES` declares it. */
export type FrameOf<T extends FrameType> = Simplify<{ cb: typeof PROTOCOL_VERSION; t: T } & Shape<Frames[T]['fields']>>;
type FramesFrom<D extends Direction> = { [T in FrameType]: Frames[T]['dir'] extends D ? FrameOf<T> : never }[FrameType];

export type HelloFrame = FrameOf<'hello'>;
export type HandlersFrame = FrameOf<'handlers'>;
export type RequestFrame = FrameOf<'req'>;
export type ReplyFrame = FrameOf<'res'>;
export type DrainFrame = FrameOf<'drain'>;
export type ByeFrame = FrameOf<'bye'>;
export type CallFrame = FrameOf<'call'>;
export type DoneFrame = FrameOf<'done'>;
export type MappedFrame = FrameOf<'mapped'>;
export type OksFrame = FrameOf<'oks'>;
export type DrainedFrame = FrameOf<'drained'>;

/** What an endpoint sends to the router. */
export type UpFrame = FramesFrom<'up'>;
/** What the router sends to an endpoint. */
export type DownFrame = FramesFrom<'down'>;

/** Whether `msg` claims to be one of ours; anything else is the user's own IPC. */
export function isBusMessage(msg: unknown): msg is { cb: number; t: unknown } {
  return typeof msg === 'object' && msg !== null && (msg as { cb?: unknown }).cb === PROTOCOL_VERSION;
}

function specsFrom(dir: Direction): Record<string, Frames[FrameType]> {
  return Object.fromEntries(Object.entries(FRAMES).filter(([, spec]) => spec.dir === dir));
}
const parseUp = frameParser('parseUpFrame', PROTOCOL_VERSION, specsFrom('up'));
const parseDown = frameParser('parseDownFrame', PROTOCOL_VERSION, specsFrom('down'));

/**
 * Validates an envelope received by the router. Returns `undefined` for anything that is
 * not a well-formed frame, which the router then drops.
 */
export function parseUpFrame(msg: unknown): UpFrame | undefined {
  return isBusMessage(msg) ? (parseUp(msg as Record<string, unknown>) as UpFrame | undefined) : undefined;
}

/** Validates an envelope received by an endpoint from the router. */
export function parseDownFrame(msg: unknown): DownFrame | undefined {
  return isBusMessage(msg) ? (parseDown(msg as Record<string, unknown>) as DownFrame | undefined) : undefined;
}
