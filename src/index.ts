/**
 * clusterbus: a typed message bus for Node.js applications that run as several processes.
 * This module is the public API; contract markers live in `clusterbus/contract`.
 */
export { createMessenger } from './messenger.js';
export { configureBus, busStats } from './bus.js';
export type { BusOptions } from './options.js';
export type { Logger } from './logger.js';
export { stderrLogger, silentLogger } from './logger.js';
export type { BrokerStats, PeerState } from './broker.js';
export type { EndpointStats } from './endpoint.js';
export type {
  Messenger,
  Handler,
  HandlerContext,
  HandlerReturn,
  Settled,
  ConsumeOptions,
  MapOptions,
  EventMap,
  EventName,
  BroadcastEvents,
  ConsumeEvents,
  MapEvents,
  PayloadOf,
  ResultOf,
  EventTable,
  EventSpec,
  EventSpecOf,
} from './types.js';
export type {
  BrokerTransport,
  BrokerTransportEvents,
  EndpointTransport,
  EndpointTransportEvents,
} from './transport.js';
export {
  ErrorCodes,
  BusError,
  TimeoutError,
  NoHandlerError,
  WorkerExitedError,
  PayloadTooLargeError,
  HandlerError,
  MapError,
  BadPayloadError,
  UnknownEventError,
  WrongKindError,
  BadOptionsError,
  NotConnectedError,
  ContractConflictError,
  ClosedError,
} from './errors.js';
export type { ErrorCode, RemoteErrorInfo, MapFailure } from './errors.js';
export { startCluster } from './start.js';
export { busPipeSettings } from './bus-pipe.js';
export { reloadWorkers, ready } from './worker-runtime.js';
export { WORKER_INDEX_ENV } from './supervisor.js';
export type {
  ClusterOptions,
  ClusterControl,
  ClusterStatus,
  SlotStatus,
  WorkerContext,
  WorkerStatus,
} from './cluster-options.js';
export { ReloadFailedError, StartFailedError } from './errors.js';
