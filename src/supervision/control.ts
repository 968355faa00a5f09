/**
 * The supervision wire format: what a worker and the master's supervisor tell each other
 * about a worker's life (ready, crashed, drain, reload, status). Kept apart from the bus
 * envelopes (`protocol.ts`) so that supervision works whatever transport the bus uses.
 */
import type { ClusterStatus } from './cluster-options.js';

/** Marks a supervision message as ours, and its version. */
export const CONTROL_VERSION = 1;

/** A worker's life, as `status()` reports it. */
export interface WorkerStatus {
  /** Cluster worker id (unique for the life of the master). */
  readonly id: number;
  /** The host it runs on (see `PeerId`). */
  readonly host: string;
  /** Stable slot index 1..N, reused by replacements (`CLUSTERBUS_WORKER_INDEX`). */
  readonly index: number;
  readonly pid: number | undefined;
  readonly state: 'starting' | 'ready' | 'draining';
  /** Milliseconds since it was forked. */
  readonly uptimeMs: number;
  /** How many workers of this slot were forked before this one. */
  readonly restarts: number;
  /** Why the previous worker of this slot ended, if one did. */
  readonly lastExitReason: string | undefined;
}

/** A worker's report of its own crash: why, and where (the error's stack, when it had one). */
export interface CrashReport {
  cbc: typeof CONTROL_VERSION;
  t: 'crashed';
  reason: string;
  stack?: string;
}

/** Worker to master. */
export type WorkerControl =
  | { cbc: typeof CONTROL_VERSION; t: 'ready' }
  | CrashReport
  | { cbc: typeof CONTROL_VERSION; t: 'reload'; id: number }
  | { cbc: typeof CONTROL_VERSION; t: 'status'; id: number };

/** Master to worker. */
export type MasterControl =
  | { cbc: typeof CONTROL_VERSION; t: 'ready' }
  | { cbc: typeof CONTROL_VERSION; t: 'drain' }
  | { cbc: typeof CONTROL_VERSION; t: 'reloaded'; id: number; ok: boolean; error?: string }
  | { cbc: typeof CONTROL_VERSION; t: 'status'; id: number; status: ClusterStatus };

/** The seed's raw reload directive (`process.send('think-cluster-reload-workers')`), still honoured. */
export const LEGACY_RELOAD_DIRECTIVE = 'think-cluster-reload-workers';

function isControl(msg: unknown): msg is { cbc: number; t: string } {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as { cbc?: unknown }).cbc === CONTROL_VERSION &&
    typeof (msg as { t?: unknown }).t === 'string'
  );
}

/** Longest crash reason and stack the master keeps from a report. */
const MAX_REASON = 2_000;
const MAX_STACK = 16_000;

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** Validates what a worker sent; anything else is not supervision traffic. */
export function parseWorkerControl(msg: unknown): WorkerControl | undefined {
  if (msg === LEGACY_RELOAD_DIRECTIVE) return { cbc: CONTROL_VERSION, t: 'reload', id: 0 };
  if (!isControl(msg)) return undefined;
  const m = msg as Record<string, unknown>;
  switch (m.t) {
    case 'ready':
      return { cbc: CONTROL_VERSION, t: 'ready' };
    case 'crashed': {
      // Typed like a bus envelope: a look-alike with a wrong field is the user's own message,
      // not a crash report, and must not get a worker replaced.
      if (typeof m.reason !== 'string' || (m.stack !== undefined && typeof m.stack !== 'string')) return undefined;
      const report: CrashReport = { cbc: CONTROL_VERSION, t: 'crashed', reason: m.reason.slice(0, MAX_REASON) };
      if (typeof m.stack === 'string') report.stack = m.stack.slice(0, MAX_STACK);
      return report;
    }
    case 'reload':
    case 'status':
      return isId(m.id) ? { cbc: CONTROL_VERSION, t: m.t, id: m.id } : undefined;
    default:
      return undefined;
  }
}

/** Validates what the master sent. */
export function parseMasterControl(msg: unknown): MasterControl | undefined {
  if (!isControl(msg)) return undefined;
  const m = msg as Record<string, unknown>;
  switch (m.t) {
    case 'ready':
      return { cbc: CONTROL_VERSION, t: 'ready' };
    case 'drain':
      return { cbc: CONTROL_VERSION, t: 'drain' };
    case 'reloaded':
      return isId(m.id) && typeof m.ok === 'boolean' ? (m as unknown as MasterControl) : undefined;
    case 'status':
      return isId(m.id) && typeof m.status === 'object' && m.status !== null
        ? (m as unknown as MasterControl)
        : undefined;
    default:
      return undefined;
  }
}
