// A router and its peers in one process, linked through direct transports with an asynchronous
// hop each way (like IPC), so that every routing rule can be driven step by step, including a
// peer that vanishes. Records every frame on the wire, both ways.
import { silentLogger, type BusOptions } from 'clusterbus';
import { Endpoint, type AnyHandler } from '../../src/core/endpoint/endpoint.js';
import { resolveOptions } from '../../src/core/options.js';
import type { DownFrame, UpFrame } from '../../src/core/protocol/frames.js';
import { Router } from '../../src/core/router/router.js';
import { DirectLink, DirectRouterTransport } from './direct.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function framesOf<F>(all: Map<number, F[]>, peer: number): F[] {
  return all.get(peer) ?? all.set(peer, []).get(peer)!;
}

export class Net {
  readonly options;
  readonly router: Router;
  readonly transport: DirectRouterTransport;
  readonly endpoints = new Map<number, Endpoint>();
  readonly links = new Map<number, DirectLink>();
  readonly dead = new Set<number>();
  /** Every frame each peer sent, as it went on the wire. */
  readonly up = new Map<number, UpFrame[]>();
  /** Every frame the router sent, per peer. */
  readonly down = new Map<number, DownFrame[]>();

  constructor(options: BusOptions = {}) {
    this.options = resolveOptions({ logger: silentLogger, timeoutMs: 3000, startWaitMs: 300, ...options });
    this.transport = new DirectRouterTransport((peer, frame) => {
      framesOf(this.down, peer).push(frame);
      const link = this.links.get(peer);
      if (link && !this.dead.has(peer)) setImmediate(() => link.receive(JSON.parse(JSON.stringify(frame))));
    });
    this.router = new Router(this.options, this.transport);
  }

  /** A frame from `peer`, straight into the router. */
  inject(peer: number, message: unknown): void {
    this.transport.inject(peer, message);
  }

  /**
   * A peer that was forked (starting) and joins on the next turn with the handlers registered
   * now; `link` makes its link (a `DirectLink` by default).
   */
  add(
    id: number,
    handlers: Record<string, AnyHandler> = {},
    { join = true, link = (out: (frame: UpFrame) => boolean) => new DirectLink(out) } = {},
  ): Endpoint {
    const peerLink = link((frame) => {
      if (this.dead.has(id)) return false;
      const wire = JSON.parse(JSON.stringify(frame)) as UpFrame;
      framesOf(this.up, id).push(wire);
      setImmediate(() => this.transport.inject(id, wire));
      return true;
    });
    const ep = new Endpoint(id, this.options, peerLink);
    this.endpoints.set(id, ep);
    this.links.set(id, peerLink);
    this.transport.starting(id);
    for (const [ev, h] of Object.entries(handlers)) ep.on(ev, h);
    if (join) ep.join();
    return ep;
  }

  async ready(...ids: number[]): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const peers = this.router.stats().peers;
      if (ids.every((id) => peers.some((p) => p.id === id && p.state === 'ready'))) return;
      await tick();
    }
    throw new Error(`peers ${ids.join()} did not join`);
  }

  kill(id: number, reason = 'killed by SIGKILL'): void {
    this.dead.add(id);
    this.transport.gone(id, reason);
  }

  close(): void {
    for (const ep of this.endpoints.values()) ep.close();
    this.router.close();
  }
}
