/**
 * Turning measurements into numbers: per-round values, their medians, and ratios to the
 * relay baseline computed round by round (system / relay in the same round, then the median
 * over rounds). Prints the table and writes the JSON lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MeasureResult, MeasureSpec, SystemName } from './protocol.js';
import { formatMicros, formatMillis, formatRate, formatRatio, median } from './stats.js';

/** One line of a cluster row: the throughput, or one latency percentile. */
export interface Metric {
  readonly name: 'rate' | 'p50' | 'p99';
  /** `msg/s` or `calls/s` (higher is better), or `µs` (lower is better). */
  readonly unit: 'msg/s' | 'calls/s' | 'µs';
  /** Per system: its value in each round (`null`: that measurement failed). */
  readonly rounds: Partial<Record<SystemName, (number | null)[]>>;
  readonly medians: Partial<Record<SystemName, number>>;
  /** `think/relay`, `superjson-relay/relay`, `clusterbus/relay`, `clusterbus/think`, `clusterbus/superjson-relay`. */
  readonly ratios: Record<string, number | undefined>;
}

export interface ClusterRowSummary {
  readonly kind: 'cluster';
  readonly mode: MeasureSpec['mode'];
  readonly payload: MeasureSpec['payload'];
  readonly count: number;
  readonly inflight: number;
  readonly metrics: readonly Metric[];
  /** Per system: failed measurements, errors reported by senders, malformed deliveries. */
  readonly problems: Partial<Record<SystemName, string[]>>;
}

/** The value of one measurement for `metric`, or null if it failed. */
function valueOf(metric: Metric['name'], spec: MeasureSpec, r: MeasureResult | undefined): number | null {
  if (!r || !r.ok || r.elapsedNs <= 0) return null;
  if (metric === 'rate') return spec.count / (r.elapsedNs / 1e9);
  const ns = r.latency?.[metric];
  return ns === undefined ? null : ns / 1000;
}

const RATIOS: readonly [SystemName, SystemName][] = [
  ['think', 'relay'],
  ['superjson-relay', 'relay'],
  ['clusterbus', 'relay'],
  ['clusterbus', 'think'],
  ['clusterbus', 'superjson-relay'],
];

export function ratioName(a: SystemName, b: SystemName): string {
  return `${a}/${b}`;
}

/** Summarises a row from `results[round][system]`. */
export function summarizeRow(
  spec: MeasureSpec,
  systems: readonly SystemName[],
  results: readonly Partial<Record<SystemName, MeasureResult>>[],
): ClusterRowSummary {
  const names: Metric['name'][] = spec.mode === 'map-latency' ? ['p50', 'p99'] : ['rate'];
  const metrics = names.map((name): Metric => {
    const rounds: Partial<Record<SystemName, (number | null)[]>> = {};
    const medians: Partial<Record<SystemName, number>> = {};
    for (const s of systems) {
      const values = results.map((round) => valueOf(name, spec, round[s]));
      rounds[s] = values;
      const m = median(values.filter((v): v is number => v !== null));
      if (m !== undefined) medians[s] = m;
    }
    const ratios: Record<string, number | undefined> = {};
    for (const [a, b] of RATIOS) {
      const per: number[] = [];
      results.forEach((_, i) => {
        const va = rounds[a]?.[i];
        const vb = rounds[b]?.[i];
        if (va != null && vb != null && vb > 0) per.push(va / vb);
      });
      ratios[ratioName(a, b)] = median(per);
    }
    const unit = name === 'rate' ? (spec.mode === 'map' ? 'calls/s' : 'msg/s') : 'µs';
    return { name, unit, rounds, medians, ratios };
  });
  const problems: Partial<Record<SystemName, string[]>> = {};
  for (const s of systems) {
    const list: string[] = [];
    results.forEach((round, i) => {
      const r = round[s];
      if (!r) return;
      if (!r.ok) list.push(`round ${i + 1}: ${r.error ?? r.firstError ?? `${r.errors} errors`}`);
      if (r.bad > 0) list.push(`round ${i + 1}: ${r.bad} malformed deliveries or wrong-length map replies`);
    });
    if (list.length > 0) problems[s] = list;
  }
  return {
    kind: 'cluster',
    mode: spec.mode,
    payload: spec.payload,
    count: spec.count,
    inflight: spec.inflight,
    metrics,
    problems,
  };
}

/** A tooling measurement: one line of the second table. */
export interface ToolRow {
  readonly kind: 'tool';
  readonly mode: 'gen' | 'tsc';
  /** What was measured, e.g. `gen 500 events (process)`. */
  readonly label: string;
  /** Median and every repeat, in ms. */
  readonly medianMs: number | undefined;
  readonly runsMs: readonly number[];
  /** The command that was timed. */
  readonly command: string;
  readonly ok: boolean;
  readonly note?: string;
}

const COLUMNS: readonly SystemName[] = ['relay', 'think', 'superjson-relay', 'clusterbus'];
const HEADERS = [
  'mode',
  'payload',
  'unit',
  'relay',
  'think',
  'sj-relay',
  'clusterbus',
  'think/relay',
  'sj/relay',
  'cb/relay',
  'cb/think',
  'cb/sj',
];

function pad(cells: readonly string[][]): string {
  const widths = cells[0]?.map((_, c) => Math.max(...cells.map((row) => (row[c] ?? '').length))) ?? [];
  return cells
    .map((row) =>
      row.map((cell, c) => (c < 3 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '),
    )
    .join('\n');
}

/** The cluster table: one line per row and metric. */
export function formatClusterTable(rows: readonly ClusterRowSummary[]): string {
  const cells: string[][] = [HEADERS];
  for (const row of rows) {
    for (const m of row.metrics) {
      const fmt = m.unit === 'µs' ? formatMicros : formatRate;
      cells.push([
        row.mode === 'map-latency' ? `map-latency ${m.name}` : row.mode,
        row.payload,
        m.unit,
        ...COLUMNS.map((s) => (s in m.rounds ? fmt(m.medians[s]) : 'skip')),
        ...RATIOS.map(([a, b]) => formatRatio(m.ratios[ratioName(a, b)])),
      ]);
    }
  }
  return pad(cells);
}

/** The tooling table. */
export function formatToolTable(rows: readonly ToolRow[]): string {
  const cells: string[][] = [['measure', 'median', 'runs', 'note']];
  for (const r of rows) {
    cells.push([
      r.label,
      formatMillis(r.medianMs),
      r.runsMs.map((v) => v.toFixed(0)).join(', '),
      r.ok ? (r.note ?? '') : `FAILED ${r.note ?? ''}`,
    ]);
  }
  return cells
    .map((row) => `${row[0]?.padEnd(44)}  ${row[1]?.padStart(8)}  ${row[2]?.padEnd(22)}  ${row[3]}`)
    .join('\n');
}

/** Appends JSON lines to `bench/results/<timestamp>.jsonl`. */
export class JsonlWriter {
  readonly file: string;
  constructor(dir: string, startedAt: Date) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.jsonl`);
  }
  write(record: object): void {
    fs.appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }
}
