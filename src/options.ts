/**
 * Bus options and their defaults, shared by the broker (master) and every endpoint.
 */
import { BadOptionsError } from './errors.js';
import { stderrLogger, type Logger } from './logger.js';

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
  /** Where the bus logs. Default: concise lines on stderr (silent when `NODE_ENV=test`). */
  logger?: Logger;
}

/** Options with every default applied. */
export type ResolvedBusOptions = Required<BusOptions>;

export const DEFAULTS = {
  timeoutMs: 10_000,
  maxPayloadBytes: 8 * 1024 * 1024,
  maxResultBytes: 1024 * 1024,
  startWaitMs: 5_000,
} as const;

/** Whether `v` is a usable positive whole number of ms or bytes. */
export function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** Applies defaults and rejects out-of-range values with `BadOptionsError`. */
export function resolveOptions(options: BusOptions = {}): ResolvedBusOptions {
  for (const key of ['timeoutMs', 'maxPayloadBytes', 'maxResultBytes', 'startWaitMs'] as const) {
    const v = options[key];
    if (v !== undefined && !isPositiveInt(v)) {
      throw new BadOptionsError(`bus option ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  return {
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes,
    maxResultBytes: options.maxResultBytes ?? DEFAULTS.maxResultBytes,
    startWaitMs: options.startWaitMs ?? DEFAULTS.startWaitMs,
    logger: options.logger ?? stderrLogger(),
  };
}
