/** The systems under test, by name. Each is imported only in the processes that run it. */
import type { MasterSystem } from '../protocol.js';
import type { System } from './types.js';

export async function loadSystem(name: MasterSystem): Promise<System> {
  switch (name) {
    case 'relay':
      return (await import('./relay.js')).relay;
    case 'superjson-relay':
      return (await import('./superjson-relay.js')).superjsonRelay;
    case 'think':
      return (await import('./think.js')).think;
    case 'clusterbus':
      return (await import('./clusterbus.js')).clusterbus;
    case 'clusterbus+nats':
    case 'clusterbus-nats':
      return (await import('./clusterbus.js')).clusterbusNats;
  }
}
