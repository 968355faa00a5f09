/**
 * What the router delivers to this process (`call` frames), run: the payload decoded (or, for
 * this process's own request, taken from the copy it kept), the handlers run, and the reply
 * sent. Broadcasts get no reply; their failures are only logged, as nobody waits for them.
 */
import { decode, encode, exceeds } from '../../codec/codec.js';
import { NO_COPY } from '../../codec/plain-json.js';
import { BadPayloadError, NoHandlerError, PayloadTooLargeError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { HandlerContext } from './handler-types.js';
import type { ResolvedBusOptions } from '../options.js';
import { localHost } from '../peer-id.js';
import { PROTOCOL_VERSION, errorToWire, type CallFrame, type WireOp } from '../protocol/frames.js';
import type { BroadcastRuns } from './broadcast-runs.js';
import type { AnyHandler, Handlers } from './handlers.js';
import type { Kept, OwnCopies } from './own-copies.js';
import type { PendingCalls } from './pending.js';

const opNames: Record<WireOp, HandlerContext['op']> = { b: 'broadcast', c: 'consume', m: 'map' };

export class Deliveries {
  /** Handlers running now for requests that expect a reply. */
  running = 0;
  /** Own deliveries that found no copies (their request had settled). */
  ignored = 0;

  constructor(
    private readonly worker: number,
    private readonly options: ResolvedBusOptions,
    private readonly log: Logger,
    private readonly handlers: Handlers,
    private readonly calls: PendingCalls,
    private readonly copies: OwnCopies,
    /** Where replies leave: after this process's open broadcasts. */
    private readonly out: BroadcastRuns,
  ) {}

  run(call: CallFrame): void {
    const list = this.handlers.get(call.ev);
    if (call.op === 'b' && !list) return;
    const host = localHost();
    const ctx: HandlerContext = {
      event: call.ev,
      op: opNames[call.op],
      from: call.from,
      fromHost: call.fh ?? host,
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

  /** The copies request `id` kept for its own delivery; `undefined` (counted as ignored) once it settled. */
  private takeKept(id: number): Kept | undefined {
    const kept = this.copies.take(this.calls.get(id));
    if (!kept) this.ignored++;
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
      this.out.send({ cb: PROTOCOL_VERSION, t: 'res', id: call.id, ok: true, p: '' });
      return;
    }
    let p: string;
    try {
      p = encode(value, call.ev, this.worker, this.handlers.richResult(call.ev) ? false : undefined, 'result');
    } catch (err) {
      return this.replyError(call, err);
    }
    const limit = call.mr ?? this.options.maxResultBytes;
    const size = exceeds(p, limit);
    if (size !== undefined) {
      return this.replyError(call, new PayloadTooLargeError(call.ev, 'result', size, limit, this.worker));
    }
    this.out.send({ cb: PROTOCOL_VERSION, t: 'res', id: call.id, ok: true, p });
  }

  private replyError(call: CallFrame, err: unknown): void {
    this.out.send({
      cb: PROTOCOL_VERSION,
      t: 'res',
      id: call.id,
      ok: false,
      e: errorToWire(err, call.ev, this.worker),
    });
  }
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
