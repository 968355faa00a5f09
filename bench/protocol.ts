/**
 * The benchmark's own control messages. They travel on side channels the systems under test
 * ignore: driver ↔ master over the child-process IPC channel, master ↔ worker over the
 * cluster channel tagged `bench: 1` (relay, think and clusterbus all ignore foreign messages).
 * Control traffic only flows before a measurement starts and after its sender finished.
 */

/**
 * The systems of the cluster rows, each one master with N workers. `clusterbus+nats` is
 * `clusterbus` with the bus configured for NATS (one host, nothing remote).
 */
export const SYSTEMS = ['relay', 'think', 'superjson-relay', 'clusterbus', 'clusterbus+nats'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/**
 * The systems of the hosts section (bench/hosts): two hosts of clusterbus over NATS, and the
 * NATS client used directly by a sender process and responder processes.
 */
export const HOST_SYSTEMS = ['clusterbus-nats', 'raw-nats'] as const;
export type HostSystemName = (typeof HOST_SYSTEMS)[number];

/** What bench/cluster/master.ts runs: a cluster-row system, or one host of `clusterbus-nats`. */
export type MasterSystem = SystemName | 'clusterbus-nats';

/** The measured operations of the cluster rows. */
export const CLUSTER_MODES = ['broadcast', 'consume', 'map', 'map-latency'] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];

/** The measured operations of the hosts section: the cluster modes, and consume / request at one in flight. */
export const HOST_MODES = ['broadcast', 'consume', 'map', 'map-latency', 'consume-latency'] as const;
export type HostMode = (typeof HOST_MODES)[number];

/** Any measured operation. */
export type MeasureMode = ClusterMode | HostMode;

/** The tooling measurements. */
export const TOOL_MODES = ['gen', 'tsc'] as const;
export type ToolMode = (typeof TOOL_MODES)[number];

export const PAYLOADS = ['small', 'medium', 'rich'] as const;
export type PayloadKind = (typeof PAYLOADS)[number];

/** One measurement, as the driver asks a master for it. */
export interface MeasureSpec {
  readonly mode: MeasureMode;
  readonly payload: PayloadKind;
  /** Messages (broadcast, consume) or calls (map, map-latency). */
  readonly count: number;
  /**
   * Calls kept in flight: map (64), and consume in the hosts section (64, each call awaited
   * like a NATS request); 1 for the latency modes, and for the cluster rows' consume, whose
   * sender fires every task without waiting.
   */
  readonly inflight: number;
}

/** What a master reports for one measurement. */
export interface MeasureResult {
  readonly ok: boolean;
  readonly error?: string;
  /** From the first send to the last delivery (broadcast, consume) or the last reply (map), in ns. */
  readonly elapsedNs: number;
  /** Deliveries counted by the receivers (broadcast, consume), or calls completed (map). */
  readonly delivered: number;
  /** Deliveries expected. */
  readonly expected: number;
  /** Calls the sender saw fail, payloads that arrived malformed, and map replies of the wrong length. */
  readonly errors: number;
  readonly bad: number;
  /** map-latency: per-call latency percentiles, in ns. */
  readonly latency?: { readonly p50: number; readonly p99: number; readonly mean: number };
  /** The first error the sender saw, if any. */
  readonly firstError?: string;
}

/**
 * The steps of a measurement, asked one by one by the hosts section, whose measurement spans
 * several processes (two host masters, or the raw NATS sender and responders).
 */
export type CtlOp =
  | { op: 'arm' }
  | { op: 'poll' }
  | { op: 'go'; spec: MeasureSpec; workers: number }
  | { op: 'peers' }
  | { op: 'death-watch'; host: string; timeoutMs: number };

/** The answer to each `CtlOp`. */
export type CtlAnswer =
  | { op: 'armed' }
  | { op: 'count'; count: number; last: string; bad: number }
  | ({ op: 'sent' } & SentReport)
  | {
      op: 'peers';
      /** Ready peers (workers, on any host) with every bench handler. */
      ready: number;
      /** The other hosts this master knows. */
      hosts: string[];
    }
  | {
      op: 'death';
      /** `process.hrtime.bigint()` when a `mapSettled` first reported the host's workers failed. */
      detectedAt: string;
      calls: number;
      /** `host/worker CODE` of each failed outcome of that call on the dead host. */
      failed: string[];
      /** `host/worker` of its workers that answered that call before the host died. */
      answered: string[];
      message?: string;
    };

/** Driver → master (and → each raw NATS process, which answers `ctl` the same way). */
export type DriverToMaster =
  { t: 'measure'; q: number; spec: MeasureSpec } | { t: 'ctl'; q: number; ctl: CtlOp } | { t: 'stop' };
/** Master → driver. */
export type MasterToDriver =
  | { t: 'ready'; pids: number[] }
  | { t: 'result'; q: number; result: MeasureResult }
  | { t: 'ctl'; q: number; ok: true; answer: CtlAnswer }
  | { t: 'ctl'; q: number; ok: false; error: string }
  | { t: 'fatal'; error: string };

/** Master → worker (cluster channel). */
export type ControlDown =
  | { bench: 1; q: number; t: 'arm' }
  | { bench: 1; q: number; t: 'poll' }
  | { bench: 1; q: number; t: 'go'; spec: MeasureSpec; workers: number };

/** What a sender reports once its loop is done. */
export interface SentReport {
  /** `process.hrtime.bigint()` at the first send, as a decimal string. */
  t0: string;
  /** At the last reply (map modes, and consume with calls in flight), or the last send. */
  t1: string;
  errors: number;
  bad: number;
  completed: number;
  firstError?: string;
  latency?: { p50: number; p99: number; mean: number };
}

/** Worker → master (cluster channel). */
export type ControlUp =
  | { bench: 1; t: 'ready' }
  | { bench: 1; t: 'fatal'; error: string }
  | { bench: 1; q: number; t: 'armed' }
  | { bench: 1; q: number; t: 'count'; count: number; last: string; bad: number }
  | ({ bench: 1; q: number; t: 'sent' } & SentReport);

/** Whether `m` is one of the benchmark's control messages. */
export function isControl(m: unknown): m is { bench: 1; t: string; q?: number } {
  return typeof m === 'object' && m !== null && (m as { bench?: unknown }).bench === 1;
}
