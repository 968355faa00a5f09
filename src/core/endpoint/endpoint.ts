/**
 * A process's end of the bus: its handlers, the calls it is waiting on, and the handshake
 * that tells the broker which events it handles. Every process has one: each worker (over
 * a transport to the master) and the master itself (peer 0, linked to the broker in-process).
 *
 * This class only wires the parts and keeps the public methods; each part has one job:
 * - `request.ts`: what a request is; its payload encoded and checked, its envelope.
 * - `broadcast-runs.ts`: broadcasts gathered into runs per turn; every frame leaves through it.
 * - `pending.ts`: the calls waiting for an outcome and everything that settles them.
 * - `own-copies.ts`: the copies a sender keeps of what it will run itself (or none, see the switch).
 * - `handlers.ts`: the handler table.
 * - `deliveries.ts`: running what the router delivers, and replying.
 * - `handshake.ts`: hello/handlers, drain and bye.
 * A payload's way out reads in order in `requestWith` below and, for a broadcast, on in
 * `BroadcastRuns.broadcast`.
 */
import { NO_COPY } from '../../codec/plain-json.js';
import { ClosedError, NotConnectedError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { ResolvedBusOptions } from '../options.js';
import { parseDownFrame } from '../protocol/frames.js';
import type { EndpointTransport } from '../transport.js';
import { BroadcastRuns } from './broadcast-runs.js';
import { Deliveries } from './deliveries.js';
import { Handlers, type AnyHandler } from './handlers.js';
import { Handshake } from './handshake.js';
import { ownCopies, type OwnCopies } from './own-copies.js';
import { PendingCalls } from './pending.js';
import { encodePayload, requestFrame, type CallOverrides, type RequestBase, type RequestSpec } from './request.js';

export type { AnyHandler } from './handlers.js';
export type { CallOverrides, RequestBase, RequestSpec } from './request.js';
export { OWN_CALL_COPY_CHARS, OWN_CALL_MIN_CHARS, OWN_COPY_CHARS } from './own-copies.js';
export { RUN_CHARS, RUN_PAYLOADS } from './broadcast-runs.js';

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

/** One process's end of the bus. */
export class Endpoint {
  private readonly handlers: Handlers;
  private readonly copies: OwnCopies;
  private readonly calls: PendingCalls;
  private readonly runs: BroadcastRuns;
  private readonly deliveries: Deliveries;
  private readonly handshake: Handshake;
  /** Frames from the router dropped as malformed (own deliveries that found nothing count in `deliveries`). */
  private ignored = 0;
  private closed = false;

  /** Binds to `transport` at once: from then on frames from the router reach this endpoint. */
  constructor(
    /** Worker id of this process (`0` for the master). */
    readonly worker: number,
    private readonly options: ResolvedBusOptions,
    transport: EndpointTransport,
    log: Logger = options.logger,
  ) {
    this.handlers = new Handlers();
    // The switch: a link that cannot return a request's own delivery without its payload gets
    // no copies kept for it, and no request that asks it to.
    this.copies = ownCopies(transport.ownCopies !== false, this.handlers);
    this.calls = new PendingCalls(this.copies);
    this.runs = new BroadcastRuns(worker, options, transport, this.calls, this.copies);
    this.deliveries = new Deliveries(worker, options, log, this.handlers, this.calls, this.copies, this.runs);
    this.handshake = new Handshake(this.handlers, this.runs);
    transport.bind({ onMessage: (message) => this.receive(message), onDisconnect: () => this.disconnected() });
  }

  /**
   * Tells the router this process drains: it is routed no new work, and the promise settles
   * once it owes no reply (or its link is gone). Its own requests still work meanwhile.
   */
  drain(): Promise<void> {
    return this.handshake.drain();
  }

  /** Tells the router this process leaves the bus now (after `drain`, nothing is lost). */
  leave(): void {
    this.handshake.leave();
  }

  /**
   * Schedules the handshake for the next turn of the event loop, so that the handlers a
   * module registers while it loads are all in it.
   */
  join(): void {
    this.handshake.scheduleAnnounce();
  }

  /** Adds a handler; returns the function that removes it. */
  on(ev: string, handler: AnyHandler, hints: { plainResult?: boolean; fingerprint?: string } = {}): () => void {
    if (this.handlers.add(ev, handler, hints.plainResult, hints.fingerprint)) this.handshake.scheduleAnnounce();
    return () => this.off(ev, handler);
  }

  /** Removes a handler. */
  off(ev: string, handler: AnyHandler): void {
    if (this.handlers.remove(ev, handler)) this.handshake.scheduleAnnounce();
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
    if (this.closed) return Promise.reject(new ClosedError(base.ev));
    if (base.op === 'broadcast') return this.runs.broadcast(base, payload);
    return new Promise<unknown>((resolve, reject) => {
      const op = base.op;
      const dedupeKey = op === 'consume' ? (call?.dedupeKey ?? base.dedupeKey) : undefined;
      // When this process will run the call itself, the copy made while checking the payload
      // spares decoding it when it comes back (see own-copies.ts).
      const copies = this.copies;
      const mayKeep = copies.mayKeepCall(base, dedupeKey);
      const copy = mayKeep ? copies.copyForCall(base.ev, payload) : NO_COPY;
      let p: string;
      try {
        p = encodePayload(base, copy === NO_COPY ? payload : copy, copy !== NO_COPY, this.worker);
      } catch (err) {
        return reject(err);
      }
      if (mayKeep) copies.sized(base.ev, p.length);
      const id = this.calls.newId();
      const frame = requestFrame(base, id, p, this.options.maxPayloadBytes);
      const timeoutMs = call?.timeoutMs ?? base.timeoutMs;
      frame.ms = timeoutMs;
      if (op === 'consume') {
        frame.rd = base.redeliver ?? true;
        if (dedupeKey !== undefined) frame.dk = dedupeKey;
      } else if (base.maxResultBytes !== undefined) {
        frame.mr = base.maxResultBytes;
      }
      const pending = this.calls.track(id, base.ev, op, resolve, reject, timeoutMs);
      if (copy !== NO_COPY) copies.keepFor(pending, frame, [p], copy, p.length);
      if (!this.runs.send(frame)) {
        this.calls.settle(id);
        reject(new NotConnectedError(base.ev));
      }
    });
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
        this.deliveries.run(frame);
        break;
      case 'done':
        this.calls.done(frame);
        break;
      case 'mapped':
        this.calls.mapped(frame);
        break;
      case 'oks':
        this.calls.oks(frame);
        break;
      case 'drained':
        this.handshake.settleDrain();
        break;
    }
  }

  /** The link to the router is gone: every pending call fails now rather than at its deadline. */
  private disconnected(): void {
    this.runs.drop();
    this.handshake.settleDrain();
    this.calls.failAll(NotConnectedError);
  }

  /** Fails every pending call and refuses new ones. */
  close(): void {
    this.closed = true;
    this.handshake.close();
    this.runs.drop();
    this.calls.failAll(ClosedError);
  }

  /** Events this endpoint has handlers for, sorted. */
  events(): string[] {
    return this.handlers.events();
  }

  stats(): EndpointStats {
    return {
      worker: this.worker,
      pendingCalls: this.calls.size,
      runningHandlers: this.deliveries.running,
      joined: this.handshake.joined,
      ignored: this.ignored + this.deliveries.ignored,
      ownCopyChars: this.copies.chars,
    };
  }
}
