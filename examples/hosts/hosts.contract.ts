import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';

/** Who answered a map, and from where. */
export interface Who {
  host: string;
  worker: number;
  pid: number;
}

export interface DemoEvents {
  /** Every worker on every host says who it is, after `delayMs` (to have time to kill a host). */
  'demo.who': MapCall<{ delayMs?: number }, Who>;
  /** A job for one worker, on whichever host. */
  'demo.job': Consume<{ id: string; from: string }>;
  /** A note for every worker on every host. */
  'demo.note': Broadcast<{ text: string; from: string }>;
}
