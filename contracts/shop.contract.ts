import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';

/** Events of the example shop (see examples/shop). */
export interface ShopEvents {
  /** Drop cached entries on every worker. */
  'cache.invalidate': Broadcast<{ keys: string[]; at: Date }>;
  /** Charge one order; exactly one worker does it. */
  'order.charge': Consume<{ orderId: string; amount: bigint }, { timeoutMs: 5000; redeliver: true }>;
  /** Every worker reports its cache stats. */
  'cache.stats': MapCall<
    { detailed: boolean },
    { pid: number; entries: number; since: Date },
    { timeoutMs: 2000; maxResultBytes: 4096 }
  >;
}
