/**
 * The transport seam. Routing semantics live in the broker and the endpoint; a transport
 * only moves envelopes and says who joined and who left. The default transport is Node's
 * cluster, through the master, on each worker's bus pipe or IPC channel
 * (`cluster-transport.ts`); another (e.g. NATS) can carry the same envelopes without the
 * broker or the endpoint knowing.
 */
import type { DownFrame, UpFrame } from './protocol.js';

/** The broker's side: one link to every peer (worker) of the bus. */
export interface BrokerTransport {
  /**
   * Sends an envelope to a peer. Never throws: a peer that is gone is reported through
   * `onPeerGone`, and a frame to it is dropped.
   */
  send(peer: number, frame: DownFrame): void;
  /**
   * Runs `then` once the channel to `peer` can take more (at once unless a slow reader let
   * it fill up). The broker holds a broadcast's acknowledgement until then, so senders wait
   * instead of the master's memory growing without bound.
   */
  whenWritable(peer: number, then: () => void): void;
  /** Whether the channel to `peer` holds more unwritten data than it should. */
  congested(peer: number): boolean;
  /** Registers the broker's callbacks. Peers already known are reported at once. */
  bind(events: BrokerTransportEvents): void;
  /** Stops listening. */
  close(): void;
}

/** What a broker transport reports. */
export interface BrokerTransportEvents {
  /** A peer exists (forked) but has not joined the bus yet. */
  onPeerStarting(peer: number): void;
  /** An envelope (not yet validated) arrived from a peer. */
  onMessage(peer: number, message: unknown): void;
  /** A peer exited or lost its channel. */
  onPeerGone(peer: number, reason: string): void;
}

/** An endpoint's side: its one link to the broker. */
export interface EndpointTransport {
  /** Sends an envelope to the broker. Returns false if the link is gone (the frame is dropped). */
  send(frame: UpFrame): boolean;
  /** Registers the endpoint's callbacks. */
  bind(events: EndpointTransportEvents): void;
  /** Whether the link to the broker is up. */
  readonly connected: boolean;
  /** Stops listening. */
  close(): void;
}

/** What an endpoint transport reports. */
export interface EndpointTransportEvents {
  /** An envelope (not yet validated) arrived from the broker. */
  onMessage(message: unknown): void;
  /** The link to the broker is gone for good. */
  onDisconnect(): void;
}
