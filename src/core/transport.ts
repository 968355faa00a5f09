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
 *    requests that cross it (`PayloadTooLargeError` naming that limit).
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
import type { DownFrame, UpFrame } from './protocol/frames.js';

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
