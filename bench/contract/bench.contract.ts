import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';

/** The ~100 B payload body. */
export interface SmallBody {
  kind: 'small';
  id: string;
  name: string;
  active: boolean;
  score: number;
  tags: string[];
}

/** One line of the ~10 KB payload body. */
export interface MediumItem {
  id: number;
  sku: string;
  name: string;
  price: number;
  qty: number;
  tags: string[];
}

/** The ~10 KB payload body. */
export interface MediumBody {
  kind: 'medium';
  order: string;
  items: MediumItem[];
}

/** A body only a superjson-capable bus carries intact. */
export interface RichBody {
  kind: 'rich';
  id: string;
  at: Date;
  until: Date;
  counts: Map<string, number>;
  tags: Set<string>;
  big: bigint;
  nothing: undefined;
}

/** What every benchmark message carries: a sequence number and one of the bodies. */
export interface BenchPayload {
  seq: number;
  body: SmallBody | MediumBody | RichBody;
}

/** What a `bench.ask` handler answers. */
export interface BenchAnswer {
  w: number;
  seq: number;
}

/** Events of the benchmark cluster (bench/cluster). */
export interface BenchEvents {
  /** Broadcast throughput: every worker counts it. */
  'bench.note': Broadcast<BenchPayload>;
  /** Consume throughput: the one worker that runs it counts it. */
  'bench.task': Consume<BenchPayload, { timeoutMs: 120000 }>;
  /** Map throughput and latency: every worker answers. */
  'bench.ask': MapCall<BenchPayload, BenchAnswer, { timeoutMs: 120000 }>;
}
