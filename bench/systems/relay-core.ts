/**
 * The hand-written relay behind `relay` and `superjson-relay`: one `process.send` per message,
 * default `json` IPC serialisation, every message worker → master → destination worker(s).
 * The master forwards payloads untouched; the codec (identity or superjson) runs in workers.
 *
 * - broadcast: the master sends it to every worker, the sender included.
 * - consume: the master sends it to one worker, round-robin over every worker.
 * - map: the master fans the call out to every worker, gathers the answers in worker order,
 *   then sends the array back to the caller in one message.
 */
import cluster, { type Worker } from 'node:cluster';
import type { BenchHandlers, MasterSide, WorkerSide } from './types.js';
import type { BenchPayload } from '../payloads.js';

/** How payloads and answers travel: `encode` in the sender, `decode` in the receiver. */
export interface Codec {
  encode(value: unknown): unknown;
  decode(wire: unknown): unknown;
}

export const identity: Codec = { encode: (v) => v, decode: (v) => v };

/** Relay envelopes; `r: 1` tells them from anything else on the channel. */
type Up =
  | { r: 1; t: 'b' | 'c'; p: unknown }
  | { r: 1; t: 'm'; id: number; p: unknown }
  | { r: 1; t: 'a'; id: number; i: number; v: unknown };
type Down =
  | { r: 1; t: 'b' | 'c'; p: unknown }
  | { r: 1; t: 'm'; id: number; i: number; p: unknown }
  | { r: 1; t: 'a'; id: number; v: unknown[] };

function isRelay(m: unknown): m is Up & Down {
  return typeof m === 'object' && m !== null && (m as { r?: unknown }).r === 1;
}

export function relayMaster(): MasterSide {
  return {
    setup() {
      let workers: Worker[] = [];
      const refresh = (): void => {
        workers = Object.values(cluster.workers ?? {})
          .filter((w): w is Worker => w !== undefined && w.isConnected())
          .sort((a, b) => a.id - b.id);
      };
      cluster.on('online', refresh);
      cluster.on('disconnect', refresh);
      cluster.on('exit', refresh);
      let next = 0;
      let nextId = 1;
      const calls = new Map<number, { from: Worker; id: number; left: number; answers: unknown[] }>();
      const send = (w: Worker, m: Down): void => {
        if (w.isConnected()) w.send(m);
      };
      cluster.on('message', (from: Worker, m: unknown) => {
        if (!isRelay(m)) return;
        switch (m.t) {
          case 'b':
            for (const w of workers) send(w, { r: 1, t: 'b', p: m.p });
            break;
          case 'c': {
            const w = workers[next++ % workers.length];
            if (w) send(w, { r: 1, t: 'c', p: m.p });
            break;
          }
          case 'm': {
            const id = nextId++;
            calls.set(id, { from, id: m.id, left: workers.length, answers: new Array<unknown>(workers.length) });
            workers.forEach((w, i) => send(w, { r: 1, t: 'm', id, i, p: m.p }));
            break;
          }
          case 'a': {
            const call = calls.get(m.id);
            if (!call) break;
            call.answers[m.i] = m.v;
            if (--call.left === 0) {
              calls.delete(m.id);
              send(call.from, { r: 1, t: 'a', id: call.id, v: call.answers });
            }
            break;
          }
        }
      });
    },
  };
}

export function relayWorker(codec: Codec): WorkerSide {
  const send = (m: Up): void => {
    process.send?.(m);
  };
  const waiting = new Map<number, (answers: unknown[]) => void>();
  let nextId = 1;
  return {
    install(h: BenchHandlers) {
      process.on('message', (m: unknown) => {
        if (!isRelay(m)) return;
        switch (m.t) {
          case 'b':
          case 'c':
            h.delivered(codec.decode(m.p));
            break;
          case 'm':
            send({ r: 1, t: 'a', id: m.id, i: m.i, v: codec.encode(h.answer(codec.decode(m.p))) });
            break;
          case 'a': {
            const done = waiting.get(m.id);
            waiting.delete(m.id);
            done?.((m.v as unknown[]).map((v) => codec.decode(v)));
            break;
          }
        }
      });
    },
    broadcast(p: BenchPayload) {
      send({ r: 1, t: 'b', p: codec.encode(p) });
    },
    consume(p: BenchPayload) {
      send({ r: 1, t: 'c', p: codec.encode(p) });
    },
    map(p: BenchPayload) {
      const id = nextId++;
      return new Promise<unknown[]>((resolve) => {
        waiting.set(id, resolve);
        send({ r: 1, t: 'm', id, p: codec.encode(p) });
      });
    },
  };
}
