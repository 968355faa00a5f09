/**
 * The master's own endpoint as a peer of its router, in the same process. It joins the router
 * as peer `0` beside the transport's peers, and its frames take an asynchronous hop each way,
 * so the master sees the same ordering and re-entrancy as a worker.
 */
import type { DownFrame, UpFrame } from './protocol/frames.js';
import type {
  EndpointTransport,
  EndpointTransportEvents,
  PeerKey,
  RouterTransport,
  RouterTransportEvents,
} from './transport.js';

/** The peer key of the router's own process. */
export const LOCAL_PEER: PeerKey = 0;

/**
 * Wraps `transport` so that its router also reaches a peer in this process. Returns the router's
 * side (the transport plus peer 0) and peer 0's side.
 */
export function withLocalPeer(transport: RouterTransport): { router: RouterTransport; local: EndpointTransport } {
  let routerEvents: RouterTransportEvents | undefined;
  let localEvents: EndpointTransportEvents | undefined;
  const router: RouterTransport = {
    send(peer: PeerKey, frame: DownFrame): void {
      if (peer !== LOCAL_PEER) return transport.send(peer, frame);
      queueMicrotask(() => localEvents?.onMessage(frame));
    },
    congested: (peer) => peer !== LOCAL_PEER && transport.congested(peer),
    whenWritable: (peer, then) => (peer === LOCAL_PEER ? then() : transport.whenWritable(peer, then)),
    bind(events: RouterTransportEvents): void {
      routerEvents = events;
      transport.bind(events);
    },
    close(): void {
      routerEvents = undefined;
      transport.close();
    },
    get maxFrameBytes() {
      return transport.maxFrameBytes;
    },
    get maxFrameName() {
      return transport.maxFrameName;
    },
  };
  const local: EndpointTransport = {
    connected: true,
    send(frame: UpFrame): boolean {
      // A tick hop, not a microtask: `cluster.fork()` announces the new worker ('fork') on
      // process.nextTick, and a request the master makes right after forking must reach the
      // router after that, or it finds no starting worker to wait for and fails with
      // NoHandlerError. nextTick callbacks run in order, so this one runs after the 'fork'.
      process.nextTick(() => routerEvents?.onMessage(LOCAL_PEER, frame));
      return true;
    },
    bind(events: EndpointTransportEvents): void {
      localEvents = events;
    },
    close(): void {
      localEvents = undefined;
    },
  };
  return { router, local };
}
