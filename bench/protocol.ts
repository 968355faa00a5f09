/**
 * The benchmark's own control messages. They travel on side channels the systems under test
 * ignore: driver ↔ master over the child-process IPC channel, master ↔ worker over the
 * cluster channel tagged `bench: 1` (relay, think and clusterbus all ignore foreign messages).
 * Control traffic only flows before a measurement starts and after its sender finished.
 */

/** The systems the benchmark compares. */
export const SYSTEMS = ['relay', 'think', 'superjson-relay', 'clusterbus'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** The measured operations. */
export const CLUSTER_MODES = ['broadcast', 'consume', 'map', 'map-latency'] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];

/** The tooling measurements. */
export const TOOL_MODES = ['gen', 'tsc'] as const;
export type ToolMode = (typeof TOOL_MODES)[number];

export const PAYLOADS = ['small', 'medium', 'rich'] as const;
export type PayloadKind = (typeof PAYLOADS)[number];

/** One measurement, as the driver asks a master for it. */
export interface MeasureSpec {
  readonly mode: ClusterMode;
  readonly payload: PayloadKind;
  /** Messages (broadcast, consume) or calls (map, map-latency). */
  readonly count: number;
  /** Calls kept in flight (map); 1 for map-latency. */
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

/** Driver → master. */
export type DriverToMaster = { t: 'measure'; q: number; spec: MeasureSpec } | { t: 'stop' };
/** Master → driver. */
export type MasterToDriver =
  { t: 'ready'; pids: number[] } | { t: 'result'; q: number; result: MeasureResult } | { t: 'fatal'; error: string };

/** Master → worker (cluster channel). */
export type ControlDown =
  | { bench: 1; q: number; t: 'arm' }
  | { bench: 1; q: number; t: 'poll' }
  | { bench: 1; q: number; t: 'go'; spec: MeasureSpec; workers: number };

/** Worker → master (cluster channel). */
export type ControlUp =
  | { bench: 1; t: 'ready' }
  | { bench: 1; t: 'fatal'; error: string }
  | { bench: 1; q: number; t: 'armed' }
  | { bench: 1; q: number; t: 'count'; count: number; last: string; bad: number }
  | {
      bench: 1;
      q: number;
      t: 'sent';
      /** `process.hrtime.bigint()` at the first send, as a decimal string. */
      t0: string;
      /** At the last reply (map modes). */
      t1: string;
      errors: number;
      bad: number;
      completed: number;
      firstError?: string;
      latency?: { p50: number; p99: number; mean: number };
    };

/** Whether `m` is one of the benchmark's control messages. */
export function isControl(m: unknown): m is { bench: 1; t: string; q?: number } {
  return typeof m === 'object' && m !== null && (m as { bench?: unknown }).bench === 1;
}
