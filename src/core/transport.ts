/**
 * The transport seam. The router (`core/router/`) holds every routing rule and each endpoint
 * (`core/endpoint/`) every rule of its own process; a transport only moves frames and says
 * who joined, who left and who is congested. The default transport is Node's cluster
 * (`transports/cluster/`); `transports/memory/` runs the bus inside one process; another
 * (e.g. NATS) carries the same frames without the router or the endpoints knowing.
 *
 * Rules every transport follows. "MUST" rules are what the router and the endpoints rely on;
 * the conformance suite (`test/conformance/`) checks them on every transport.
 *
 * 1. Ordering. A transport MUST deliver the frames of one link (router → peer, or peer →
 *    router) in the order they were sent. It MAY interleave different links in any order.
 * 2. Drop on gone. A frame sent to a peer that is gone MUST be dropped without an error:
 *    `send` never throws. The peer's departure is reported through `onPeerGone` (rule 5),
 *    and the router fails or redelivers what the peer owed from that report alone.
 * 3. Peers known at bind. `bind` MUST report every peer that already exists (as
 *    `onPeerStarting`) before it returns, and every later one as it appears, before any
 *    frame from it.
 * 4. Frame size. A transport MUST carry any frame whose payloads fit the bus's
 *    `maxPayloadBytes`, or declare a smaller `maxFrameBytes`, which the router then applies to
 *    requests that cross it (`PayloadTooLargeError` naming that limit): every request, or, on a
 *    transport that names `remote` peers, the requests sent to one of those.
 * 5. Liveness. The transport is who reports a peer gone, exactly once per peer, with a
 *    reason a person can read (`exit code 1`, `killed by SIGKILL`, `host unreachable`). It
 *    MUST report a peer whose process ended within a second on one host, and SHOULD state its
 *    detection time where it cannot be that fast (across machines). Frames a peer sent before
 *    it left MUST be delivered before its departure is reported.
 * 6. Back-pressure. `congested(peer)` SHOULD turn true well before the link buffers enough to
 *    hurt the process (the cluster transport: 8 Mi characters unwritten), and `whenWritable`
 *    MUST call back once it is false again or the peer is gone, so that the router can hold a
 *    broadcast's acknowledgement instead of buffering without bound.
 * 7. Opaque frames. A transport MUST NOT read or change a frame's payloads; it MAY batch
 *    frames and MUST then hand them to the other side one by one, unvalidated (the router and
 *    the endpoints validate every frame and drop what is malformed).
 * 8. Leaving. Draining and leaving are frames of the protocol (`drain`, `drained`, `bye`), not
 *    calls into the router, so that whatever supervises a peer, on any machine, drives them by
 *    talking to the peer.
 */
import type { PeerId } from './peer-id.js';
import type { DownFrame, UpFrame, WireError } from './protocol/frames.js';

/** A peer's transport-level key: unique on this router for the router's life. */
export type PeerKey = number;

/** The router's side: one link to every peer of the bus. */
export interface RouterTransport {
  /** Sends a frame to a peer. Never throws (rule 2). */
  send(peer: PeerKey, frame: DownFrame): void;
  /** Whether the link to `peer` holds more unwritten data than it should (rule 6). */
  congested(peer: PeerKey): boolean;
  /** Runs `then` once the link to `peer` can take more, or the peer is gone (rule 6). */
  whenWritable(peer: PeerKey, then: () => void): void;
  /** Registers the router's callbacks; peers already known are reported at once (rule 3). */
  bind(events: RouterTransportEvents): void;
  /** Stops listening and flushes what is queued. */
  close(): void;
  /** Largest frame the transport carries, in bytes, if below the bus's cap (rule 4). */
  readonly maxFrameBytes?: number;
  /** What `maxFrameBytes` is, named in `PayloadTooLargeError` (e.g. "the NATS server's max_payload"). */
  readonly maxFrameName?: string;
  /**
   * The host and worker of a peer on another host, or `undefined` for a peer on this one, whose
   * key is then its worker id. A transport without it has only peers of this host.
   */
  remote?(peer: PeerKey): PeerId | undefined;
  /**
   * Why `peer` cannot take new work now, if it cannot (its host unreachable and the link to it
   * full): requests that would go to it fail at once with `NotConnectedError` instead of
   * queueing without bound.
   */
  unreachable?(peer: PeerKey): string | undefined;
  /**
   * Where routers on several hosts agree who runs a run-once job (`dedupeKey`); without it, a
   * job is once per router.
   */
  readonly sharedDedupe?: SharedDedupe | undefined;
}

/** A run-once job's fate as `SharedDedupe.claim` tells it. */
export type SharedOutcome = { run: true } | { run: false; ok: true } | { run: false; ok: false; e: WireError };

/** Run-once jobs once across the routers of several hosts. */
export interface SharedDedupe {
  /**
   * Claims job `key` of event `ev`: resolves `{ run: true }` when this router is to run it
   * (the first to ask, or taking over from a router that is gone), or the outcome another
   * router recorded. Rejects with a `BusError` (a `TimeoutError` after `ms`).
   */
  claim(key: string, ev: string, ms: number): Promise<SharedOutcome>;
  /** Records the outcome of a job this router ran, for the others. */
  settle(key: string, outcome: { ok: boolean; e?: WireError }): void;
}

/** What a router transport reports. */
export interface RouterTransportEvents {
  /** A peer exists (forked, connected) but has not joined the bus yet. */
  onPeerStarting(peer: PeerKey): void;
  /** A frame (not yet validated) arrived from a peer. */
  onMessage(peer: PeerKey, message: unknown): void;
  /** A peer left: exited, lost its link, or was declared dead (rule 5). */
  onPeerGone(peer: PeerKey, reason: string): void;
}

/** An endpoint's side: its one link to the router. */
export interface EndpointTransport {
  /** Sends a frame to the router. Returns false if the link is gone (the frame is dropped). */
  send(frame: UpFrame): boolean;
  /** Registers the endpoint's callbacks. */
  bind(events: EndpointTransportEvents): void;
  /** Whether the link to the router is up. */
  readonly connected: boolean;
  /** Stops listening and flushes what is queued. */
  close(): void;
  /**
   * false: this link cannot return a request's own delivery without its payload; the endpoint
   * keeps no copies. Default: true.
   */
  readonly ownCopies?: boolean;
}

/** What an endpoint transport reports. */
export interface EndpointTransportEvents {
  /** A frame (not yet validated) arrived from the router. */
  onMessage(message: unknown): void;
  /** The link to the router is gone for good. */
  onDisconnect(): void;
}
