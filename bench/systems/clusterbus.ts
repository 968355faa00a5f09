/**
 * `clusterbus`: the run time in src/, through its public API only: the benchmark contract's
 * generated messenger (bench/contract/bench.bus.ts) in every worker, and the master's bus
 * (the broker) brought up with `busStats()` before the workers are forked.
 *
 * `clusterbus+nats` and the hosts of `clusterbus-nats` are the same, with the master's bus
 * configured for NATS (`configureBus({ host, nats })`, then `busReady()`) before the workers
 * are forked. The driver passes the server and the names in the environment:
 * `BENCH_NATS_URL`, `BENCH_NATS_HOST`, `BENCH_NATS_NAMESPACE`.
 */
import { busPipeSettings, busReady, busStats, configureBus } from 'clusterbus';
import { messenger } from '../contract/bench.bus.js';
import { smallBody, type BenchPayload } from '../payloads.js';
import type { MasterSide, System } from './types.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The events every worker handles. */
const EVENTS = ['bench.ask', 'bench.note', 'bench.task'];

/** Workers (on any host) that are ready and handle every bench event. */
function readyPeers(host?: string): number {
  return (
    busStats().broker?.peers.filter(
      (p) =>
        p.id !== 0 &&
        p.state === 'ready' &&
        (host === undefined || p.host === host) &&
        EVENTS.every((e) => p.handlers.includes(e)),
    ).length ?? 0
  );
}

function masterSide(nats: boolean): MasterSide {
  const host = nats ? (process.env.BENCH_NATS_HOST ?? 'bench-a') : undefined;
  return {
    // `startCluster`'s default; bus traffic is on the pipe either way.
    serialization: (process.env.BENCH_CB_SERIALIZATION as 'json' | 'advanced' | undefined) ?? 'json',
    // The bus pipe, as `startCluster` sets it up (BENCH_CB_PIPE=0: the bus on IPC only).
    ...(process.env.BENCH_CB_PIPE === '0' ? {} : { fork: busPipeSettings() }),
    async setup() {
      if (nats) {
        const url = process.env.BENCH_NATS_URL;
        if (!url) throw new Error('BENCH_NATS_URL is not set (the driver starts a nats-server and sets it)');
        configureBus({
          host,
          nats: { servers: [url], namespace: process.env.BENCH_NATS_NAMESPACE ?? 'bench' },
        });
      }
      // The bus is created on first use; in the master that binds the broker to the cluster.
      busStats();
      // At once on one host; with NATS, once connected and every live host is known (~1.2 s).
      await busReady();
    },
    async joined(workers: number) {
      const until = Date.now() + 30_000;
      // Only this host's workers: another host's may already be known.
      const local = (): number => readyPeers(host);
      while (local() < workers) {
        if (Date.now() > until) throw new Error(`only ${local()} of ${workers} workers joined the clusterbus broker`);
        await sleep(10);
      }
    },
    peers() {
      return { ready: readyPeers(), hosts: busStats().nats?.hosts.map((h) => h.host) ?? [] };
    },
    async watchHostDeath(dead: string, timeoutMs: number) {
      const until = Date.now() + timeoutMs;
      const body = smallBody();
      for (let calls = 1; Date.now() < until; calls++) {
        const out = await messenger.mapSettled('bench.ask', { seq: calls, body }, { timeoutMs });
        const failed = out.filter((s) => !s.ok && s.host === dead);
        if (failed.length > 0) {
          const detectedAt = process.hrtime.bigint();
          const first = failed[0];
          return {
            detectedAt: String(detectedAt),
            calls,
            failed: failed.map((s) => `${s.host}/${s.worker} ${s.ok ? 'ok' : s.error.code}`),
            // The kill may come after some of them answered this call.
            answered: out.filter((s) => s.ok && s.host === dead).map((s) => `${s.host}/${s.worker}`),
            ...(first && !first.ok ? { message: first.error.message } : {}),
          };
        }
        // A host whose workers are already gone answers nothing: the call settled without them.
        if (!out.some((s) => s.host === dead)) {
          return {
            detectedAt: String(process.hrtime.bigint()),
            calls,
            failed: [],
            answered: [],
            message: `no worker of ${dead}`,
          };
        }
      }
      throw new Error(`no map reported ${dead}'s workers failed within ${timeoutMs} ms`);
    },
  };
}

function clusterbusSystem(nats: boolean): System {
  return {
    rich: true,
    master: () => masterSide(nats),
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
}

export const clusterbus: System = clusterbusSystem(false);
export const clusterbusNats: System = clusterbusSystem(true);
