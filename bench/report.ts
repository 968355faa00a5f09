/**
 * Turning measurements into numbers: per-round values, their medians, and ratios to the
 * relay baseline computed round by round (system / relay in the same round, then the median
 * over rounds). Prints the table and writes the JSON lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HostSystemName, MeasureResult, MeasureSpec, SystemName } from './protocol.js';
import { formatMicros, formatMillis, formatRate, formatRatio, median } from './stats.js';

/** One line of a cluster row: the throughput, or one latency percentile. */
export interface Metric {
  readonly name: 'rate' | 'p50' | 'p99';
  /** `msg/s` or `calls/s` (higher is better), or `µs` (lower is better). */
  readonly unit: 'msg/s' | 'calls/s' | 'µs';
  /** Per system: its value in each round (`null`: that measurement failed). */
  readonly rounds: Partial<Record<string, (number | null)[]>>;
  readonly medians: Partial<Record<string, number>>;
  /**
   * Cluster rows: `think/relay`, `superjson-relay/relay`, `clusterbus/relay`, `clusterbus/think`,
   * `clusterbus/superjson-relay`, `clusterbus+nats/clusterbus`; hosts rows: `clusterbus-nats/raw-nats`.
   */
  readonly ratios: Record<string, number | undefined>;
}

export interface ClusterRowSummary {
  /** `cluster`: one master per system; `hosts`: the hosts section (bench/hosts). */
  readonly kind: 'cluster' | 'hosts';
  readonly mode: MeasureSpec['mode'];
  readonly payload: MeasureSpec['payload'];
  readonly count: number;
  readonly inflight: number;
  readonly metrics: readonly Metric[];
  /** Per system: failed measurements, errors reported by senders, malformed deliveries. */
  readonly problems: Partial<Record<string, string[]>>;
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
  ['clusterbus+nats', 'clusterbus'],
];

/** The ratio of the hosts section. */
export const HOST_RATIOS: readonly [HostSystemName, HostSystemName][] = [['clusterbus-nats', 'raw-nats']];

export function ratioName(a: string, b: string): string {
  return `${a}/${b}`;
}

/** Whether a mode's rows show latency percentiles rather than a rate. */
export function isLatency(mode: MeasureSpec['mode']): boolean {
  return mode === 'map-latency' || mode === 'consume-latency';
}

/** Summarises a row from `results[round][system]`. */
export function summarizeRow<S extends string>(
  spec: MeasureSpec,
  systems: readonly S[],
  results: readonly Partial<Record<S, MeasureResult>>[],
  ratioPairs: readonly (readonly [string, string])[] = RATIOS,
  kind: ClusterRowSummary['kind'] = 'cluster',
): ClusterRowSummary {
  const names: Metric['name'][] = isLatency(spec.mode) ? ['p50', 'p99'] : ['rate'];
  const metrics = names.map((name): Metric => {
    const rounds: Partial<Record<string, (number | null)[]>> = {};
    const medians: Partial<Record<string, number>> = {};
    for (const s of systems) {
      const values = results.map((round) => valueOf(name, spec, round[s]));
      rounds[s] = values;
      const m = median(values.filter((v): v is number => v !== null));
      if (m !== undefined) medians[s] = m;
    }
    const ratios: Record<string, number | undefined> = {};
    for (const [a, b] of ratioPairs) {
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
  const problems: Partial<Record<string, string[]>> = {};
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
    kind,
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

const COLUMNS: readonly SystemName[] = ['relay', 'think', 'superjson-relay', 'clusterbus', 'clusterbus+nats'];
const HEADERS = [
  'mode',
  'payload',
  'unit',
  'relay',
  'think',
  'sj-relay',
  'clusterbus',
  'cb+nats',
  'think/relay',
  'sj/relay',
  'cb/relay',
  'cb/think',
  'cb/sj',
  'cb+nats/cb',
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
  return formatTable(rows, HEADERS, COLUMNS, RATIOS);
}

const HOST_COLUMNS: readonly HostSystemName[] = ['raw-nats', 'clusterbus-nats'];
const HOST_HEADERS = ['mode', 'payload', 'unit', 'raw-nats', 'cb-nats', 'cb-nats/raw'];

/** The hosts table (two hosts over NATS): one line per row and metric. */
export function formatHostsTable(rows: readonly ClusterRowSummary[]): string {
  return formatTable(rows, HOST_HEADERS, HOST_COLUMNS, HOST_RATIOS);
}

function formatTable(
  rows: readonly ClusterRowSummary[],
  headers: readonly string[],
  columns: readonly string[],
  ratios: readonly (readonly [string, string])[],
): string {
  const cells: string[][] = [[...headers]];
  for (const row of rows) {
    for (const m of row.metrics) {
      const fmt = m.unit === 'µs' ? formatMicros : formatRate;
      cells.push([
        isLatency(row.mode) ? `${row.mode} ${m.name}` : row.mode,
        row.payload,
        m.unit,
        ...columns.map((s) => (s in m.rounds ? fmt(m.medians[s]) : 'skip')),
        ...ratios.map(([a, b]) => formatRatio(m.ratios[ratioName(a, b)])),
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

/** One of the issue's targets, checked against a row's per-round median ratio. */
export interface TargetCheck {
  readonly target: string;
  readonly row: string;
  readonly ratio: number | undefined;
  /** `<=` or `>=` the bound. */
  readonly op: '<=' | '>=';
  readonly bound: number;
  /** Undefined when the row was not measured (or failed in every round). */
  readonly ok: boolean | undefined;
}

function check(
  target: string,
  row: ClusterRowSummary,
  metric: Metric['name'],
  ratio: string,
  op: '<=' | '>=',
  bound: number,
): TargetCheck {
  const value = row.metrics.find((m) => m.name === metric)?.ratios[ratio];
  const label = `${row.mode}${metric === 'rate' ? '' : ` ${metric}`} ${row.payload}`;
  const ok = value === undefined ? undefined : op === '<=' ? value <= bound : value >= bound;
  return { target, row: label, ratio: value, op, bound, ok };
}

/**
 * The issue's targets: cross-host map p50 ≤ 1.3× raw requestMany; small broadcast ≥ 1× raw
 * publish; map and consume throughput ≥ 0.8× raw request at 64 in flight; and on one host,
 * clusterbus+nats within 5% of clusterbus.
 */
export function checkTargets(
  cluster: readonly ClusterRowSummary[],
  hosts: readonly ClusterRowSummary[],
): TargetCheck[] {
  const cbRaw = ratioName('clusterbus-nats', 'raw-nats');
  const solo = ratioName('clusterbus+nats', 'clusterbus');
  const checks: TargetCheck[] = [];
  for (const row of hosts) {
    if (row.mode === 'map-latency')
      checks.push(check('cross-host map p50 ≤ 1.3x raw requestMany', row, 'p50', cbRaw, '<=', 1.3));
    if (row.mode === 'broadcast' && row.payload === 'small')
      checks.push(check('small broadcast ≥ 1x raw publish', row, 'rate', cbRaw, '>=', 1));
    if (row.mode === 'map')
      checks.push(check('map ≥ 0.8x raw requestMany, 64 in flight', row, 'rate', cbRaw, '>=', 0.8));
    if (row.mode === 'consume')
      checks.push(check('consume ≥ 0.8x raw request, 64 in flight', row, 'rate', cbRaw, '>=', 0.8));
  }
  for (const row of cluster) {
    for (const m of row.metrics) {
      if (!(solo in m.ratios) || m.ratios[solo] === undefined) continue;
      const latency = m.unit === 'µs';
      checks.push(
        check(
          'one host: clusterbus+nats within 5% of clusterbus',
          row,
          m.name,
          solo,
          latency ? '<=' : '>=',
          latency ? 1.05 : 0.95,
        ),
      );
    }
  }
  return checks;
}

/** The targets, one line each, grouped by target. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  const groups = new Map<string, TargetCheck[]>();
  for (const c of checks) groups.set(c.target, [...(groups.get(c.target) ?? []), c]);
  const width = Math.max(0, ...[...groups.keys()].map((k) => k.length));
  const lines: string[] = [];
  for (const [target, list] of groups) {
    const misses = list.filter((c) => c.ok === false).length;
    const verdict = list.every((c) => c.ok === undefined)
      ? 'not measured'
      : misses === 0
        ? 'met'
        : `MISSED ${misses}/${list.length}`;
    // Three decimals: a ratio shown as 0.95x may be just under a 0.95 bound.
    const items = list
      .map(
        (c) => `${c.row} ${c.ratio === undefined ? '—' : `${c.ratio.toFixed(3)}x`}${c.ok === false ? ' (miss)' : ''}`,
      )
      .join(', ');
    lines.push(`  ${target.padEnd(width)}  ${verdict.padEnd(12)}  ${items}`);
  }
  return lines.join('\n');
}
