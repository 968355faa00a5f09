// Transports that hand frames straight to a test: the test plays the other side of the seam,
// injecting frames and peer events and reading what the router or an endpoint sends.
import type {
  DownFrame,
  EndpointTransport,
  EndpointTransportEvents,
  RouterTransport,
  RouterTransportEvents,
  UpFrame,
} from 'clusterbus';
import { Endpoint } from '../../src/core/endpoint/endpoint.js';
import type { ResolvedBusOptions } from '../../src/core/options.js';

/** An endpoint's link whose frames go to `out`; the test delivers frames with `receive`. */
export class DirectLink implements EndpointTransport {
  connected = true;
  private events: EndpointTransportEvents | undefined;
  constructor(private readonly out: (frame: UpFrame) => boolean) {}
  send(frame: UpFrame): boolean {
    return this.out(frame);
  }
  bind(events: EndpointTransportEvents): void {
    this.events = events;
  }
  close(): void {
    this.events = undefined;
  }
  /** A frame from the router. */
  receive(message: unknown): void {
    this.events?.onMessage(message);
  }
  /** The link to the router is gone. */
  disconnect(): void {
    this.connected = false;
    this.events?.onDisconnect();
  }
}

/** An endpoint over a `DirectLink`. */
export function directEndpoint(
  worker: number,
  options: ResolvedBusOptions,
  out: (frame: UpFrame) => boolean,
): { ep: Endpoint; link: DirectLink } {
  const link = new DirectLink(out);
  return { ep: new Endpoint(worker, options, link), link };
}

/** A router's transport whose frames go to `out`; the test injects frames and peer events. */
export class DirectRouterTransport implements RouterTransport {
  private events: RouterTransportEvents | undefined;
  constructor(private readonly out: (peer: number, frame: DownFrame) => void = () => {}) {}
  send(peer: number, frame: DownFrame): void {
    this.out(peer, frame);
  }
  congested(): boolean {
    return false;
  }
  whenWritable(_peer: number, then: () => void): void {
    then();
  }
  bind(events: RouterTransportEvents): void {
    this.events = events;
  }
  close(): void {
    this.events = undefined;
  }
  /** A frame from `peer`. */
  inject(peer: number, message: unknown): void {
    this.events?.onMessage(peer, message);
  }
  /** `peer` exists and has not joined yet. */
  starting(peer: number): void {
    this.events?.onPeerStarting(peer);
  }
  /** `peer` left. */
  gone(peer: number, reason: string): void {
    this.events?.onPeerGone(peer, reason);
  }
}
