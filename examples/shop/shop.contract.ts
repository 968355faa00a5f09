import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';

/** Events of the demo shop. */
export interface DemoShopEvents {
  /** Drop cached entries on every worker. */
  'cache.invalidate': Broadcast<{ keys: string[]; at: Date }>;
  /** Charge one order; exactly one worker does it. */
  'order.charge': Consume<{ orderId: string; amount: bigint }, { timeoutMs: 5000; redeliver: true }>;
  /** Load the price list once, cluster-wide, at boot. */
  'prices.warmup': Consume<{ requestedBy: number }, { timeoutMs: 10000 }>;
  /** Every worker reports its cache stats. */
  'cache.stats': MapCall<
    { detailed: boolean },
    { worker: number; pid: number; entries: number; since: Date; keys?: string[] },
    { timeoutMs: 2000; maxResultBytes: 4096 }
  >;
}
