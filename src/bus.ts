/**
 * The bus of this process: one endpoint, plus the broker when this process is the master.
 * Created on first use, so that importing a generated messenger is enough in a worker and
 * in the master alike.
 */
import cluster from 'node:cluster';
import { Broker, type BrokerStats } from './broker.js';
import { ClusterBrokerTransport, ClusterEndpointTransport } from './cluster-transport.js';
import { Endpoint, type EndpointStats } from './endpoint.js';
import { BadOptionsError } from './errors.js';
import { resolveOptions, type BusOptions, type ResolvedBusOptions } from './options.js';
import type { DownFrame } from './protocol.js';
import type { BrokerTransport, EndpointTransport } from './transport.js';

/** The bus of one process. */
export interface ProcessBus {
  readonly options: ResolvedBusOptions;
  readonly endpoint: Endpoint;
  /** Present in the master only. */
  readonly broker: Broker | undefined;
  close(): void;
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
  current ??= cluster.isPrimary
    ? createMasterBus(resolveOptions(pendingOptions), new ClusterBrokerTransport())
    : createWorkerBus(resolveOptions(pendingOptions), new ClusterEndpointTransport(), cluster.worker?.id ?? -1);
  return current;
}

/** Counters of this process's bus, for tests and monitoring: the endpoint's, and the broker's in the master. */
export function busStats(): { endpoint: EndpointStats; broker?: BrokerStats } {
  const bus = getBus();
  return bus.broker
    ? { endpoint: bus.endpoint.stats(), broker: bus.broker.stats() }
    : { endpoint: bus.endpoint.stats() };
}

/**
 * The master's bus: a broker over `transport`, and the master's own endpoint as peer 0,
 * linked to the broker in-process. Frames between the two take an asynchronous hop so the
 * master sees the same ordering and re-entrancy as a worker.
 */
export function createMasterBus(options: ResolvedBusOptions, transport: BrokerTransport): ProcessBus {
  // The endpoint and the broker send to each other; the broker sends nothing before the
  // endpoint below exists, so its closure may name it.
  const sendDown = (peer: number, frame: DownFrame): void => {
    if (peer === 0) queueMicrotask(() => endpoint.receive(frame));
    else transport.send(peer, frame);
  };
  const broker = new Broker(options, sendDown, options.logger, {
    congested: (peer) => peer !== 0 && transport.congested(peer),
    whenWritable: (peer, then) => (peer === 0 ? then() : transport.whenWritable(peer, then)),
  });
  const endpoint = new Endpoint(0, options, (frame) => {
    // A tick hop, not a microtask: `cluster.fork()` announces the new worker ('fork') on
    // process.nextTick, and a request the master makes right after forking must reach the
    // broker after that, or it finds no starting worker to wait for and fails with
    // NoHandlerError. nextTick callbacks run in order, so this one runs after the 'fork'.
    process.nextTick(() => broker.receive(0, frame));
    return true;
  });
  transport.bind({
    onPeerStarting: (peer) => broker.peerStarting(peer),
    onMessage: (peer, message) => broker.receive(peer, message),
    onPeerGone: (peer, reason) => broker.peerGone(peer, reason),
  });
  endpoint.join();
  return {
    options,
    endpoint,
    broker,
    close() {
      endpoint.close();
      broker.close();
      transport.close();
      if (current?.broker === broker) current = undefined;
    },
  };
}

/** A worker's bus: an endpoint over `transport`. */
export function createWorkerBus(options: ResolvedBusOptions, transport: EndpointTransport, worker: number): ProcessBus {
  const endpoint = new Endpoint(worker, options, (frame) => transport.send(frame));
  transport.bind({
    onMessage: (message) => endpoint.receive(message),
    onDisconnect: () => endpoint.disconnected(),
  });
  endpoint.join();
  return {
    options,
    endpoint,
    broker: undefined,
    close() {
      endpoint.close();
      transport.close();
      if (current?.endpoint === endpoint) current = undefined;
    },
  };
}
