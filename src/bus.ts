/**
 * The composition root: the bus of this process, built over a transport. In a process that
 * routes (the master, or any process given a router transport), a router over the transport
 * plus this process's own endpoint as peer 0; in a worker, an endpoint over its link to the
 * router. Created on first use, so that importing a generated messenger is enough in a worker
 * and in the master alike. Which transport: the one given to `configureBus({ transport })`,
 * else Node's cluster (`transports/cluster/`).
 */
import cluster from 'node:cluster';
import { Endpoint, type EndpointStats } from './core/endpoint/endpoint.js';
import { LOCAL_PEER, withLocalPeer } from './core/local-peer.js';
import { resolveOptions, type BusOptions, type ResolvedBusOptions } from './core/options.js';
import { setLocalHost } from './core/peer-id.js';
import { Router, type BrokerStats } from './core/router/router.js';
import type { EndpointTransport, RouterTransport } from './core/transport.js';
import { BadOptionsError } from './errors.js';
import { ClusterEndpointTransport, ClusterRouterTransport } from './transports/cluster/cluster-transport.js';
import { NatsFederation, type NatsStatus } from './transports/nats/federation.js';

/** The bus of one process. */
export interface ProcessBus {
  readonly options: ResolvedBusOptions;
  readonly endpoint: Endpoint;
  /** Present where this process routes (the master). */
  readonly router: Router | undefined;
  /** Present in a master whose bus reaches other hosts over NATS. */
  readonly federation: NatsFederation | undefined;
  /** Resolves once the bus can route: at once on one host; across machines, once joined. */
  readonly ready: Promise<void>;
  close(): void;
  /** Closes, and resolves once other hosts were told this one left (at most a second). */
  leave(): Promise<void>;
}

let current: ProcessBus | undefined;
let pendingOptions: BusOptions = {};

/**
 * Sets this process's bus options. Call it before the first messenger call (typically at
 * the top of the master's or the worker's bootstrap); once the bus runs, it is too late.
 * @throws BadOptionsError if an option is out of range or the bus already runs.
 */
export function configureBus(options: BusOptions): void {
  if (current) throw new BadOptionsError('configureBus() must be called before the bus is first used');
  resolveOptions(options);
  pendingOptions = { ...pendingOptions, ...options };
}

/** The bus of this process, created on first use. */
export function getBus(): ProcessBus {
  if (current) return current;
  const options = resolveOptions(pendingOptions);
  if (options.transport) current = createRouterBus(options, options.transport);
  else if (cluster.isPrimary) current = createRouterBus(options, new ClusterRouterTransport());
  else current = createEndpointBus(options, new ClusterEndpointTransport(), cluster.worker?.id ?? -1);
  return current;
}

/**
 * Counters of this process's bus, for tests and monitoring: the endpoint's, the router's in the
 * master, and the NATS side's (hosts, links) in a master whose bus reaches other hosts.
 */
export function busStats(): { endpoint: EndpointStats; broker?: BrokerStats; nats?: NatsStatus } {
  const bus = getBus();
  if (!bus.router) return { endpoint: bus.endpoint.stats() };
  const stats = { endpoint: bus.endpoint.stats(), broker: bus.router.stats() };
  return bus.federation ? { ...stats, nats: bus.federation.status() } : stats;
}

/**
 * Resolves once this process's bus can route: at once on one machine; across machines, once
 * this master is connected to NATS and knows every live host (`startCluster` waits for it
 * before forking workers).
 * @throws StartFailedError if NATS cannot be reached within `nats.connectTimeoutMs`.
 */
export function busReady(): Promise<void> {
  return getBus().ready;
}

/** A routing process's bus: a router over `transport`, and this process's endpoint as peer 0. */
export function createRouterBus(options: ResolvedBusOptions, transport: RouterTransport): ProcessBus {
  setLocalHost(options.host);
  const { router: linked, local } = withLocalPeer(transport);
  const federation = options.nats
    ? new NatsFederation(
        linked,
        options.nats,
        options.host,
        options.logger,
        options.maxPayloadBytes,
        options.dedupeTtlMs,
      )
    : undefined;
  const router = new Router(options, federation ?? linked);
  const endpoint = new Endpoint(LOCAL_PEER, options, local);
  endpoint.join();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    endpoint.close();
    router.close();
    if (current === bus) current = undefined;
  };
  const bus: ProcessBus = {
    options,
    endpoint,
    router,
    federation,
    ready: federation ? federation.joined : Promise.resolve(),
    close() {
      close();
      (federation ?? linked).close();
    },
    async leave() {
      close();
      if (federation) await federation.leave();
      linked.close();
    },
  };
  return bus;
}

/** A worker's bus: an endpoint over its link to the router. */
export function createEndpointBus(
  options: ResolvedBusOptions,
  transport: EndpointTransport,
  worker: number,
): ProcessBus {
  setLocalHost(options.host);
  const endpoint = new Endpoint(worker, options, transport);
  endpoint.join();
  const bus: ProcessBus = {
    options,
    endpoint,
    router: undefined,
    federation: undefined,
    ready: Promise.resolve(),
    close() {
      endpoint.close();
      transport.close();
      if (current === bus) current = undefined;
    },
    leave() {
      bus.close();
      return Promise.resolve();
    },
  };
  return bus;
}
