/**
 * `clusterbus`: the run time in src/, through its public API only: the benchmark contract's
 * generated messenger (bench/contract/bench.bus.ts) in every worker, and the master's bus
 * (the broker) brought up with `busStats()` before the workers are forked.
 */
import { busPipeSettings, busStats } from 'clusterbus';
import { messenger } from '../contract/bench.bus.js';
import type { BenchPayload } from '../payloads.js';
import type { System } from './types.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const clusterbus: System = {
  rich: true,
  master: () => ({
    // `startCluster`'s default; bus traffic is on the pipe either way.
    serialization: (process.env.BENCH_CB_SERIALIZATION as 'json' | 'advanced' | undefined) ?? 'json',
    // The bus pipe, as `startCluster` sets it up (BENCH_CB_PIPE=0: the bus on IPC only).
    ...(process.env.BENCH_CB_PIPE === '0' ? {} : { fork: busPipeSettings() }),
    setup() {
      // The bus is created on first use; in the master that binds the broker to the cluster.
      busStats();
    },
    async joined(workers: number) {
      const until = Date.now() + 30_000;
      const ready = (): number =>
        busStats().broker?.peers.filter((p) => p.id !== 0 && p.state === 'ready' && p.handlers.length >= 3).length ?? 0;
      while (ready() < workers) {
        if (Date.now() > until) throw new Error(`only ${ready()} of ${workers} workers joined the clusterbus broker`);
        await sleep(10);
      }
    },
  }),
  worker: () => ({
    install(h) {
      messenger.on('bench.note', (p) => h.delivered(p));
      messenger.on('bench.task', (p) => h.delivered(p));
      messenger.on('bench.ask', (p) => h.answer(p));
    },
    broadcast(p: BenchPayload) {
      return messenger.broadcast('bench.note', p);
    },
    consume(p: BenchPayload) {
      return messenger.consume('bench.task', p);
    },
    map(p: BenchPayload) {
      return messenger.map('bench.ask', p);
    },
  }),
};
