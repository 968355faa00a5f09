/** `relay`: the baseline, plain objects through the default `json` IPC serialisation. */
import { identity, relayMaster, relayWorker } from './relay-core.js';
import type { System } from './types.js';

export const relay: System = {
  rich: false,
  master: relayMaster,
  worker: () => relayWorker(identity),
};
