/**
 * What the command line and a master's control socket say to each other: one JSON line each
 * way per connection, a request (`{"v":1,"cmd":"status"}`) then its answer. Types only, and
 * the small checks both ends share, so that the command line loads nothing of the bus.
 */
import type { EndpointStats } from '../core/endpoint/endpoint.js';
import type { BrokerStats } from '../core/router/router.js';
import type { NatsStatus } from '../transports/nats/federation.js';
import type { SlotStatus, WorkerStatus } from '../supervision/cluster-options.js';

/** Version of the control protocol; a request or answer of another version is refused. */
export const CONTROL_PROTOCOL_VERSION = 1;

/** Longest request line the master reads. */
export const MAX_REQUEST_BYTES = 4_096;

/** What the command line can ask. */
export type ControlCommand = 'hello' | 'status' | 'reload';

export interface ControlRequest {
  readonly v: typeof CONTROL_PROTOCOL_VERSION;
  readonly cmd: ControlCommand;
}

/** Who a master is: enough for the command line to pick the right one. */
export interface MasterIdentity {
  readonly pid: number;
  /** The host name of the bus (`configureBus({ host })`, else `os.hostname()`). */
  readonly host: string;
  /** The master's working directory (real path): `clusterbus status` picks the master of its own. */
  readonly cwd: string;
  /** The entry file every worker runs. */
  readonly entry: string | undefined;
  /** When the master started (ISO 8601). */
  readonly startedAt: string;
  /** The Node.js version. */
  readonly node: string;
  /** The control socket's path. */
  readonly socket: string;
}

/** Memory and CPU of one process, as the master measured them. */
export interface ProcessUsage {
  /** Resident memory in bytes; `undefined` where it cannot be read (workers, outside Linux). */
  readonly rssBytes: number | undefined;
  /**
   * CPU time used over the sampling window (`sampleWindowMs`), in percent of one core (a
   * process using two cores fully shows 200); `undefined` where it cannot be read.
   */
  readonly cpuPercent: number | undefined;
}

/** One worker in `clusterbus status`: its `status()` entry, its memory and CPU. */
export interface WorkerReport extends WorkerStatus, ProcessUsage {}

/** The master in `clusterbus status`. */
export interface MasterReport extends MasterIdentity, ProcessUsage {
  readonly uptimeMs: number;
  /** A graceful shutdown has begun (`SIGTERM`, `SIGINT`, `control.shutdown()`). */
  readonly shuttingDown: boolean;
}

/** What `clusterbus status --json` prints. */
export interface StatusReport {
  readonly master: MasterReport;
  /** Every worker alive, by id (starting, ready and draining ones). */
  readonly workers: WorkerReport[];
  /** Every slot 1..N: up, starting, or in backoff after quick deaths. */
  readonly slots: SlotStatus[];
  readonly reloading: boolean;
  /** Every slot has a ready worker. */
  readonly healthy: boolean;
  /** The master's bus counters (`busStats()` in the master). */
  readonly bus: { readonly endpoint: EndpointStats; readonly broker?: BrokerStats };
  /** Across machines: the other hosts and the links to them. */
  readonly nats?: NatsStatus;
  /** How long the CPU figures were measured over. */
  readonly sampleWindowMs: number;
}

/** One slot's worker replaced by a reload. */
export interface ReplacedWorker {
  readonly slot: number;
  readonly fromPid: number | undefined;
  readonly toPid: number | undefined;
}

/** What `clusterbus reload --json` prints. */
export interface ReloadReport {
  readonly ok: boolean;
  readonly durationMs: number;
  /** The slots whose worker changed, in slot order. */
  readonly replaced: ReplacedWorker[];
  /** Why it failed: the error's code (`CB_RELOAD_FAILED`) and message. */
  readonly error?: { readonly code: string | undefined; readonly message: string };
}

/** The master's answer to a request. */
export type ControlAnswer =
  | { readonly v: typeof CONTROL_PROTOCOL_VERSION; readonly ok: true; readonly hello: MasterIdentity }
  | { readonly v: typeof CONTROL_PROTOCOL_VERSION; readonly ok: true; readonly status: StatusReport }
  | { readonly v: typeof CONTROL_PROTOCOL_VERSION; readonly ok: true; readonly reload: ReloadReport }
  | { readonly v: typeof CONTROL_PROTOCOL_VERSION; readonly ok: false; readonly error: string };

const COMMANDS: readonly string[] = ['hello', 'status', 'reload'];

/** Reads a request line; anything else is `undefined`. */
export function parseControlRequest(line: string): ControlRequest | undefined {
  const value = parseObject(line);
  if (value === undefined) return undefined;
  const { v, cmd } = value;
  if (v !== CONTROL_PROTOCOL_VERSION || typeof cmd !== 'string' || !COMMANDS.includes(cmd)) return undefined;
  return { v, cmd: cmd as ControlCommand };
}

/** Reads an answer line: its version and `ok` are checked, the rest is the master's word. */
export function parseControlAnswer(line: string): ControlAnswer | undefined {
  const value = parseObject(line);
  if (value === undefined) return undefined;
  const { v, ok } = value;
  if (v !== CONTROL_PROTOCOL_VERSION || typeof ok !== 'boolean') return undefined;
  return value as unknown as ControlAnswer;
}

/** A line of JSON that holds an object; anything else is `undefined`. */
function parseObject(line: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
