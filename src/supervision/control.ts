/**
 * The supervision wire format: what a worker and the master's supervisor tell each other
 * about a worker's life (ready, crashed, drain, reload, status, what it is serving before a
 * kill). Kept apart from the bus envelopes (`protocol.ts`) so that supervision works whatever
 * transport the bus uses.
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

/** An HTTP request a worker was still serving when it was asked what it was doing. */
export interface InFlightRequest {
  readonly method: string;
  /** The request's path and query, cut at `MAX_URL` characters. */
  readonly url: string;
  /** How long it had been running, in milliseconds. */
  readonly ageMs: number;
}

/** What a worker was doing when the master asked, before killing it at a deadline. */
export interface InFlightReport {
  /** The oldest requests first, at most `MAX_IN_FLIGHT` of them. */
  readonly requests: InFlightRequest[];
  /** All the HTTP/1 requests in flight (`requests` may list fewer). */
  readonly requestCount: number;
  /** Open connections to its servers (HTTP/2 sessions included). */
  readonly connections: number;
  /** Bus handlers running for requests that expect a reply. */
  readonly busHandlers: number;
}

/** Worker to master. */
export type WorkerControl =
  | { cbc: typeof CONTROL_VERSION; t: 'ready' }
  | CrashReport
  | { cbc: typeof CONTROL_VERSION; t: 'reload'; id: number }
  | { cbc: typeof CONTROL_VERSION; t: 'status'; id: number }
  | { cbc: typeof CONTROL_VERSION; t: 'in-flight'; id: number; report: InFlightReport };

/** Master to worker. */
export type MasterControl =
  | { cbc: typeof CONTROL_VERSION; t: 'ready' }
  | { cbc: typeof CONTROL_VERSION; t: 'drain' }
  | { cbc: typeof CONTROL_VERSION; t: 'reloaded'; id: number; ok: boolean; error?: string }
  | { cbc: typeof CONTROL_VERSION; t: 'status'; id: number; status: ClusterStatus }
  | { cbc: typeof CONTROL_VERSION; t: 'in-flight'; id: number };

/** think-cluster's raw reload directive (`process.send('think-cluster-reload-workers')`), still honoured. */
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
/** Most requests, and longest URL, an in-flight report carries. */
export const MAX_IN_FLIGHT = 20;
export const MAX_URL = 200;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Validates an in-flight report field by field; a look-alike is not one. */
function parseInFlight(value: unknown): InFlightReport | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!isCount(r.requestCount) || !isCount(r.connections) || !isCount(r.busHandlers)) return undefined;
  if (!Array.isArray(r.requests)) return undefined;
  const requests: InFlightRequest[] = [];
  for (const item of r.requests.slice(0, MAX_IN_FLIGHT) as unknown[]) {
    const q = item as Record<string, unknown> | null;
    if (typeof q !== 'object' || q === null) return undefined;
    if (typeof q.method !== 'string' || typeof q.url !== 'string' || !isCount(q.ageMs)) return undefined;
    requests.push({ method: q.method.slice(0, 16), url: q.url.slice(0, MAX_URL), ageMs: q.ageMs });
  }
  return { requests, requestCount: r.requestCount, connections: r.connections, busHandlers: r.busHandlers };
}

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
    case 'in-flight': {
      const report = parseInFlight(m.report);
      return isId(m.id) && report ? { cbc: CONTROL_VERSION, t: 'in-flight', id: m.id, report } : undefined;
    }
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
    case 'in-flight':
      return isId(m.id) ? { cbc: CONTROL_VERSION, t: 'in-flight', id: m.id } : undefined;
    default:
      return undefined;
  }
}
