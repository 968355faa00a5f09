/** Small statistics helpers. */

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function min(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : Math.min(...values);
}

/** A rate per second, e.g. `123.4k/s`. */
export function formatRate(v: number | undefined): string {
  if (v === undefined) return '—';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k/s`;
  return `${v.toFixed(0)}/s`;
}

/** A duration given in µs. */
export function formatMicros(v: number | undefined): string {
  if (v === undefined) return '—';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} ms`;
  return `${v.toFixed(0)} µs`;
}

/** A duration given in ms. */
export function formatMillis(v: number | undefined): string {
  if (v === undefined) return '—';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  return `${v.toFixed(0)} ms`;
}

export function formatRatio(v: number | undefined): string {
  return v === undefined ? '—' : `${v.toFixed(2)}x`;
}

/** p50, p99 and mean of per-call latencies (sorts `lat` in place). */
export function percentiles(lat: Float64Array): { p50: number; p99: number; mean: number } {
  lat.sort();
  const at = (p: number): number => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil(p * lat.length) - 1))] ?? 0;
  const mean = lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length);
  return { p50: at(0.5), p99: at(0.99), mean };
}
