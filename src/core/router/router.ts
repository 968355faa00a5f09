/**
 * The routing rules, in one place. The broker runs in the master: it knows which peers
 * (workers, and the master's own endpoint as peer 0) are ready and which events each
 * handles, routes every request, enforces deadlines and size limits, and settles every
 * request exactly once: with a result, a handler's error, a timeout or a worker's exit.
 *
 * It reads envelopes only; payload bytes pass through untouched.
 */
import { exceeds } from '../../codec/codec.js';
import { DedupeTable } from './dedupe-table.js';
import type { BusError } from '../../errors.js';
import {
  ClosedError,
  ContractMismatchError,
  NoHandlerError,
  NotConnectedError,
  PayloadTooLargeError,
  TimeoutError,
  WorkerExitedError,
  ErrorCodes,
} from '../../errors.js';
import { Deadlines, timerDelay } from '../deadlines.js';
import { Acks } from './acks.js';
import { Membership, type Peer as MemberPeer, type PeerState } from './membership.js';

export type { PeerState } from './membership.js';
import { comparePeers, localHost, type PeerId } from '../peer-id.js';
import type { RouterTransport } from '../transport.js';
import type { Logger } from '../../logger.js';
import type { ResolvedBusOptions } from '../options.js';
import {
  PROTOCOL_VERSION,
  errorToWire,
  parseUpFrame,
  type CallFrame,
  type DownFrame,
  type ReplyFrame,
  type RequestFrame,
  type WireError,
  type WireOutcome,
} from '../protocol/frames.js';

type Peer = MemberPeer<Delivery>;

interface Delivery {
  readonly id: number;
  readonly peer: number;
  readonly request: Request;
  /** For a map: the position of `peer` among the request's targets (worker-id order). */
  readonly slot: number;
}

interface RequestBase {
  readonly key: number;
  /** Peer that asked, or `undefined` for the broker's own dedupe runs. */
  readonly caller: number | undefined;
  readonly callerId: number;
  readonly ev: string;
  readonly p: string;
  /** The caller kept a copy of the payload: its own delivery goes without it (see `own`). */
  readonly own: boolean;
  /** The caller's fingerprint of the event: only workers on the same version of it get it. */
  readonly fp: string | undefined;
  readonly ms: number;
  /** Whether its deadline is scheduled (in `deadlines`, lane `ms`). */
  timed: boolean;
  parked: boolean;
}

interface ConsumeRequest extends RequestBase {
  readonly op: 'c';
  readonly tried: Set<number>;
  redeliveries: number;
  delivery: Delivery | undefined;
  readonly dedupe: DedupeEntry | undefined;
  /** Why the last attempt failed, reported if nothing else can run it. */
  lastFailure: BusError | undefined;
}

interface MapRequest extends RequestBase {
  readonly op: 'm';
  readonly mr: number;
  /** Per target, in worker-id order: the delivery while its reply is awaited. */
  deliveries: (Delivery | undefined)[];
  /** Per target, in worker-id order: its outcome once known. */
  outcomes: (WireOutcome | undefined)[];
  /** Targets whose outcome is not known yet. */
  left: number;
}

type Request = ConsumeRequest | MapRequest;

interface DedupeWaiter {
  readonly peer: number;
  readonly id: number;
  readonly timer: NodeJS.Timeout;
}

/** A run-once job while it runs. */
interface DedupeEntry {
  readonly key: string;
  waiters: DedupeWaiter[];
  /** This router claimed it across hosts (`SharedDedupe`), and records its outcome there. */
  shared: boolean;
}

type DedupeOutcome = { ok: true } | { ok: false; e: WireError };

/** Counters and table sizes, for tests and monitoring. */
export interface BrokerStats {
  /** Requests not yet settled (consume and map). */
  pendingRequests: number;
  /** Deliveries awaiting a worker's reply. */
  pendingDeliveries: number;
  /** Requests waiting for a starting worker. */
  parkedRequests: number;
  /** Dedupe keys remembered: running, or settled and not yet forgotten (see `dedupeTtlMs`, `maxDedupeKeys`). */
  dedupeKeys: number;
  /** Settled dedupe keys forgotten so far, by age or by count; their next caller runs the job again. */
  dedupeEvicted: number;
  /** Dedupe callers waiting for a running job. */
  dedupeWaiters: number;
  /** Broadcasts that found no handler anywhere. */
  unhandledBroadcasts: number;
  /** Envelopes dropped as malformed. */
  malformed: number;
  /** Replies for unknown, finished or foreign deliveries, ignored. */
  staleReplies: number;
  /** Consumes handed to a second worker after the first one exited. */
  redelivered: number;
  /** Broadcasts not delivered to a worker that handles their event under another version of the contract. */
  contractMismatches: number;
  /** Peers by state, by host and worker id (`id` is the worker id on its host). */
  peers: { id: number; host: string; state: PeerState; handlers: string[]; owed: number }[];
}

/** The router of one bus (in the master). It holds every routing rule; its transport moves frames. */
export class Router {
  private readonly members: Membership<Delivery>;
  /** The host and worker of a peer on another host (see `RouterTransport.remote`). */
  private readonly remoteOf: ((peer: number) => PeerId | undefined) | undefined;
  private readonly acks: Acks;
  private readonly requests = new Map<number, Request>();
  private readonly deliveries = new Map<number, Delivery>();
  private readonly dedupe: DedupeTable<DedupeEntry, DedupeOutcome>;
  private readonly roundRobin = new Map<string, number>();
  private nextKey = 1;
  private nextDelivery = 1;
  private unhandledBroadcasts = 0;
  private malformed = 0;
  private staleReplies = 0;
  private redelivered = 0;
  private contractMismatches = 0;
  private readonly mismatchLogged = new Set<string>();
  private closed = false;
  /** Why new requests are refused (the cluster is shutting down), if they are. */
  private refusing: string | undefined;

  private readonly deadlines = new Deadlines<number>((key) => {
    const req = this.requests.get(key);
    if (!req) return;
    req.timed = false;
    if (req.op === 'm') this.timeoutMap(req);
    else {
      const peer = req.delivery?.peer;
      const err =
        peer === undefined
          ? new TimeoutError(req.ev, req.ms)
          : new TimeoutError(req.ev, req.ms, this.workerOf(peer), this.hostOf(peer));
      this.failConsume(req, err);
    }
  });

  /** Binds to `transport` at once: from then on it reports peers and frames to this router. */
  constructor(
    private readonly options: ResolvedBusOptions,
    private readonly transport: RouterTransport,
    private readonly log: Logger = options.logger,
  ) {
    this.dedupe = new DedupeTable(options.dedupeTtlMs, options.maxDedupeKeys);
    this.remoteOf = transport.remote?.bind(transport);
    const named =
      this.remoteOf && ((key: number): PeerId => this.remoteOf?.(key) ?? { host: localHost(), worker: key });
    this.members = new Membership(log, named && ((a, b) => comparePeers(named(a), named(b))));
    this.acks = new Acks((peer, frame) => transport.send(peer, frame));
    transport.bind({
      onPeerStarting: (peer) => this.peerStarting(peer),
      onMessage: (peer, message) => this.receive(peer, message),
      onPeerGone: (peer, reason) => this.peerGone(peer, reason),
    });
  }

  private send(peer: number, frame: DownFrame): void {
    this.transport.send(peer, frame);
  }

  /** A peer's worker id on its host (its key, for a peer of this host). */
  private workerOf(peer: number): number {
    return this.remoteOf?.(peer)?.worker ?? peer;
  }

  /** A peer's host, when it is not this one. */
  private hostOf(peer: number): string | undefined {
    return this.remoteOf?.(peer)?.host;
  }

  /** A map target's outcome, naming the peer by worker id and, on another host, by host. */
  private outcome(peer: number, ok: boolean, x: string | WireError): WireOutcome {
    const remote = this.remoteOf?.(peer);
    const worker = remote ? remote.worker : peer;
    if (remote) return (ok ? [worker, true, x, remote.host] : [worker, false, x, remote.host]) as WireOutcome;
    return (ok ? [worker, true, x] : [worker, false, x]) as WireOutcome;
  }

  /** The limit of a frame that crosses to `peer`, if the transport has one and the frame crosses. */
  private crossLimit(peer: number): number | undefined {
    const limit = this.transport.maxFrameBytes;
    if (limit === undefined || limit >= this.options.maxPayloadBytes) return undefined;
    return this.remoteOf === undefined || this.remoteOf(peer) !== undefined ? limit : undefined;
  }

  /** The error of a request that cannot reach `peer` now, if it cannot (see `RouterTransport.unreachable`). */
  private cannotReach(ev: string, peer: number): WireError | undefined {
    const why = this.transport.unreachable?.(peer);
    if (why === undefined) return undefined;
    const worker = this.workerOf(peer);
    const err = new NotConnectedError(ev, why, { worker, host: this.hostOf(peer) ?? localHost() });
    return errorToWire(err, ev, worker);
  }

  private tooLargeToCross(ev: string, size: number, limit: number, from: number): WireError {
    const err = new PayloadTooLargeError(ev, 'payload', size, limit, from, undefined, this.transport.maxFrameName);
    return errorToWire(err, ev, from);
  }

  /** A peer exists but has not joined yet: requests with no handler wait for it a while. */
  private peerStarting(id: number): void {
    this.members.starting(id, this.options.startWaitMs, () => this.retryParked());
  }

  /**
   * A peer said it drains (a `drain` frame): it gets no new work; once it owes no reply it
   * is told so (`drained`), and may leave.
   */
  private drain(id: number): void {
    const peer = this.members.drain(id);
    if (peer) this.tellIfDrained(peer);
  }

  private tellIfDrained(peer: Peer): void {
    if (!peer.drainAsked || peer.owed.size > 0) return;
    peer.drainAsked = false;
    this.send(peer.id, { cb: PROTOCOL_VERSION, t: 'drained' });
  }

  /** A peer exited, lost its link or said `bye`: everything it owed fails or is redelivered at once. */
  private peerGone(id: number, reason: string): void {
    const peer = this.members.leave(id);
    if (!peer) return;
    for (const delivery of [...peer.owed]) {
      this.deliveries.delete(delivery.id);
      const req = delivery.request;
      const worker = this.workerOf(id);
      const err = new WorkerExitedError(req.ev, worker, reason, this.hostOf(id));
      if (req.op === 'm') {
        this.settleSlot(req, delivery.slot, this.outcome(id, false, errorToWire(err, req.ev, worker)));
        this.maybeFinishMap(req);
      } else {
        req.delivery = undefined;
        req.lastFailure = err;
        if (req.redeliveries > 0) {
          req.redeliveries--;
          this.redelivered++;
          this.log.warn('redelivering consume after worker exit', { event: req.ev, worker: id });
          this.routeConsume(req);
        } else {
          this.failConsume(req, err);
        }
      }
    }
    // Requests the dead peer made have nobody to answer: drop them and their deliveries.
    for (const req of [...this.requests.values()]) {
      if (req.caller === id) this.abandon(req);
    }
    for (const entry of this.dedupe.jobs()) {
      entry.waiters = entry.waiters.filter((w) => {
        if (w.peer !== id) return true;
        clearTimeout(w.timer);
        return false;
      });
    }
    this.retryParked();
  }

  /** An envelope arrived from a peer. Never throws, whatever `message` is. */
  private receive(from: number, message: unknown): void {
    if (this.closed || this.members.hasLeft(from)) return;
    const frame = parseUpFrame(message);
    if (!frame) {
      this.malformed++;
      return;
    }
    try {
      switch (frame.t) {
        case 'hello':
          this.join(from, frame.ev, frame.fps);
          break;
        case 'handlers':
          this.updateHandlers(from, frame.ev, frame.fps);
          break;
        case 'req':
          this.request(from, frame);
          break;
        case 'res':
          this.reply(from, frame);
          break;
        case 'drain':
          this.drain(from);
          break;
        case 'bye':
          this.peerGone(from, 'left the bus');
          break;
      }
    } catch (err) {
      // A bug here must not take the master down with it; say so loudly instead.
      this.log.error('broker failed to handle an envelope', { from, type: frame.t, error: String(err) });
    }
  }

  /** Counters and table sizes. */
  stats(): BrokerStats {
    let parked = 0;
    for (const r of this.requests.values()) if (r.parked) parked++;
    let waiters = 0;
    for (const d of this.dedupe.jobs()) waiters += d.waiters.length;
    return {
      pendingRequests: this.requests.size,
      pendingDeliveries: this.deliveries.size,
      parkedRequests: parked,
      dedupeKeys: this.dedupe.size,
      dedupeEvicted: this.dedupe.evicted,
      dedupeWaiters: waiters,
      unhandledBroadcasts: this.unhandledBroadcasts,
      malformed: this.malformed,
      staleReplies: this.staleReplies,
      redelivered: this.redelivered,
      contractMismatches: this.contractMismatches,
      peers: this.members.list().map((p) => ({
        id: this.workerOf(p.id),
        host: this.hostOf(p.id) ?? localHost(),
        state: p.state,
        handlers: [...p.handlers].sort(),
        owed: p.owed.size,
      })),
    };
  }

  /**
   * Refuses every new request from now on with a `ClosedError` saying `reason`; requests
   * already routed still settle, and a request left with nobody to run it fails the same way.
   */
  refuseRequests(reason: string): void {
    this.refusing = reason;
    this.retryParked();
  }

  /** Why nobody can run a request of `ev`. */
  private nobodyFor(ev: string): BusError {
    return this.refusing === undefined ? new NoHandlerError(ev) : new ClosedError(ev, this.refusing);
  }

  /** Fails everything still pending with `err` and stops routing. */
  close(): void {
    this.closed = true;
    for (const req of [...this.requests.values()]) {
      if (req.caller !== undefined)
        this.sendDone(req.caller, req.callerId, errorToWire(new ClosedError(req.ev), req.ev, 0));
      this.abandon(req);
    }
    this.members.close();
    for (const entry of this.dedupe.jobs()) for (const w of entry.waiters) clearTimeout(w.timer);
    this.dedupe.clear();
  }

  // ---- membership -------------------------------------------------------------------

  private join(id: number, events: string[], fingerprints?: string[]): void {
    for (const call of this.members.join(id, events, fingerprints)) this.send(id, call);
    this.retryParked();
  }

  private updateHandlers(id: number, events: string[], fingerprints?: string[]): void {
    if (!this.members.setHandlers(id, events, fingerprints)) return this.join(id, events, fingerprints);
    this.retryParked();
  }

  /**
   * Whether `peer` handles `ev` under another version of the contract than the caller's `fp`:
   * then it must not get the request. A peer or a caller without fingerprints takes anything.
   */
  private mismatched(ev: string, fp: string | undefined, peer: number): string | undefined {
    if (fp === undefined) return undefined;
    const theirs = this.members.get(peer)?.fingerprints?.get(ev);
    return theirs === undefined || theirs === fp ? undefined : theirs;
  }

  /** Whether every target of `ev` runs the caller's version `fp` (the common case, answered from a cache). */
  private allAgree(ev: string, fp: string | undefined): boolean {
    if (fp === undefined) return true;
    const agreed = this.members.agreed(ev);
    return agreed === undefined || agreed === fp;
  }

  private mismatchError(ev: string, expected: string, actual: string, peer: number): WireError {
    const worker = this.workerOf(peer);
    return errorToWire(new ContractMismatchError(ev, worker, expected, actual, this.hostOf(peer)), ev, worker);
  }

  /** A broadcast skipped a worker on another version of its event: counted, and logged once per worker and version. */
  private skippedBroadcast(ev: string, fp: string, actual: string, peer: number, count: number): void {
    this.contractMismatches += count;
    const key = `${ev}\u0000${peer}\u0000${actual}`;
    if (this.mismatchLogged.has(key)) return;
    if (this.mismatchLogged.size > 1000) this.mismatchLogged.clear();
    this.mismatchLogged.add(key);
    this.log.warn('a broadcast skipped a worker on another version of the contract', {
      event: ev,
      worker: this.workerOf(peer),
      host: this.hostOf(peer) ?? localHost(),
      fingerprint: actual,
      callerFingerprint: fp,
    });
  }

  // ---- requests -----------------------------------------------------------------------

  private request(from: number, f: RequestFrame): void {
    if (this.refusing !== undefined) {
      return this.sendDone(from, f.id, errorToWire(new ClosedError(f.ev, this.refusing), f.ev, 0));
    }
    if (!this.members.has(from)) this.peerStarting(from);
    const limit = Math.min(f.mp ?? this.options.maxPayloadBytes, this.options.maxPayloadBytes);
    // A run with one payload over the limit is refused as a whole: the sender checked every
    // payload against the same limit, so only a sender that skipped the check gets here.
    const size = f.ps === undefined ? exceeds(f.p, limit) : firstOversized(f.ps, limit);
    if (size !== undefined) {
      const err = new PayloadTooLargeError(f.ev, 'payload', size, limit, from);
      return this.sendDone(from, f.id, errorToWire(err, f.ev, from));
    }
    switch (f.op) {
      case 'b':
        return this.broadcast(from, f);
      case 'c':
        return this.consume(from, f);
      case 'm':
        return this.map(from, f);
    }
  }

  private broadcast(from: number, f: RequestFrame): void {
    const call: CallFrame = { cb: PROTOCOL_VERSION, t: 'call', id: 0, ev: f.ev, op: 'b', p: f.p, from };
    if (f.ps !== undefined) call.ps = f.ps;
    const count = f.ps?.length ?? 1;
    let targets = this.members.routable(f.ev);
    if (!this.allAgree(f.ev, f.fp)) {
      const fp = f.fp as string;
      targets = targets.filter((id) => {
        const theirs = this.mismatched(f.ev, fp, id);
        if (theirs !== undefined) this.skippedBroadcast(f.ev, fp, theirs, id, count);
        return theirs === undefined;
      });
    }
    // All or nothing: a run too large to reach one target, or sent to one that cannot take
    // it now, reaches none.
    for (const id of targets) {
      const unreachable = this.cannotReach(f.ev, id);
      if (unreachable) return this.sendDone(from, f.id, unreachable);
      const limit = this.crossLimit(id);
      if (limit === undefined) continue;
      const size = f.ps === undefined ? exceeds(f.p, limit) : firstOversized(f.ps, limit);
      if (size !== undefined) return this.sendDone(from, f.id, this.tooLargeToCross(f.ev, size, limit, from));
    }
    for (const id of targets) {
      // A sender that kept its own copies gets its delivery without the payloads, at the
      // same place in its stream, so it still runs them in the order the master routed.
      if (id === from && f.own)
        this.send(id, { cb: PROTOCOL_VERSION, t: 'call', id: 0, ev: f.ev, op: 'b', p: '', from, own: f.id });
      else this.send(id, call);
    }
    const reached = targets.length + this.members.holdForStarting(call, count, f.fp);
    if (reached === 0) this.unhandledBroadcasts += count;
    // Accepted once every channel it went to can take more: a sender outrunning a slow
    // worker waits here instead of the master buffering without bound.
    let blocked: number[] | undefined;
    for (const id of targets) if (this.transport.congested(id)) (blocked ??= []).push(id);
    if (!blocked) return this.sendDone(from, f.id);
    let waiting = blocked.length;
    const accepted = (): void => {
      if (--waiting === 0) this.sendDone(from, f.id);
    };
    for (const id of blocked) this.transport.whenWritable(id, accepted);
  }

  private consume(from: number, f: RequestFrame): void {
    const ms = f.ms ?? this.options.timeoutMs;
    if (f.dk === undefined) {
      this.startConsume(from, f.id, f.ev, f.p, f.own === true, ms, f.rd ?? true, undefined, f.fp);
      return;
    }
    const dkey = `${f.ev}\u0000${f.dk}`;
    const outcome = this.dedupe.outcome(dkey);
    if (outcome) return this.sendDone(from, f.id, outcome.ok ? undefined : outcome.e);
    let entry = this.dedupe.job(dkey);
    const waiter: DedupeWaiter = {
      peer: from,
      id: f.id,
      timer: setTimeout(() => {
        if (!entry) return;
        entry.waiters = entry.waiters.filter((w) => w !== waiter);
        this.sendDone(from, f.id, errorToWire(new TimeoutError(f.ev, ms), f.ev, 0));
      }, timerDelay(ms)),
    };
    if (entry) {
      entry.waiters.push(waiter);
      return;
    }
    entry = { key: dkey, waiters: [waiter], shared: false };
    this.dedupe.start(dkey, entry);
    const shared = this.transport.sharedDedupe;
    if (!shared) return this.startConsume(undefined, 0, f.ev, f.p, false, ms, f.rd ?? true, entry, f.fp);
    const job = entry;
    shared.claim(dkey, f.ev, ms).then(
      (claim) => {
        if (this.closed || this.dedupe.job(dkey) !== job) return;
        if (!claim.run) return this.settleDedupe(job, claim.ok ? { ok: true } : { ok: false, e: claim.e });
        job.shared = true;
        this.startConsume(undefined, 0, f.ev, f.p, false, ms, f.rd ?? true, job, f.fp);
      },
      (err: unknown) => {
        if (this.closed || this.dedupe.job(dkey) !== job) return;
        // Not an outcome of the job: its next caller asks again.
        this.dedupe.abandon(dkey);
        const e = errorToWire(err, f.ev, 0);
        for (const w of job.waiters) {
          clearTimeout(w.timer);
          this.sendDone(w.peer, w.id, e);
        }
        job.waiters = [];
      },
    );
  }

  private startConsume(
    caller: number | undefined,
    callerId: number,
    ev: string,
    p: string,
    own: boolean,
    ms: number,
    redeliver: boolean,
    dedupe: DedupeEntry | undefined,
    fp: string | undefined,
  ): void {
    const req: ConsumeRequest = {
      key: this.nextKey++,
      caller,
      callerId,
      ev,
      p,
      own,
      fp,
      ms,
      timed: false,
      parked: false,
      op: 'c',
      tried: new Set(),
      redeliveries: redeliver ? 1 : 0,
      delivery: undefined,
      dedupe,
      lastFailure: undefined,
    };
    this.requests.set(req.key, req);
    this.deadlines.schedule(req.key, ms);
    req.timed = true;
    this.routeConsume(req);
  }

  private routeConsume(req: ConsumeRequest): void {
    let candidates = this.members.routable(req.ev, req.tried);
    const agree = this.allAgree(req.ev, req.fp);
    // On one host with one contract version every candidate can take it: no copy of the list.
    const mayExclude = !agree || this.transport.unreachable !== undefined || this.transport.maxFrameBytes !== undefined;
    const reachable = !mayExclude
      ? candidates
      : candidates.filter(
          (id) =>
            this.fits(req, id) &&
            this.transport.unreachable?.(id) === undefined &&
            (agree || this.mismatched(req.ev, req.fp, id) === undefined),
        );
    if (reachable.length < candidates.length) {
      if (reachable.length === 0) {
        const id = candidates[0] as number;
        const theirs = this.mismatched(req.ev, req.fp, id);
        if (theirs !== undefined)
          return this.failConsumeWire(req, this.mismatchError(req.ev, req.fp as string, theirs, id));
        const unreachable = this.cannotReach(req.ev, id);
        if (unreachable) return this.failConsumeWire(req, unreachable);
        const limit = this.crossLimit(id) as number;
        return this.failConsumeWire(
          req,
          this.tooLargeToCross(req.ev, exceeds(req.p, limit) ?? 0, limit, req.caller ?? 0),
        );
      }
      candidates = reachable;
    }
    if (candidates.length === 0) {
      if (this.refusing === undefined && this.members.someoneStarting()) {
        req.parked = true;
        return;
      }
      return this.failConsume(req, req.lastFailure ?? this.nobodyFor(req.ev));
    }
    req.parked = false;
    const turn = this.roundRobin.get(req.ev) ?? 0;
    this.roundRobin.set(req.ev, turn + 1);
    const peer = candidates[turn % candidates.length] as number;
    req.tried.add(peer);
    req.delivery = this.deliver(req, peer);
  }

  /** Whether the request's payload fits the frames that reach `peer`. */
  private fits(req: Request, peer: number): boolean {
    const limit = this.crossLimit(peer);
    return limit === undefined || exceeds(req.p, limit) === undefined;
  }

  private map(from: number, f: RequestFrame): void {
    const req: MapRequest = {
      key: this.nextKey++,
      caller: from,
      callerId: f.id,
      ev: f.ev,
      p: f.p,
      own: f.own === true,
      fp: f.fp,
      ms: f.ms ?? this.options.timeoutMs,
      timed: false,
      parked: false,
      op: 'm',
      mr: f.mr ?? this.options.maxResultBytes,
      deliveries: [],
      outcomes: [],
      left: 0,
    };
    this.requests.set(req.key, req);
    this.deadlines.schedule(req.key, req.ms);
    req.timed = true;
    this.routeMap(req);
  }

  private routeMap(req: MapRequest): void {
    const targets = this.members.routable(req.ev);
    if (targets.length === 0) {
      if (this.refusing === undefined && this.members.someoneStarting()) {
        req.parked = true;
        return;
      }
      if (this.refusing !== undefined) {
        this.finish(req);
        const err = new ClosedError(req.ev, this.refusing);
        if (req.caller !== undefined) this.sendDone(req.caller, req.callerId, errorToWire(err, req.ev, 0));
        return;
      }
      // Nobody handles it: map rejects with NoHandlerError, mapSettled resolves to [].
      this.finish(req);
      if (req.caller !== undefined)
        this.send(req.caller, { cb: PROTOCOL_VERSION, t: 'mapped', id: req.callerId, r: [] });
      return;
    }
    req.parked = false;
    req.left = targets.length;
    const agree = this.allAgree(req.ev, req.fp);
    for (let slot = 0; slot < targets.length; slot++) {
      const id = targets[slot] as number;
      req.outcomes.push(undefined);
      const theirs = agree ? undefined : this.mismatched(req.ev, req.fp, id);
      if (theirs !== undefined) {
        // Another version of the event: never handed a payload it might misread.
        req.deliveries.push(undefined);
        this.settleSlot(req, slot, this.outcome(id, false, this.mismatchError(req.ev, req.fp as string, theirs, id)));
        continue;
      }
      const unreachable = this.cannotReach(req.ev, id);
      if (unreachable) {
        req.deliveries.push(undefined);
        this.settleSlot(req, slot, this.outcome(id, false, unreachable));
        continue;
      }
      if (this.fits(req, id)) {
        req.deliveries.push(this.deliver(req, id, slot));
        continue;
      }
      // Too large for the link to that peer: its slot fails, the others run.
      const limit = this.crossLimit(id) as number;
      req.deliveries.push(undefined);
      this.settleSlot(
        req,
        slot,
        this.outcome(id, false, this.tooLargeToCross(req.ev, exceeds(req.p, limit) ?? 0, limit, req.caller ?? 0)),
      );
    }
    this.maybeFinishMap(req);
  }

  private deliver(req: Request, peer: number, slot = 0): Delivery {
    const delivery: Delivery = { id: this.nextDelivery++, peer, request: req, slot };
    this.deliveries.set(delivery.id, delivery);
    this.members.get(peer)?.owed.add(delivery);
    const call: CallFrame = {
      cb: PROTOCOL_VERSION,
      t: 'call',
      id: delivery.id,
      ev: req.ev,
      op: req.op,
      p: req.p,
      from: req.caller ?? 0,
    };
    if (req.op === 'm') call.mr = req.mr;
    // A caller that kept a copy of its payload runs it from that copy when the call reaches it.
    if (req.own && peer === req.caller) {
      call.p = '';
      call.own = req.callerId;
    }
    this.send(peer, call);
    return delivery;
  }

  private retryParked(): void {
    for (const req of [...this.requests.values()]) {
      if (!req.parked) continue;
      if (req.op === 'c') this.routeConsume(req);
      else this.routeMap(req);
    }
  }

  // ---- replies ------------------------------------------------------------------------

  private reply(from: number, f: ReplyFrame): void {
    const delivery = this.deliveries.get(f.id);
    if (!delivery || delivery.peer !== from) {
      this.staleReplies++;
      return;
    }
    this.undeliver(delivery);
    const req = delivery.request;
    if (req.op === 'm') {
      if (f.ok) {
        const size = exceeds(f.p as string, req.mr);
        if (size === undefined) this.settleSlot(req, delivery.slot, this.outcome(from, true, f.p as string));
        else {
          const worker = this.workerOf(from);
          const err = new PayloadTooLargeError(req.ev, 'result', size, req.mr, worker, this.hostOf(from));
          this.settleSlot(req, delivery.slot, this.outcome(from, false, errorToWire(err, req.ev, worker)));
        }
      } else {
        this.settleSlot(req, delivery.slot, this.outcome(from, false, f.e as WireError));
      }
      this.maybeFinishMap(req);
      return;
    }
    req.delivery = undefined;
    if (f.ok) return this.succeedConsume(req);
    const e = f.e as WireError;
    if (e.c === ErrorCodes.NO_HANDLER) {
      // The handler went away between routing and delivery: try someone else.
      return this.routeConsume(req);
    }
    this.failConsumeWire(req, e);
  }

  private undeliver(delivery: Delivery): void {
    this.deliveries.delete(delivery.id);
    const peer = this.members.get(delivery.peer);
    if (!peer) return;
    peer.owed.delete(delivery);
    this.tellIfDrained(peer);
  }

  // ---- settling -----------------------------------------------------------------------

  private finish(req: Request): void {
    if (req.timed) this.deadlines.cancel(req.key, req.ms);
    req.timed = false;
    req.parked = false;
    this.requests.delete(req.key);
  }

  /** Forgets a request nobody waits for any more, with its outstanding deliveries. */
  private abandon(req: Request): void {
    this.finish(req);
    if (req.op === 'm') {
      for (const d of req.deliveries) if (d) this.undeliver(d);
      req.deliveries = [];
      req.left = 0;
    } else if (req.delivery) {
      this.undeliver(req.delivery);
      req.delivery = undefined;
    }
  }

  private succeedConsume(req: ConsumeRequest): void {
    this.finish(req);
    if (req.dedupe) return this.settleDedupe(req.dedupe, { ok: true });
    if (req.caller !== undefined) this.sendDone(req.caller, req.callerId);
  }

  private failConsume(req: ConsumeRequest, err: BusError): void {
    this.failConsumeWire(req, errorToWire(err, req.ev, err.worker ?? 0));
  }

  private failConsumeWire(req: ConsumeRequest, e: WireError): void {
    if (!this.requests.has(req.key)) return;
    if (req.delivery) this.undeliver(req.delivery);
    req.delivery = undefined;
    this.finish(req);
    if (req.dedupe) return this.settleDedupe(req.dedupe, { ok: false, e });
    if (req.caller !== undefined) this.sendDone(req.caller, req.callerId, e);
  }

  private settleDedupe(entry: DedupeEntry, outcome: DedupeOutcome): void {
    if (entry.shared) this.transport.sharedDedupe?.settle(entry.key, outcome);
    this.dedupe.settle(entry.key, outcome);
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      this.sendDone(w.peer, w.id, outcome.ok ? undefined : outcome.e);
    }
  }

  private timeoutMap(req: MapRequest): void {
    if (req.parked) {
      this.finish(req);
      const err = new TimeoutError(req.ev, req.ms);
      if (req.caller !== undefined) this.sendDone(req.caller, req.callerId, errorToWire(err, req.ev, 0));
      return;
    }
    for (const delivery of req.deliveries) {
      if (!delivery) continue;
      this.undeliver(delivery);
      const peer = delivery.peer;
      const worker = this.workerOf(peer);
      const err = errorToWire(new TimeoutError(req.ev, req.ms, worker, this.hostOf(peer)), req.ev, worker);
      this.settleSlot(req, delivery.slot, this.outcome(peer, false, err));
    }
    this.maybeFinishMap(req);
  }

  /** Records a target's outcome; its delivery is no longer awaited. */
  private settleSlot(req: MapRequest, slot: number, outcome: WireOutcome): void {
    if (req.outcomes[slot] !== undefined) return;
    req.outcomes[slot] = outcome;
    req.deliveries[slot] = undefined;
    req.left--;
  }

  private maybeFinishMap(req: MapRequest): void {
    if (req.left > 0 || !this.requests.has(req.key)) return;
    this.finish(req);
    // Targets were routed in (host, worker id) order, so the outcomes already are.
    const r = req.outcomes as WireOutcome[];
    if (req.caller !== undefined) this.send(req.caller, { cb: PROTOCOL_VERSION, t: 'mapped', id: req.callerId, r });
  }

  private sendDone(peer: number, id: number, e?: WireError): void {
    this.acks.done(peer, id, e);
  }
}

/** The size of the first of `payloads` over `limit`, if any. */
function firstOversized(payloads: readonly string[], limit: number): number | undefined {
  for (const p of payloads) {
    const size = exceeds(p, limit);
    if (size !== undefined) return size;
  }
  return undefined;
}
