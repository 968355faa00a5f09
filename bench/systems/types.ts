/**
 * What the benchmark needs from a system under test. A system has a master side (set up in
 * the master process before the workers are forked) and a worker side (the messenger each
 * worker uses). The harness in bench/cluster does everything else, identically for all.
 */
import type { BenchAnswer, BenchPayload } from '../payloads.js';

/** The handlers the harness installs in every worker. */
export interface BenchHandlers {
  /** A broadcast or consume delivery. */
  delivered(payload: unknown): void;
  /** A map call: the answer to send back. */
  answer(payload: unknown): BenchAnswer;
}

/** The master side of a system. */
export interface MasterSide {
  /** The IPC serialization the system forks its workers with. Default: Node's `json`. */
  readonly serialization?: 'json' | 'advanced';
  /** Extra stdio for the forked workers and the environment that goes with it. Default: none. */
  readonly fork?: { readonly stdio: readonly unknown[]; readonly env: Readonly<Record<string, string>> };
  /** Runs before any worker is forked. */
  setup(): void | Promise<void>;
  /** Resolves once the system itself considers every worker joined (after each sent `ready`). */
  joined?(workers: number): Promise<void>;
  /** Hosts section: ready workers on every host, and the other hosts known. */
  peers?(): { ready: number; hosts: string[] };
  /**
   * Hosts section: runs `map`s one at a time until one reports the workers of `host` failed;
   * resolves with when (`process.hrtime.bigint()`), how many calls that took and the failures.
   */
  watchHostDeath?(
    host: string,
    timeoutMs: number,
  ): Promise<{ detectedAt: string; calls: number; failed: string[]; answered: string[]; message?: string }>;
}

/** The worker side of a system: one messenger in this worker. */
export interface WorkerSide {
  install(handlers: BenchHandlers): void | Promise<void>;
  /** Fire one broadcast; may return a promise (settled when the system says it accepted it). */
  broadcast(payload: BenchPayload): void | Promise<void>;
  /** Fire one consume; may return a promise (settled when the system says it is done). */
  consume(payload: BenchPayload): void | Promise<void>;
  /** One map: resolves to every worker's answer. */
  map(payload: BenchPayload): Promise<readonly unknown[]>;
}

/** A system: its two sides, and whether it can carry the rich payload. */
export interface System {
  readonly rich: boolean;
  master(): MasterSide;
  worker(): WorkerSide;
}
