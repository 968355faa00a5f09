// What a conformance scenario needs from a transport: a bus whose router runs in this process
// (its endpoint is the caller), workers on the transport that run `registerHandlers`, and a way
// to kill one, drain one, and start one late.
import type { BusError } from 'clusterbus';
import type { Endpoint, RequestSpec } from '../../src/core/endpoint/endpoint.js';

export interface ConformanceBus {
  /** The router process's own endpoint (peer 0). */
  readonly caller: Endpoint;
  /** Worker ids, in the order they were started. */
  readonly workers: number[];
  /** Starts one more worker; resolves with its id once it exists (before it joined), and `joined`. */
  startWorker(): Promise<{ id: number; joined: Promise<void> }>;
  /** The worker dies abruptly. */
  kill(id: number): Promise<void>;
  /** The worker drains through the protocol; resolves once the router said it owes nothing. */
  drain(id: number): Promise<void>;
  /** Stops every worker of this bus. */
  close(): Promise<void>;
}

export interface Harness {
  readonly name: string;
  /** A bus with `workers` workers, all joined. */
  start(workers: number): Promise<ConformanceBus>;
}

/** A request as the messenger would build it. */
export function call(
  bus: ConformanceBus,
  ev: string,
  op: RequestSpec['op'],
  payload: unknown,
  extra: Partial<RequestSpec> = {},
): Promise<unknown> {
  return bus.caller.request({ ev, op, payload, timeoutMs: 5_000, maxPayloadBytes: 8 * 1024 * 1024, ...extra });
}

/** Every worker's records, by worker id. */
export async function records(bus: ConformanceBus): Promise<Map<number, string[]>> {
  const all = (await call(bus, 'conf.records', 'map', null)) as { me: number; records: string[] }[];
  return new Map(all.map((r) => [r.me, r.records]));
}

/** The error of a settled outcome, for assertions. */
export function errorOf(outcome: { ok: boolean; error?: BusError }): BusError | undefined {
  return outcome.ok ? undefined : outcome.error;
}
