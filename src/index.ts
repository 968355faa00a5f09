/**
 * clusterbus: a typed message bus for Node.js applications that run as several processes.
 * This module is the public API; contract markers live in `clusterbus/contract`.
 */
export { createMessenger, bindMessenger, eventNamesOf } from './messenger/messenger.js';
export { configureBus, busStats, busReady } from './bus.js';
export type { BusOptions } from './core/options.js';
export type { NatsOptions } from './transports/nats/options.js';
export type { NatsStatus, HostStatus } from './transports/nats/federation.js';
export type { Logger, LogLevel, LogFormat, StderrLoggerOptions } from './logger.js';
export { stderrLogger, silentLogger } from './logger.js';
export type { BrokerStats, PeerState } from './core/router/router.js';
export type { EndpointStats } from './core/endpoint/endpoint.js';
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
  EventNames,
  BroadcastEvents,
  ConsumeEvents,
  MapEvents,
  PayloadOf,
  ResultOf,
  EventTable,
  EventTableInput,
  InSyncWithContract,
  EventKinds,
  KindsOf,
  EventSpec,
  EventSpecOf,
} from './messenger/types.js';
export type {
  RouterTransport,
  RouterTransportEvents,
  EndpointTransport,
  EndpointTransportEvents,
  PeerKey,
} from './core/transport.js';
export type { UpFrame, DownFrame } from './core/protocol/frames.js';
export type { PeerId } from './core/peer-id.js';
export { MemoryTransport, MemoryLink, type MemoryWorker } from './transports/memory/memory-transport.js';
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
  ContractMismatchError,
  ClosedError,
} from './errors.js';
export type { ErrorCode, RemoteErrorInfo, MapFailure, ControlSocketFailure } from './errors.js';
export { startCluster } from './supervision/start.js';
export { busPipeSettings } from './transports/cluster/bus-pipe.js';
export { reloadWorkers, ready } from './supervision/worker-runtime.js';
export { WORKER_INDEX_ENV } from './supervision/supervisor.js';
export type {
  ClusterOptions,
  ClusterControl,
  ClusterStatus,
  SlotStatus,
  WorkerContext,
  WorkerStatus,
  ShutdownReport,
  KilledWorker,
  InFlightReport,
  InFlightRequest,
} from './supervision/cluster-options.js';
export { EXIT_WORKERS_KILLED } from './supervision/cluster-options.js';
export type {
  StatusReport,
  MasterReport,
  WorkerReport,
  ProcessUsage,
  ReloadReport,
  ReplacedWorker,
  MasterIdentity,
} from './ops/protocol.js';
export { ReloadFailedError, StartFailedError, ControlSocketError } from './errors.js';
