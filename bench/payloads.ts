/**
 * The payload bodies. Every message is `{ seq, body }` with one body built once per run, so
 * building messages costs the same for every system; serialising them is the system's work.
 */
import type { BenchPayload, MediumBody, RichBody, SmallBody } from './contract/bench.contract.js';
import type { PayloadKind } from './protocol.js';

export type { BenchPayload, BenchAnswer } from './contract/bench.contract.js';

/** About 100 bytes as JSON, with its `seq` envelope. */
export function smallBody(): SmallBody {
  return { kind: 'small', id: 'user:48213', name: 'Ada Lovelace', active: true, score: 42.5, tags: ['a', 'b'] };
}

/** About 10 KB as JSON. */
export function mediumBody(): MediumBody {
  return {
    kind: 'medium',
    order: 'order-2024-000123',
    items: Array.from({ length: 90 }, (_, i) => ({
      id: i,
      sku: `SKU-${String(100000 + i)}`,
      name: `Item number ${i} of the order`,
      price: Math.round(i * 137.5) / 100,
      qty: (i % 7) + 1,
      tags: ['catalog', i % 2 === 0 ? 'even' : 'odd'],
    })),
  };
}

/** Date, Map, Set, bigint and undefined: only superjson-capable systems carry it intact. */
export function richBody(): RichBody {
  const at = new Date('2024-05-01T12:00:00.000Z');
  return {
    kind: 'rich',
    id: 'user:48213',
    at,
    until: new Date(at.getTime() + 86_400_000),
    counts: new Map(Array.from({ length: 8 }, (_, i) => [`k${i}`, i * 3] as [string, number])),
    tags: new Set(['red', 'green', 'blue', 'cyan']),
    big: 12345678901234567890n,
    nothing: undefined,
  };
}

export function makeBody(kind: PayloadKind): BenchPayload['body'] {
  switch (kind) {
    case 'small':
      return smallBody();
    case 'medium':
      return mediumBody();
    case 'rich':
      return richBody();
  }
}

/**
 * Whether `p` arrived as sent: a numbered message whose body has its kind, and for the rich
 * body real `Date`, `Map`, `Set` and `bigint` values. Run by every receiver on every delivery.
 */
export function isIntact(p: unknown): boolean {
  if (typeof p !== 'object' || p === null) return false;
  const { seq, body } = p as { seq?: unknown; body?: unknown };
  if (typeof seq !== 'number' || typeof body !== 'object' || body === null) return false;
  const b = body as Partial<RichBody> | Partial<SmallBody> | Partial<MediumBody>;
  switch (b.kind) {
    case 'small':
      return typeof b.name === 'string';
    case 'medium':
      return Array.isArray(b.items);
    case 'rich':
      return (
        b.at instanceof Date &&
        b.until instanceof Date &&
        b.counts instanceof Map &&
        b.tags instanceof Set &&
        typeof b.big === 'bigint' &&
        'nothing' in b
      );
    default:
      return false;
  }
}
