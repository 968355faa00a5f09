/**
 * The cluster rows: mode × payload, with the fixed message count of each, tuned so that one
 * measurement of the relay (of the superjson relay for `rich`, which the relay cannot carry)
 * takes roughly 0.3–0.5 s on a small (2-core) machine. Every system gets the same count in a
 * row; a slower system simply takes longer. Shorter windows (a broadcast of 15,000 small
 * messages is over in 40 ms for clusterbus) measured the machine's noise more than the
 * systems: one run's rounds ranged over 1.7x.
 */
import type { Options } from './args.js';
import {
  HOST_MODES,
  HOST_SYSTEMS,
  SYSTEMS,
  type ClusterMode,
  type HostMode,
  type HostSystemName,
  type MeasureSpec,
  type PayloadKind,
  type SystemName,
} from './protocol.js';

/** Calls kept in flight in `map` throughput. */
export const MAP_INFLIGHT = 64;

const COUNTS: Record<ClusterMode, Record<PayloadKind, number>> = {
  broadcast: { small: 45_000, medium: 2_400, rich: 12_000 },
  consume: { small: 75_000, medium: 3_600, rich: 12_000 },
  map: { small: 24_000, medium: 2_600, rich: 9_000 },
  'map-latency': { small: 5_000, medium: 1_200, rich: 2_500 },
};
/**
 * Each row's unmeasured warm-up, per system, as a multiple of its count. Measured rounds are
 * meant to show the steady state of long-running processes: clusterbus's hot path, with more
 * code than a relay, takes some 20k–30k calls of a new kind to be fully optimised by V8
 * (small map: about 58k calls/s in the first 8,000, above 80k/s after 30,000).
 */
const WARMUP_FACTOR = 2;
/** `--quick` divides every count by this. */
const QUICK_DIVISOR = 5;

/** Systems that cannot carry `rich` (plain JSON) are left out of its rows. */
const RICH_CAPABLE: readonly SystemName[] = ['superjson-relay', 'clusterbus', 'clusterbus+nats'];

export interface Row {
  readonly spec: MeasureSpec;
  readonly systems: readonly SystemName[];
  /** The count of the unmeasured warm-up run before the rounds. */
  readonly warmup: number;
}

export function planRows(options: Options): Row[] {
  const rows: Row[] = [];
  for (const mode of ['broadcast', 'consume', 'map', 'map-latency'] as const) {
    if (!options.modes.includes(mode)) continue;
    for (const payload of options.payloads) {
      const systems = SYSTEMS.filter(
        (s) => options.systems.includes(s) && (payload !== 'rich' || RICH_CAPABLE.includes(s)),
      );
      if (systems.length === 0) continue;
      const count = Math.max(50, Math.round(COUNTS[mode][payload] / (options.quick ? QUICK_DIVISOR : 1)));
      rows.push({
        spec: { mode, payload, count, inflight: mode === 'map' ? MAP_INFLIGHT : 1 },
        systems,
        warmup: Math.max(20, Math.round(count * WARMUP_FACTOR)),
      });
    }
  }
  return rows;
}

/**
 * The hosts section's counts, tuned so that one raw-nats measurement takes about 0.2–0.5 s on
 * 2 cores (clusterbus-nats: 0.5–3x that), a little shorter than the cluster rows' to keep the
 * default run short.
 * `rich` runs where its codec is on the measured path at every message (broadcast, map,
 * map-latency); consume-latency (the raw `request()` baseline) only with `small`.
 */
const HOST_COUNTS: Record<HostMode, Partial<Record<PayloadKind, number>>> = {
  broadcast: { small: 45_000, medium: 1_800, rich: 9_000 },
  consume: { small: 9_000, medium: 1_500 },
  map: { small: 4_500, medium: 750, rich: 2_400 },
  'map-latency': { small: 750, medium: 400, rich: 600 },
  'consume-latency': { small: 1_000 },
};
/**
 * The hosts section's warm-up, as a multiple of the count: half the cluster rows', to keep
 * the default run short (every host process already carried the previous rows' traffic).
 */
const HOST_WARMUP_FACTOR = 1;

/** Workers of each host of `clusterbus-nats`; raw-nats has as many responders in all. */
export const HOST_WORKERS = 2;
export const HOSTS = ['bench-a', 'bench-b'] as const;
/**
 * raw-nats: how many responders subscribe to broadcasts, one connection per host as
 * clusterbus's masters (clusterbus-nats's broadcast is counted by every worker of both hosts).
 */
export const RAW_BROADCAST_SUBSCRIBERS = 2;

export interface HostRow {
  readonly spec: MeasureSpec;
  readonly systems: readonly HostSystemName[];
  readonly warmup: number;
}

/** Whether the hosts section measures `mode` (given itself, or with `hosts`). */
export function wantsHostMode(options: Options, mode: HostMode | 'host-death'): boolean {
  return options.modes.includes(mode) || options.modes.includes('hosts');
}

export function planHostRows(options: Options): HostRow[] {
  const systems = HOST_SYSTEMS.filter((s) => options.systems.includes(s));
  if (systems.length === 0) return [];
  const rows: HostRow[] = [];
  for (const mode of HOST_MODES) {
    if (!wantsHostMode(options, mode)) continue;
    for (const payload of options.payloads) {
      const full = HOST_COUNTS[mode][payload];
      if (full === undefined) continue;
      const count = Math.max(50, Math.round(full / (options.quick ? QUICK_DIVISOR : 1)));
      const inflight = mode === 'map' || mode === 'consume' ? MAP_INFLIGHT : 1;
      rows.push({
        spec: { mode, payload, count, inflight },
        systems,
        warmup: Math.max(20, Math.round(count * HOST_WARMUP_FACTOR)),
      });
    }
  }
  return rows;
}

/** Round `r` runs the systems in this order: rotated by one each round. */
export function rotation<T>(items: readonly T[], round: number): T[] {
  const k = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
