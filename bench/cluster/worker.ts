/**
 * A benchmark worker: `worker.ts <system>`, forked by bench/cluster/master.ts. It installs the
 * same counting handlers on every system and, in worker 1 (the sender), runs the measured
 * loop when the master says `go`. Deliveries are timed with `process.hrtime.bigint()`, which
 * is the machine's monotonic clock in every process, so the master can subtract the
 * sender's first-send time from the receivers' last-delivery times.
 */
import cluster from 'node:cluster';
import { isIntact, makeBody, type BenchAnswer } from '../payloads.js';
import { percentiles } from '../stats.js';
import {
  isControl,
  type ControlDown,
  type ControlUp,
  type MasterSystem,
  type MeasureSpec,
  type SentReport,
} from '../protocol.js';
import { loadSystem } from '../systems/index.js';
import type { WorkerSide } from '../systems/types.js';

/** Sends are fired in chunks; between chunks the sender yields to its event loop. */
const CHUNK = 100;

const me = cluster.worker?.id ?? 0;
let count = 0;
let last = 0n;
let bad = 0;

const up = (m: ControlUp): void => {
  process.send?.(m);
};
const yieldLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const name = process.argv[2] as MasterSystem;
  const side = (await loadSystem(name)).worker();
  await side.install({
    delivered(p) {
      count++;
      last = process.hrtime.bigint();
      if (!isIntact(p)) bad++;
    },
    answer(p): BenchAnswer {
      if (!isIntact(p)) bad++;
      return { w: me, seq: (p as { seq?: number } | undefined)?.seq ?? -1 };
    },
  });
  process.on('message', (m: unknown) => {
    if (!isControl(m)) return;
    const c = m as ControlDown;
    switch (c.t) {
      case 'arm':
        count = 0;
        last = 0n;
        bad = 0;
        up({ bench: 1, q: c.q, t: 'armed' });
        break;
      case 'poll':
        up({ bench: 1, q: c.q, t: 'count', count, last: String(last), bad });
        break;
      case 'go':
        run(side, c.spec, c.workers).then(
          (report) => up({ bench: 1, q: c.q, t: 'sent', ...report }),
          (err: unknown) => up({ bench: 1, t: 'fatal', error: `sender failed: ${describe(err)}` }),
        );
        break;
    }
  });
  up({ bench: 1, t: 'ready' });
}

/** The sender's loop for one measurement. */
async function run(side: WorkerSide, spec: MeasureSpec, workers: number): Promise<SentReport> {
  const body = makeBody(spec.payload);
  let errors = 0;
  let firstError: string | undefined;
  const failed = (err: unknown): void => {
    errors++;
    firstError ??= describe(err);
  };
  const now = (): bigint => process.hrtime.bigint();

  if ((spec.mode === 'broadcast' || spec.mode === 'consume') && spec.inflight <= 1) {
    const fire = spec.mode === 'broadcast' ? side.broadcast.bind(side) : side.consume.bind(side);
    const pending: Promise<void>[] = [];
    const t0 = now();
    for (let i = 0; i < spec.count; i++) {
      try {
        const r = fire({ seq: i, body });
        if (r) pending.push(r.catch(failed));
      } catch (err) {
        failed(err);
      }
      if (i % CHUNK === CHUNK - 1) await yieldLoop();
    }
    await Promise.all(pending);
    const t1 = now();
    return { t0: String(t0), t1: String(t1), errors, bad: 0, completed: spec.count - errors, ...err(firstError) };
  }

  // map: every worker's answers; consume with calls in flight (the hosts section): settles when it ran.
  if (spec.mode === 'map' || spec.mode === 'consume') {
    let started = 0;
    let done = 0;
    let wrong = 0;
    const isMap = spec.mode === 'map';
    const t0 = now();
    await new Promise<void>((resolve) => {
      const launch = (): void => {
        const seq = started++;
        (isMap
          ? side.map({ seq, body }).then((answers) => {
              if (answers.length !== workers) wrong++;
            }, failed)
          : Promise.resolve(side.consume({ seq, body })).catch(failed)
        ).finally(() => {
          done++;
          if (started < spec.count) launch();
          else if (done === spec.count) resolve();
        });
      };
      for (let i = 0; i < Math.min(spec.inflight, spec.count); i++) launch();
    });
    const t1 = now();
    return { t0: String(t0), t1: String(t1), errors, bad: wrong, completed: done - errors, ...err(firstError) };
  }

  // map-latency, consume-latency: one call in flight.
  const lat = new Float64Array(spec.count);
  let wrong = 0;
  const isMap = spec.mode === 'map-latency';
  const t0 = now();
  for (let i = 0; i < spec.count; i++) {
    const s = now();
    try {
      if (isMap) {
        const answers = await side.map({ seq: i, body });
        if (answers.length !== workers) wrong++;
      } else {
        await side.consume({ seq: i, body });
      }
    } catch (e) {
      failed(e);
    }
    lat[i] = Number(now() - s);
  }
  const t1 = now();
  return {
    t0: String(t0),
    t1: String(t1),
    errors,
    bad: wrong,
    completed: spec.count - errors,
    latency: percentiles(lat),
    ...err(firstError),
  };
}

function err(first: string | undefined): { firstError?: string } {
  return first === undefined ? {} : { firstError: first };
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

main().catch((err: unknown) => {
  up({ bench: 1, t: 'fatal', error: `worker ${me} failed to start: ${describe(err)}` });
  process.exitCode = 1;
});
