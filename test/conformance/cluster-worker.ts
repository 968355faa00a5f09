// A real cluster worker of the conformance suite: it registers the conformance handlers on its
// process's bus, and drains through the protocol when the test asks (raw IPC `{ conf: 'drain' }`),
// answering `{ conf: 'drained' }` once the router said it owes nothing.
import cluster from 'node:cluster';
import { getBus } from '../../src/bus.js';
import { registerHandlers } from './handlers.js';

const bus = getBus();
registerHandlers((ev, h) => bus.endpoint.on(ev, h), cluster.worker?.id ?? -1, []);
process.on('message', (message: unknown) => {
  if ((message as { conf?: unknown } | null)?.conf !== 'drain') return;
  void bus.endpoint.drain().then(() => process.send?.({ conf: 'drained' }));
});
