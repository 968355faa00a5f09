/**
 * Bus options and their defaults, shared by the broker (master) and every endpoint.
 */
import os from 'node:os';
import { BadOptionsError } from '../errors.js';
import type { RouterTransport } from './transport.js';
import { stderrLogger, type Logger } from '../logger.js';
import { resolveNatsOptions, type NatsOptions, type ResolvedNatsOptions } from '../transports/nats/options.js';

/** Options of the bus in this process; set them with `configureBus` before the first call. */
export interface BusOptions {
  /** Deadline of a `consume` / `map` whose contract and call set none, in ms. Default: 10 000. */
  timeoutMs?: number;
  /** Cap on every serialised payload, in bytes; a contract may only lower it. Default: 8 MiB. */
  maxPayloadBytes?: number;
  /** Default cap on one worker's serialised `map` result, in bytes. Default: 1 MiB. */
  maxResultBytes?: number;
  /**
   * How long a request with no ready handler waits for workers that are still starting
   * (forked, not yet joined) before failing with `NoHandlerError`, in ms. Default: 5 000.
   */
  startWaitMs?: number;
  /**
   * How long the master remembers a settled `dedupeKey` job at most, in ms, counted from when
   * it settled. A caller with a key that is no longer remembered runs the job again, as for a
   * new key. Default: `Infinity`: a boot job stays done for the master's life however late a
   * worker is forked, and `maxDedupeKeys` alone bounds the memory; set it when keys should
   * expire by age as well (per-day jobs).
   */
  dedupeTtlMs?: number;
  /**
   * Most settled `dedupeKey` jobs the master remembers; past it, the oldest-settled is
   * forgotten first. Running jobs are never forgotten and do not count. Default: 10 000
   * (about 2 MB of master memory with short keys: some 200 bytes a key).
   */
  maxDedupeKeys?: number;
  /** Where the bus logs. Default: concise lines on stderr (silent when `NODE_ENV=test`). */
  logger?: Logger;
  /**
   * This machine's name on the bus: results, errors and status name a worker by host and
   * worker id. Default: `os.hostname()`.
   */
  host?: string;
  /**
   * Runs this process's bus on this transport, as its router, instead of Node's cluster: e.g.
   * a `MemoryTransport` in a test of code that uses the messenger. Not with `startCluster`,
   * whose workers talk over the cluster's channels. Default: the cluster transport.
   */
  transport?: RouterTransport;
  /**
   * Carries the bus across machines over NATS: this master joins the masters of the other
   * hosts with the same `nats.namespace`, and `broadcast`, `consume` and `map` reach their
   * workers too. Each host needs its own `host` name. Read in the master only; needs the
   * optional packages `@nats-io/transport-node`. Default: off (one machine).
   */
  nats?: NatsOptions;
}

/** Options with every default applied. */
export type ResolvedBusOptions = Required<Omit<BusOptions, 'transport' | 'nats'>> & {
  transport: RouterTransport | undefined;
  nats: ResolvedNatsOptions | undefined;
};

export const DEFAULTS = {
  timeoutMs: 10_000,
  maxPayloadBytes: 8 * 1024 * 1024,
  maxResultBytes: 1024 * 1024,
  startWaitMs: 5_000,
  dedupeTtlMs: Infinity,
  maxDedupeKeys: 10_000,
} as const;

/** Whether `v` is a usable positive whole number of ms or bytes. */
export function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** Applies defaults and rejects out-of-range values with `BadOptionsError`. */
export function resolveOptions(options: BusOptions = {}): ResolvedBusOptions {
  for (const key of ['timeoutMs', 'maxPayloadBytes', 'maxResultBytes', 'startWaitMs', 'maxDedupeKeys'] as const) {
    const v = options[key];
    if (v !== undefined && !isPositiveInt(v)) {
      throw new BadOptionsError(`bus option ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
    throw new BadOptionsError(`bus option host must be a non-empty string, got ${String(options.host)}`);
  }
  const transport = options.transport as Partial<RouterTransport> | undefined;
  if (transport !== undefined && (typeof transport?.bind !== 'function' || typeof transport.send !== 'function')) {
    throw new BadOptionsError(
      'bus option transport must be a router transport (bind, send, congested, whenWritable, close)',
    );
  }
  const ttl = options.dedupeTtlMs;
  if (ttl !== undefined && ttl !== Infinity && !isPositiveInt(ttl)) {
    throw new BadOptionsError(`bus option dedupeTtlMs must be a positive integer or Infinity, got ${String(ttl)}`);
  }
  return {
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes,
    maxResultBytes: options.maxResultBytes ?? DEFAULTS.maxResultBytes,
    startWaitMs: options.startWaitMs ?? DEFAULTS.startWaitMs,
    dedupeTtlMs: options.dedupeTtlMs ?? DEFAULTS.dedupeTtlMs,
    maxDedupeKeys: options.maxDedupeKeys ?? DEFAULTS.maxDedupeKeys,
    logger: options.logger ?? stderrLogger(),
    host: options.host ?? os.hostname(),
    transport: options.transport,
    nats: options.nats === undefined ? undefined : resolveNatsOptions(options.nats),
  };
}
