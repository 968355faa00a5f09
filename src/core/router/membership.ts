/**
 * Who is on the bus, as the router sees it: each peer's state (starting, ready, draining),
 * the events it handles, what it owes, and the broadcasts held for it while it starts. Only
 * `ready` peers get new work; `routable` answers "who handles this event", cached until the
 * membership changes.
 */
import type { Logger } from '../../logger.js';
import { timerDelay } from '../deadlines.js';
import type { CallFrame } from '../protocol/frames.js';

/** Where a peer stands. Only `ready` peers get new work. */
export type PeerState = 'starting' | 'ready' | 'draining';

/** A peer of the router; `D` is what it owes a reply for (the router's deliveries). */
export interface Peer<D> {
  readonly id: number;
  state: PeerState;
  handlers: Set<string>;
  /** The fingerprint of each event it handles, where its contract gave one. */
  fingerprints: Map<string, string> | undefined;
  /** Deliveries this peer owes a reply for. */
  readonly owed: Set<D>;
  /** It asked to drain and was not told `drained` yet. */
  drainAsked: boolean;
  /** Still counted as "about to join" by requests that found no handler. */
  expectedSoon: boolean;
  startTimer: NodeJS.Timeout | undefined;
  /** Broadcasts sent while it was starting, delivered when it joins, with their sender's fingerprint of the event. */
  queued: { call: CallFrame; fp: string | undefined }[];
  /** Broadcasts in `queued` (a run counts each of its payloads). */
  queuedCount: number;
}

/** Most broadcasts held for one starting worker; older ones are dropped (and logged). */
const MAX_QUEUED_PER_PEER = 10_000;

export class Membership<D> {
  private readonly peers = new Map<number, Peer<D>>();
  /** Peers that left: a late envelope from one must not bring it back. */
  private readonly departed = new Set<number>();
  /** Ready peers with a handler, per event, sorted; dropped whenever membership changes. */
  private readonly routes = new Map<string, number[]>();
  /** Per event, the fingerprint its ready handlers share (see `agreed`); dropped with `routes`. */
  private readonly agreements = new Map<string, string | null | undefined>();

  /**
   * @param order how routes and `list()` order peers; default: by key, which on one host is
   *   the worker id.
   */
  constructor(
    private readonly log: Logger,
    private readonly order: (a: number, b: number) => number = (a, b) => a - b,
  ) {}

  get(id: number): Peer<D> | undefined {
    return this.peers.get(id);
  }

  has(id: number): boolean {
    return this.peers.has(id);
  }

  hasLeft(id: number): boolean {
    return this.departed.has(id);
  }

  /** Every peer, in route order. */
  list(): Peer<D>[] {
    return [...this.peers.values()].sort((a, b) => this.order(a.id, b.id));
  }

  /**
   * A peer exists but has not joined yet; requests that find no handler wait for it until it
   * joins or `waitMs` passes (`expired` runs then). Returns it, or `undefined` if it is known
   * or has left.
   */
  starting(id: number, waitMs: number, expired: () => void): Peer<D> | undefined {
    if (this.peers.has(id) || this.departed.has(id)) return undefined;
    const peer = this.add(id, 'starting');
    peer.startTimer = setTimeout(() => {
      peer.expectedSoon = false;
      peer.startTimer = undefined;
      expired();
    }, timerDelay(waitMs));
    peer.startTimer.unref();
    return peer;
  }

  /** The peer joined with `events`; returns the broadcasts held for it that it handles. */
  join(id: number, events: string[], fingerprints?: string[]): CallFrame[] {
    const peer = this.peers.get(id) ?? this.add(id, 'starting');
    peer.handlers = new Set(events);
    peer.fingerprints = fingerprintMap(events, fingerprints);
    this.agreements.clear();
    if (peer.state === 'starting') peer.state = 'ready';
    this.routes.clear();
    peer.expectedSoon = false;
    clearStartTimer(peer);
    const queued = peer.queued;
    peer.queued = [];
    peer.queuedCount = 0;
    // What it handles, under the sender's version of the event (or one without fingerprints).
    return queued
      .filter(({ call, fp }) => {
        if (!peer.handlers.has(call.ev)) return false;
        const theirs = peer.fingerprints?.get(call.ev);
        return fp === undefined || theirs === undefined || theirs === fp;
      })
      .map((q) => q.call);
  }

  /** Its events changed; false if the peer is unknown (then it joins). */
  setHandlers(id: number, events: string[], fingerprints?: string[]): boolean {
    const peer = this.peers.get(id);
    if (!peer) return false;
    peer.handlers = new Set(events);
    peer.fingerprints = fingerprintMap(events, fingerprints);
    this.routes.clear();
    this.agreements.clear();
    return true;
  }

  /**
   * The fingerprint every ready handler of `ev` declares: `undefined` when none declares one
   * (old builds, hand-written tables), `null` when they differ or only some declare one.
   */
  agreed(ev: string): string | null | undefined {
    if (this.agreements.has(ev)) return this.agreements.get(ev);
    let agreed: string | null | undefined;
    let first = true;
    for (const id of this.routable(ev)) {
      const fp = this.peers.get(id)?.fingerprints?.get(ev);
      if (first) agreed = fp;
      else if (fp !== agreed) agreed = null;
      first = false;
    }
    this.agreements.set(ev, agreed);
    return agreed;
  }

  /** It drains: no new work from now on. */
  drain(id: number): Peer<D> | undefined {
    const peer = this.peers.get(id);
    if (!peer) return undefined;
    peer.state = 'draining';
    peer.drainAsked = true;
    peer.expectedSoon = false;
    this.routes.clear();
    this.agreements.clear();
    clearStartTimer(peer);
    return peer;
  }

  /** It left for good; returns what it was, if it was known. */
  leave(id: number): Peer<D> | undefined {
    const peer = this.peers.get(id);
    this.departed.add(id);
    if (!peer) return undefined;
    this.peers.delete(id);
    this.routes.clear();
    this.agreements.clear();
    clearStartTimer(peer);
    return peer;
  }

  /** Ready peers that handle `ev`, in route order, less `exclude`. */
  routable(ev: string, exclude?: Set<number>): number[] {
    let ids = this.routes.get(ev);
    if (!ids) {
      ids = [];
      for (const p of this.peers.values()) if (p.state === 'ready' && p.handlers.has(ev)) ids.push(p.id);
      ids.sort(this.order);
      this.routes.set(ev, ids);
    }
    return exclude && exclude.size > 0 ? ids.filter((id) => !exclude.has(id)) : ids;
  }

  /** Whether a peer that has not joined yet is still expected to. */
  someoneStarting(): boolean {
    for (const p of this.peers.values()) if (p.state === 'starting' && p.expectedSoon) return true;
    return false;
  }

  /**
   * Holds a broadcast for every peer still starting, to deliver when it joins, at most
   * `MAX_QUEUED_PER_PEER` each (the oldest dropped, logged). Returns how many peers hold it.
   */
  holdForStarting(call: CallFrame, count: number, fp?: string): number {
    let held = 0;
    for (const peer of this.peers.values()) {
      if (peer.state !== 'starting' || !peer.expectedSoon) continue;
      peer.queued.push({ call, fp });
      peer.queuedCount += count;
      while (peer.queuedCount > MAX_QUEUED_PER_PEER) {
        const dropped = (peer.queued.shift() as { call: CallFrame }).call;
        const n = dropped.ps?.length ?? 1;
        peer.queuedCount -= n;
        this.log.warn(
          n === 1
            ? 'dropped a broadcast queued for a starting worker'
            : `dropped ${n} broadcasts queued for a starting worker`,
          { event: dropped.ev, worker: peer.id },
        );
      }
      held++;
    }
    return held;
  }

  /** Stops every timer. */
  close(): void {
    for (const peer of this.peers.values()) clearStartTimer(peer);
  }

  private add(id: number, state: PeerState): Peer<D> {
    const peer: Peer<D> = {
      id,
      state,
      handlers: new Set(),
      fingerprints: undefined,
      owed: new Set(),
      drainAsked: false,
      expectedSoon: state === 'starting',
      startTimer: undefined,
      queued: [],
      queuedCount: 0,
    };
    this.peers.set(id, peer);
    this.routes.clear();
    return peer;
  }
}

/** Events to fingerprints, leaving out events without one (`''`). */
function fingerprintMap(
  events: readonly string[],
  fingerprints: readonly string[] | undefined,
): Map<string, string> | undefined {
  if (fingerprints === undefined) return undefined;
  const map = new Map<string, string>();
  events.forEach((ev, i) => {
    const fp = fingerprints[i];
    if (fp) map.set(ev, fp);
  });
  return map.size === 0 ? undefined : map;
}

function clearStartTimer(peer: Peer<unknown>): void {
  if (peer.startTimer) clearTimeout(peer.startTimer);
  peer.startTimer = undefined;
}
