/**
 * `think`: think-cluster's messenger (lib/messenger.js), one `new Messenger()` in the master
 * and one per worker. Its semantics, measured as they are:
 * - broadcast asserts a local listener, then goes to every alive worker, the sender included;
 * - consume goes to the first alive worker, and only when the sender is that worker (the
 *   benchmark's sender is worker 1, so every task runs on worker 1, through the master);
 * - map fans out and gathers in the master; the reply still carries the call's payload.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import type { BenchPayload } from '../payloads.js';
import type { System } from './types.js';

interface ThinkMessenger extends EventEmitter {
  broadcast(action: string, data: unknown): void;
  consume(action: string, data: unknown): void;
  map(action: string, data: unknown): Promise<unknown[]>;
}

const require = createRequire(import.meta.url);
const load = (): new () => ThinkMessenger => require('think-cluster/lib/messenger.js') as new () => ThinkMessenger;

export const think: System = {
  rich: false,
  master: () => ({
    setup() {
      const Messenger = load();
      new Messenger();
    },
  }),
  worker: () => {
    const Messenger = load();
    const m = new Messenger();
    return {
      install(h) {
        m.on('bench.note', (p: unknown) => h.delivered(p));
        m.on('bench.task', (p: unknown) => h.delivered(p));
        m.on('bench.ask', (p: unknown) => h.answer(p));
      },
      broadcast(p: BenchPayload) {
        m.broadcast('bench.note', p);
      },
      consume(p: BenchPayload) {
        m.consume('bench.task', p);
      },
      map(p: BenchPayload) {
        return m.map('bench.ask', p);
      },
    };
  },
};
