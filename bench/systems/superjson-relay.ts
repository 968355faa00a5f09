/**
 * `superjson-relay`: the naive rich-payload relay. `superjson.stringify` per message in the
 * sender, the string forwarded untouched by the master, `superjson.parse` in the receiver.
 */
import superjson from 'superjson';
import { relayMaster, relayWorker, type Codec } from './relay-core.js';
import type { System } from './types.js';

const codec: Codec = {
  encode: (v) => superjson.stringify(v),
  decode: (w) => superjson.parse(w as string),
};

export const superjsonRelay: System = {
  rich: true,
  master: relayMaster,
  worker: () => relayWorker(codec),
};
