/**
 * A process's end of the bus: its handlers, the calls it is waiting on, and the handshake
 * that tells the broker which events it handles. Every process has one: each worker (over
 * a transport to the master) and the master itself (peer 0, linked to the broker in-process).
 */
import { decode, encode, exceeds } from '../../codec/codec.js';
import { NO_COPY, copyPlain, plainText } from '../../codec/plain-json.js';
import { Deadlines } from '../deadlines.js';
import { localHost } from '../peer-id.js';
import type { EndpointTransport } from '../transport.js';
import type { BusError } from '../../errors.js';
import {
  BadPayloadError,
  ClosedError,
  MapError,
  NoHandlerError,
  NotConnectedError,
  PayloadTooLargeError,
  TimeoutError,
  type MapFailure,
} from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { ResolvedBusOptions } from '../options.js';
import {
  PROTOCOL_VERSION,
  errorFromWire,
  errorToWire,
  parseDownFrame,
  type CallFrame,
  type DoneFrame,
  type MappedFrame,
  type RequestFrame,
  type UpFrame,
  type WireOp,
  MAX_RUN_CHARS,
} from '../protocol/frames.js';
import type { HandlerContext, Settled } from '../../messenger/types.js';

/** A handler as the run time stores it. */
export type AnyHandler = (payload: unknown, ctx: HandlerContext) => unknown;

/** What the endpoint needs to send a request; the messenger fills it from the contract. */
export interface RequestSpec extends RequestBase {
  readonly payload: unknown;
}

/** Per-call options that override the event's. */
export interface CallOverrides {
  readonly timeoutMs?: number;
  readonly dedupeKey?: string;
}

/** The part of a request that is the same for every call of one event and operation. */
export interface RequestBase {
  readonly ev: string;
  readonly op: 'broadcast' | 'consume' | 'map' | 'mapSettled';
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxResultBytes?: number;
  readonly redeliver?: boolean;
  readonly dedupeKey?: string;
  /**
   * The generator's verdict on the payload type: `false` when JSON cannot carry it (straight
   * to superjson); otherwise the fast codec is tried first and checks the value itself.
   */
  readonly plainPayload?: boolean;
}

interface Pending {
  readonly ev: string;
  readonly op: RequestSpec['op'];
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: BusError) => void;
  /** The local deadline's timeout, in ms (its lane in `deadlines`). */
  readonly wait: number;
  /** The payloads of a request as this process keeps them for its own delivery. */
  kept?: Kept;
}

/**
 * A request's own copies (a broadcast run's, or the one payload of a map or consume that keeps
 * its copy). The sender's delivery of such a request comes back without the
 * payloads; it runs these instead: the copies made while encoding (no decoding), or the
 * encoded text where a value could not be copied (`NO_COPY`: not plain data).
 */
interface Kept {
  readonly ps: string[];
  readonly copies: unknown[];
  /** Characters of encoding of the payloads in `copies` (counted in `Endpoint.keptChars`). */
  chars: number;
}

/** The broadcasts of one event this turn, travelling as one request (see `Endpoint.broadcast`). */
interface OpenRun {
  readonly base: RequestBase;
  readonly frame: RequestFrame & { ps: string[] };
  /** The run's own copies, if it keeps them. */
  readonly kept: Kept | undefined;
  readonly promise: Promise<undefined>;
  /** Characters of payload in the run. */
  chars: number;
}

/** Counters and table sizes of one endpoint. */
export interface EndpointStats {
  /** This endpoint's worker id (`0` in the master). */
  worker: number;
  /** Calls this process made that have not settled. */
  pendingCalls: number;
  /** Handlers running now for requests that expect a reply. */
  runningHandlers: number;
  /** Whether the handshake was sent. */
  joined: boolean;
  /** Envelopes from the broker dropped as malformed or unknown. */
  ignored: number;
  /** Characters of encoding of the own copies held now (at most about `OWN_CALL_COPY_CHARS`). */
  ownCopyChars: number;
}

/**
 * How long past its deadline a caller waits for the broker's verdict before deciding the
 * timeout itself; covers a master that is too busy or gone.
 */
const LOCAL_GRACE_MS = 1_000;

/**
 * Characters of encoding of own copies held at one time past which new broadcast runs keep
 * none (their payloads come back from the master and are decoded, as for anyone). A copy
 * saves decoding only while it is young: held across garbage collections (a sender far
 * ahead of its deliveries, or large payloads), it costs the collector more than it saves.
 * A run that keeps copies keeps them to its end, so at most one run's worth more is held.
 */
export const OWN_COPY_CHARS = 64 * 1024;

/**
 * The same budget for consume and map calls. A caller has only the calls it awaits in flight,
 * so their copies are let go within a round trip and rarely outlive a scavenge: a larger
 * budget pays here where it does not for broadcasts, which a sender can make far ahead.
 */
export const OWN_CALL_COPY_CHARS = 1024 * 1024;

/**
 * A map or consume call keeps a copy only when the last payload of its event encoded to at
 * least this many characters. On a payload of about 100 bytes decoding costs no more than the
 * copy's bookkeeping, and map latency at one call in flight measured some 7% worse with copies
 * (1.04x to 1.14x the relay's p50, alternating builds). A payload's size is known only once it
 * is encoded, after the copy would have been made, so the event's last one stands in for it.
 */
export const OWN_CALL_MIN_CHARS = 1024;

/** A broadcast run leaves once it holds this many payloads ... */
export const RUN_PAYLOADS = 512;
/** ... or this many characters of them (the size of a batch). */
export const RUN_CHARS = MAX_RUN_CHARS;

const wireOps: Record<RequestSpec['op'], WireOp> = { broadcast: 'b', consume: 'c', map: 'm', mapSettled: 'm' };
const opNames: Record<WireOp, HandlerContext['op']> = { b: 'broadcast', c: 'consume', m: 'map' };

/** One process's end of the bus. */
export class Endpoint {
  private readonly handlers = new Map<string, AnyHandler[]>();
  private readonly pending = new Map<number, Pending>();
  private readonly deadlines = new Deadlines<number>((id) => {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.release(p);
    p.reject(new TimeoutError(p.ev, p.wait));
  });
  /** Events whose map results the generator knows JSON cannot carry: straight to superjson. */
  private readonly richResults = new Set<string>();
  private nextId = 1;
  /** Characters of encoding of the copies kept for own deliveries now (see `OWN_COPY_CHARS`). */
  private keptChars = 0;
  /** Per event, the size of its last call payload that could have kept a copy (see `OWN_CALL_MIN_CHARS`). */
  private readonly lastPayloadChars = new Map<string, number>();
  private running = 0;
  private ignored = 0;
  private joined = false;
  private announceScheduled = false;
  private closed = false;
  /** Broadcasts made this turn and not sent yet. */
  private openRun: OpenRun | undefined;
  private readonly closeOpenRun = (): void => {
    const run = this.openRun;
    if (!run) return;
    this.openRun = undefined;
    // A run of one travels like a single broadcast.
    const frame: RequestFrame = run.frame.ps.length === 1 ? withoutRun(run.frame) : run.frame;
    // Settled meanwhile (the link or the endpoint closed): nothing to send.
    if (!this.pending.has(frame.id)) return;
    if (!this.sendUp(frame)) this.settle(frame.id)?.reject(new NotConnectedError(frame.ev));
  };
  /** Settles `drain()` once the router said this endpoint owes nothing. */
  private drained: (() => void) | undefined;
  private drainPromise: Promise<void> | undefined;

  /** Binds to `transport` at once: from then on frames from the router reach this endpoint. */
  constructor(
    /** Worker id of this process (`0` for the master). */
    readonly worker: number,
    private readonly options: ResolvedBusOptions,
    private readonly transport: EndpointTransport,
    private readonly log: Logger = options.logger,
  ) {
    transport.bind({ onMessage: (message) => this.receive(message), onDisconnect: () => this.disconnected() });
  }

  private sendUp(frame: UpFrame): boolean {
    return this.transport.send(frame);
  }

  /**
   * Tells the router this process drains: it is routed no new work, and the promise settles
   * once it owes no reply (or its link is gone). Its own requests still work meanwhile.
   */
  drain(): Promise<void> {
    this.drainPromise ??= new Promise<void>((resolve) => {
      this.drained = resolve;
      if (!this.send({ cb: PROTOCOL_VERSION, t: 'drain' })) this.settleDrain();
    });
    return this.drainPromise;
  }

  /** Tells the router this process leaves the bus now (after `drain`, nothing is lost). */
  leave(): void {
    this.send({ cb: PROTOCOL_VERSION, t: 'bye' });
  }

  private settleDrain(): void {
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  /**
   * Schedules the handshake for the next turn of the event loop, so that the handlers a
   * module registers while it loads are all in it.
   */
  join(): void {
    this.scheduleAnnounce();
  }

  /** Adds a handler; returns the function that removes it. */
  on(ev: string, handler: AnyHandler, hints: { plainResult?: boolean } = {}): () => void {
    if (hints.plainResult === false) this.richResults.add(ev);
    const list = this.handlers.get(ev);
    if (list) list.push(handler);
    else this.handlers.set(ev, [handler]);
    if (!list) this.scheduleAnnounce();
    return () => this.off(ev, handler);
  }

  /** Removes a handler. */
  off(ev: string, handler: AnyHandler): void {
    const list = this.handlers.get(ev);
    if (!list) return;
    const at = list.indexOf(handler);
    if (at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) {
      this.handlers.delete(ev);
      this.scheduleAnnounce();
    }
  }

  /** Sends a request and settles with its outcome. Never throws; always settles. */
  request(spec: RequestSpec): Promise<unknown> {
    return this.requestWith(spec, spec.payload);
  }

  /**
   * The same, with the per-event part of the request (`base`, built once per event by the
   * messenger) apart from the per-call part, so a call allocates no request object.
   */
  requestWith(base: RequestBase, payload: unknown, call?: CallOverrides): Promise<unknown> {
    if (base.op === 'broadcast') return this.broadcast(base, payload);
    return new Promise<unknown>((resolve, reject) => {
      const op = base.op;
      const dedupeKey = op === 'consume' ? (call?.dedupeKey ?? base.dedupeKey) : undefined;
      // As for a broadcast: this process may run the call itself (every map reaches it when
      // it handles the event; a consume may). A deduplicated consume is run by the broker's
      // own job, never delivered as this caller's, so a copy would never be used.
      const mayKeep = dedupeKey === undefined && this.keepsOwnCopies(base, OWN_CALL_COPY_CHARS);
      const copy =
        mayKeep && (this.lastPayloadChars.get(base.ev) ?? 0) >= OWN_CALL_MIN_CHARS ? copyPlain(payload) : NO_COPY;
      let p: string;
      try {
        p = this.payloadOf(base, copy === NO_COPY ? payload : copy, copy !== NO_COPY);
      } catch (err) {
        return reject(err);
      }
      if (mayKeep) this.lastPayloadChars.set(base.ev, p.length);
      const id = this.nextId++;
      const frame = this.requestFrame(base, id, p);
      const timeoutMs = call?.timeoutMs ?? base.timeoutMs;
      frame.ms = timeoutMs;
      if (op === 'consume') {
        frame.rd = base.redeliver ?? true;
        if (dedupeKey !== undefined) frame.dk = dedupeKey;
      } else if (base.maxResultBytes !== undefined) {
        frame.mr = base.maxResultBytes;
      }
      this.track(id, base.ev, op, resolve, reject, timeoutMs);
      if (copy !== NO_COPY) this.keepOwn(frame, [p], copy, p.length);
      if (!this.send(frame)) {
        this.settle(id);
        reject(new NotConnectedError(base.ev));
      }
    });
  }

  /**
   * A broadcast. The broadcasts of one event made in a row in one turn of the event loop
   * form a run: one request the broker routes and accepts as a whole, so they share one
   * promise (and one deadline). Receivers still run them one by one, in order. A run ends
   * at the end of the turn, at another request or reply (which keeps everything this
   * process sends in order), or when it is full.
   */
  private broadcast(base: RequestBase, payload: unknown): Promise<unknown> {
    const open = this.openRun;
    const joinable =
      open !== undefined &&
      open.base.ev === base.ev &&
      open.base.maxPayloadBytes === base.maxPayloadBytes &&
      open.frame.ps.length < RUN_PAYLOADS;
    // This process runs its own broadcasts too: a copy made now, while checking the value,
    // spares decoding the payload when its delivery comes back. A run keeps copies of all
    // its payloads or of none (then the master sends the payloads back, as to anyone).
    const keep = joinable ? open.kept !== undefined : this.keepsOwnCopies(base, OWN_COPY_CHARS);
    const copy = keep ? copyPlain(payload) : NO_COPY;
    let p: string;
    try {
      p = this.payloadOf(base, copy === NO_COPY ? payload : copy, copy !== NO_COPY);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (joinable && open.chars + p.length <= RUN_CHARS) {
      open.frame.ps.push(p);
      open.chars += p.length;
      if (open.kept) this.keepCopy(open.kept, copy, p.length);
      return open.promise;
    }
    if (open) this.closeOpenRun();
    const id = this.nextId++;
    const frame = this.requestFrame(base, id, '') as RequestFrame & { ps: string[] };
    frame.ps = [p];
    const promise = new Promise<undefined>((resolve, reject) => {
      this.track(id, base.ev, 'broadcast', () => resolve(undefined), reject, this.options.timeoutMs);
    });
    // A run that filled up passes keeping copies on only while still under the budget (the
    // copy made for its first payload is then simply not kept).
    const kept =
      keep && (!joinable || this.keepsOwnCopies(base, OWN_COPY_CHARS))
        ? this.keepOwn(frame, frame.ps, copy, p.length)
        : undefined;
    this.openRun = { base, frame, kept, promise, chars: p.length };
    queueMicrotask(this.closeOpenRun);
    return promise;
  }

  /**
   * Whether a new request (or broadcast run) of `ev` keeps copies for this process's own
   * delivery: only while the copies held are under `budget`, and only if a handler here will
   * run them.
   */
  private keepsOwnCopies(base: RequestBase, budget: number): boolean {
    return base.plainPayload !== false && this.keptChars < budget && this.handlers.has(base.ev);
  }

  /**
   * Marks the tracked request `frame` as keeping its own copies (its first, `copy`, of a
   * payload encoded to `chars` characters), so its own delivery comes back as a reference.
   */
  private keepOwn(frame: RequestFrame, ps: string[], copy: unknown, chars: number): Kept {
    frame.own = true;
    const kept: Kept = { ps, copies: [], chars: 0 };
    this.keepCopy(kept, copy, chars);
    (this.pending.get(frame.id) as Pending).kept = kept;
    return kept;
  }

  private keepCopy(kept: Kept, copy: unknown, chars: number): void {
    kept.copies.push(copy);
    if (copy === NO_COPY) return;
    kept.chars += chars;
    this.keptChars += chars;
  }

  /** Lets go of a request's own copies. */
  private release(pending: Pending): void {
    const kept = pending.kept;
    if (!kept) return;
    pending.kept = undefined;
    this.keptChars -= kept.chars;
  }

  /**
   * `payload` encoded and within the event's limit; throws the error the call rejects with.
   * `copied`: `payload` is a `copyPlain` copy, plain data for sure.
   */
  private payloadOf(base: RequestBase, payload: unknown, copied = false): string {
    if (this.closed) throw new ClosedError(base.ev);
    const p = copied ? plainText(payload) : encode(payload, base.ev, this.worker, base.plainPayload);
    const size = exceeds(p, base.maxPayloadBytes);
    if (size !== undefined) {
      throw new PayloadTooLargeError(base.ev, 'payload', size, base.maxPayloadBytes, this.worker);
    }
    return p;
  }

  /** The part of a request envelope every operation has. */
  private requestFrame(base: RequestBase, id: number, p: string): RequestFrame {
    const frame: RequestFrame = { cb: PROTOCOL_VERSION, t: 'req', id, ev: base.ev, op: wireOps[base.op], p };
    if (base.maxPayloadBytes !== this.options.maxPayloadBytes) frame.mp = base.maxPayloadBytes;
    return frame;
  }

  /** Records a pending call and its local deadline. */
  private track(
    id: number,
    ev: string,
    op: Pending['op'],
    resolve: Pending['resolve'],
    reject: Pending['reject'],
    timeoutMs: number,
  ): void {
    // The broker decides timeouts; this deadline only covers a broker that never answers.
    const wait = timeoutMs + LOCAL_GRACE_MS;
    this.pending.set(id, { ev, op, resolve, reject, wait });
    this.deadlines.schedule(id, wait);
  }

  /** Sends a frame after the broadcasts made before it. */
  private send(frame: UpFrame): boolean {
    if (this.openRun) this.closeOpenRun();
    return this.sendUp(frame);
  }

  /** An envelope from the router. Never throws. */
  private receive(message: unknown): void {
    const frame = parseDownFrame(message);
    if (!frame) {
      this.ignored++;
      return;
    }
    switch (frame.t) {
      case 'call':
        this.run(frame);
        break;
      case 'done':
        this.done(frame);
        break;
      case 'mapped':
        this.mapped(frame);
        break;
      case 'oks':
        for (const id of frame.ids) this.settle(id)?.resolve(undefined);
        break;
      case 'drained':
        this.settleDrain();
        break;
    }
  }

  /** The link to the router is gone: every pending call fails now rather than at its deadline. */
  private disconnected(): void {
    this.openRun = undefined;
    this.settleDrain();
    for (const [id, p] of this.pending) {
      this.settle(id);
      p.reject(new NotConnectedError(p.ev));
    }
  }

  /** Fails every pending call and refuses new ones. */
  close(): void {
    this.closed = true;
    this.openRun = undefined;
    for (const [id, p] of this.pending) {
      this.settle(id);
      p.reject(new ClosedError(p.ev));
    }
  }

  /** Events this endpoint has handlers for, sorted. */
  events(): string[] {
    return [...this.handlers.keys()].sort();
  }

  stats(): EndpointStats {
    return {
      worker: this.worker,
      pendingCalls: this.pending.size,
      runningHandlers: this.running,
      joined: this.joined,
      ignored: this.ignored,
      ownCopyChars: this.keptChars,
    };
  }

  // ---- handshake ----------------------------------------------------------------------

  private scheduleAnnounce(): void {
    if (this.announceScheduled || this.closed) return;
    this.announceScheduled = true;
    setImmediate(() => {
      this.announceScheduled = false;
      const ev = this.events();
      this.send({ cb: PROTOCOL_VERSION, t: this.joined ? 'handlers' : 'hello', ev });
      this.joined = true;
    });
  }

  // ---- running handlers ----------------------------------------------------------------

  private run(call: CallFrame): void {
    const list = this.handlers.get(call.ev);
    if (call.op === 'b' && !list) return;
    const host = localHost();
    const ctx: HandlerContext = {
      event: call.ev,
      op: opNames[call.op],
      from: call.from,
      fromHost: host,
      worker: this.worker,
      host,
    };
    if (call.op === 'b' && list) {
      if (call.own !== undefined) return this.runOwn(call.own, call.ev, ctx);
      if (call.ps === undefined) return this.runBroadcast(call.ev, call.p, ctx);
      for (const p of call.ps) this.runBroadcast(call.ev, p, ctx);
      return;
    }
    const handler = list?.[0];
    if (!handler) {
      this.replyError(call, new NoHandlerError(call.ev));
      return;
    }
    this.running++;
    let result: unknown;
    try {
      const payload = call.own === undefined ? decode(call.p, call.ev, this.worker) : this.takeOwn(call);
      result = handler(payload, ctx);
    } catch (err) {
      this.running--;
      this.replyError(call, err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          this.running--;
          this.replyValue(call, value);
        },
        (err: unknown) => {
          this.running--;
          this.replyError(call, err);
        },
      );
    } else {
      this.running--;
      this.replyValue(call, result);
    }
  }

  /** This process's own broadcast (request `id`), delivered from the copies it kept. */
  private runOwn(id: number, ev: string, ctx: HandlerContext): void {
    const kept = this.takeKept(id);
    if (!kept) return;
    for (let i = 0; i < kept.ps.length; i++) this.runBroadcast(ev, kept.ps[i] as string, ctx, kept.copies[i]);
  }

  /**
   * The copy this process kept of its own consume or map request, for its own delivery of it.
   * Throws when the request was settled meanwhile (its local deadline passed or the bus
   * closed): the caller no longer waits for this outcome.
   */
  private takeOwn(call: CallFrame): unknown {
    const kept = this.takeKept(call.own as number);
    if (!kept) {
      throw new BadPayloadError(`the payload of "${call.ev}" is gone: its caller already gave up on the call`, {
        event: call.ev,
        worker: this.worker,
      });
    }
    return kept.copies[0];
  }

  /**
   * The copies request `id` kept for its own delivery, let go of now; `undefined` (counted as
   * ignored) once the request settled, which already let go of them.
   */
  private takeKept(id: number): Kept | undefined {
    const pending = this.pending.get(id);
    const kept = pending?.kept;
    if (!pending || !kept) {
      this.ignored++;
      return undefined;
    }
    this.release(pending);
    return kept;
  }

  /** Runs one broadcast payload: `copy` if there is one, else `p` decoded. */
  private runBroadcast(ev: string, p: string, ctx: HandlerContext, copy: unknown = NO_COPY): void {
    // Handlers may come and go while a run is delivered: look them up for every payload.
    const list = this.handlers.get(ev);
    if (!list) return;
    let payload: unknown = copy;
    if (payload === NO_COPY) {
      try {
        payload = decode(p, ev, this.worker);
      } catch (err) {
        this.log.error('broadcast payload could not be decoded', {
          event: ev,
          worker: this.worker,
          error: String(err),
        });
        return;
      }
    }
    // A handler may remove itself while running: iterate over a copy when there are several.
    if (list.length === 1) this.runBroadcastHandler(list[0] as AnyHandler, payload, ctx);
    else for (const handler of [...list]) this.runBroadcastHandler(handler, payload, ctx);
  }

  private runBroadcastHandler(handler: AnyHandler, payload: unknown, ctx: HandlerContext): void {
    try {
      const result = handler(payload, ctx);
      if (isThenable(result)) result.then(undefined, (err: unknown) => this.reportBroadcastFailure(ctx, err));
    } catch (err) {
      this.reportBroadcastFailure(ctx, err);
    }
  }

  private reportBroadcastFailure(ctx: HandlerContext, err: unknown): void {
    this.log.error('broadcast handler failed', { event: ctx.event, worker: this.worker, error: describe(err) });
  }

  private replyValue(call: CallFrame, value: unknown): void {
    if (call.op !== 'm') {
      // A consume's result is not part of its contract: only completion travels.
      this.send({ cb: PROTOCOL_VERSION, t: 'res', id: call.id, ok: true, p: '' });
      return;
    }
    let p: string;
    try {
      p = encode(value, call.ev, this.worker, this.richResults.has(call.ev) ? false : undefined, 'result');
    } catch (err) {
      return this.replyError(call, err);
    }
    const limit = call.mr ?? this.options.maxResultBytes;
    const size = exceeds(p, limit);
    if (size !== undefined) {
      return this.replyError(call, new PayloadTooLargeError(call.ev, 'result', size, limit, this.worker));
    }
    this.send({ cb: PROTOCOL_VERSION, t: 'res', id: call.id, ok: true, p });
  }

  private replyError(call: CallFrame, err: unknown): void {
    this.send({ cb: PROTOCOL_VERSION, t: 'res', id: call.id, ok: false, e: errorToWire(err, call.ev, this.worker) });
  }

  // ---- settling calls -----------------------------------------------------------------

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    this.release(p);
    this.deadlines.cancel(id, p.wait);
    return p;
  }

  private done(frame: DoneFrame): void {
    const p = this.settle(frame.id);
    if (!p) return;
    if (frame.ok) return p.resolve(undefined);
    p.reject(errorFromWire(frame.e as NonNullable<DoneFrame['e']>, p.ev));
  }

  private mapped(frame: MappedFrame): void {
    const p = this.settle(frame.id);
    if (!p) return;
    const settled: Settled<unknown>[] = [];
    const host = localHost();
    for (const outcome of frame.r) {
      const worker = outcome[0];
      if (outcome[1]) {
        try {
          settled.push({ worker, host, ok: true, value: decode(outcome[2], p.ev, worker) });
        } catch (err) {
          settled.push({ worker, host, ok: false, error: err as BusError });
        }
      } else {
        const error = errorFromWire(outcome[2], p.ev);
        settled.push({ worker, host: error.host ?? host, ok: false, error });
      }
    }
    if (p.op === 'mapSettled') return p.resolve(settled);
    if (settled.length === 0) return p.reject(new NoHandlerError(p.ev));
    if (settled.every((s) => s.ok)) return p.resolve(settled.map((s) => (s.ok ? s.value : undefined)));
    p.reject(new MapError(p.ev, settled as MapFailure[]));
  }
}

/** A one-payload run as a plain broadcast request. */
function withoutRun({ ps, ...frame }: RequestFrame & { ps: string[] }): RequestFrame {
  return { ...frame, p: ps[0] as string };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
