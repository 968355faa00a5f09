/**
 * The bus inside one process: a router transport whose peers are links in memory. Shipped for
 * tests of code that uses the messenger (no cluster, no child process), and the reference
 * transport of the seam's rules (`core/transport.ts`): every frame is copied as a real
 * transport would serialise it, and delivered on a later turn of the event loop, in order per
 * link.
 *
 * ```ts
 * const memory = new MemoryTransport();
 * configureBus({ transport: memory });          // this process routes, and is peer 0
 * const worker = memory.addWorker();            // a simulated worker, peer 1
 * bindMessenger(messenger, worker).on('stats.memory', () => ({ pid: 1, rss: 2 }));
 * await worker.joined;
 * await messenger.map('stats.memory', { detailed: false }); // [{ pid: 1, rss: 2 }]
 * worker.fail('killed by SIGKILL');             // what it owed fails with WorkerExitedError
 * ```
 */
import { Endpoint } from '../../core/endpoint/endpoint.js';
import { resolveOptions, type BusOptions } from '../../core/options.js';
import type { DownFrame, UpFrame } from '../../core/protocol/frames.js';
import type {
  EndpointTransport,
  EndpointTransportEvents,
  PeerKey,
  RouterTransport,
  RouterTransportEvents,
} from '../../core/transport.js';

/** Frames waiting for their turn, delivered in order (rule 1) on the next turn of the loop. */
class Queue<T> {
  private items: T[] = [];
  private scheduled = false;
  constructor(private readonly deliver: (item: T) => void) {}
  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const items = this.items;
      this.items = [];
      for (const item of items) this.deliver(item);
    });
  }
  clear(): void {
    this.items = [];
  }
}

/** One peer's link to a `MemoryTransport`: the peer's side of the seam. */
export class MemoryLink implements EndpointTransport {
  private events: EndpointTransportEvents | undefined;
  private gone = false;
  /** Frames to the router, in order. */
  readonly up: Queue<UpFrame>;
  /** Frames from the router, in order. */
  readonly down: Queue<DownFrame>;

  /** Settles once this peer's handshake reached the router: from then on it is routed work. */
  readonly joined: Promise<void>;
  private markJoined!: () => void;

  constructor(
    /** This peer's key on the router. */
    readonly peer: PeerKey,
    private readonly owner: MemoryTransport,
  ) {
    this.joined = new Promise((resolve) => (this.markJoined = resolve));
    this.up = new Queue((frame) => {
      owner.fromPeer(this, frame);
      if (frame?.t === 'hello') this.markJoined();
    });
    this.down = new Queue((frame) => this.events?.onMessage(frame));
  }

  get connected(): boolean {
    return !this.gone;
  }

  send(frame: UpFrame): boolean {
    if (this.gone) return false;
    this.up.push(structuredClone(frame));
    return true;
  }

  bind(events: EndpointTransportEvents): void {
    this.events = events;
  }

  close(): void {
    this.events = undefined;
  }

  /**
   * The peer dies (rule 5): frames it sent before are delivered first, then the router hears
   * it is gone with `reason`, and its endpoint that its link is gone. Default reason: `failed`.
   */
  fail(reason = 'failed'): void {
    if (this.gone) return;
    this.gone = true;
    this.down.clear();
    this.up.push(undefined as unknown as UpFrame);
    this.owner.departing(this, reason);
    setImmediate(() => this.events?.onDisconnect());
  }
}

/** A simulated worker on a `MemoryTransport`: its link and its endpoint. */
export interface MemoryWorker {
  /** Its worker id on the bus. */
  readonly id: number;
  readonly link: MemoryLink;
  /** Its end of the bus (handlers, calls): use it through `bindMessenger(messenger, worker)`. */
  readonly endpoint: Endpoint;
  /**
   * Settles once it joined the bus (its handshake, sent on the turn after `addWorker`, reached
   * the router): register its handlers first, then await this before calling it.
   */
  readonly joined: Promise<void>;
  /** It dies: what it owed fails (or, for a consume, is redelivered) at once. */
  fail(reason?: string): void;
  /** It drains, as a worker being replaced does: no new work; settles once it owes nothing. */
  drain(): Promise<void>;
}

/** The router's side of an in-process bus. See the module comment. */
export class MemoryTransport implements RouterTransport {
  private events: RouterTransportEvents | undefined;
  private readonly links = new Map<PeerKey, MemoryLink>();
  private readonly leaving = new Map<MemoryLink, string>();
  private nextPeer = 1;
  readonly maxFrameBytes: number | undefined;

  /** @param options.maxFrameBytes a frame limit below the bus's cap, to test rule 4. Default: none. */
  constructor(options: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = options.maxFrameBytes;
  }

  /** Opens a new peer's link (peer keys from 1, or `peer`); it is reported as starting at once. */
  connect(peer: PeerKey = this.nextPeer): MemoryLink {
    if (this.links.has(peer) || peer < 1) throw new RangeError(`peer ${peer} is taken or not a worker id`);
    this.nextPeer = Math.max(this.nextPeer, peer + 1);
    const link = new MemoryLink(peer, this);
    this.links.set(peer, link);
    this.events?.onPeerStarting(peer);
    return link;
  }

  /**
   * Adds a simulated worker: a link and an endpoint with `options` (the bus options of that
   * "process"). It joins the bus on the next turn with the handlers registered by then.
   */
  addWorker(options: BusOptions = {}, peer?: PeerKey): MemoryWorker {
    const link = this.connect(peer);
    const endpoint = new Endpoint(link.peer, resolveOptions(options), link);
    endpoint.join();
    return {
      id: link.peer,
      link,
      endpoint,
      joined: link.joined,
      fail: (reason?: string) => link.fail(reason),
      drain: () => endpoint.drain(),
    };
  }

  /** Peers with an open link. */
  get peers(): PeerKey[] {
    return [...this.links.keys()];
  }

  send(peer: PeerKey, frame: DownFrame): void {
    const link = this.links.get(peer);
    if (!link || !link.connected) return;
    link.down.push(structuredClone(frame));
  }

  congested(): boolean {
    return false;
  }

  whenWritable(_peer: PeerKey, then: () => void): void {
    then();
  }

  bind(events: RouterTransportEvents): void {
    this.events = events;
    for (const peer of this.links.keys()) events.onPeerStarting(peer);
  }

  close(): void {
    this.events = undefined;
  }

  /** @internal A frame from a link's queue; `undefined` marks the departure of a failed peer. */
  fromPeer(link: MemoryLink, frame: UpFrame | undefined): void {
    if (frame !== undefined) {
      this.events?.onMessage(link.peer, frame);
      return;
    }
    const reason = this.leaving.get(link) ?? 'failed';
    this.leaving.delete(link);
    this.links.delete(link.peer);
    this.events?.onPeerGone(link.peer, reason);
  }

  /** @internal */
  departing(link: MemoryLink, reason: string): void {
    this.leaving.set(link, reason);
  }
}
