/**
 * `raw-nats`: the baseline of the hosts section, the NATS client (`@nats-io/transport-node`)
 * used directly, one connection per process: `raw-nats.ts sender` or `raw-nats.ts responder <i>`,
 * spawned by the driver with an IPC channel (the same `ready` / `ctl` messages as a host's
 * master). Payloads are `JSON.stringify` / `JSON.parse`, `superjson` for `rich` (as
 * `superjson-relay`); answers are encoded the same way.
 *
 * - broadcast: one `publish` per message to `<prefix>.note.*`, which the first
 *   `RAW_BROADCAST_SUBSCRIBERS` responders subscribe to (one per host of `clusterbus-nats`);
 * - consume: `request()` to `<prefix>.task.*`, a queue group of every responder (one of them
 *   answers once it counted the task);
 * - map: `requestMany({ strategy: 'count', maxMessages: N })` to `<prefix>.ask.*`, which every
 *   responder answers (`{ w, seq }`).
 *
 * Environment: `BENCH_NATS_URL`, `BENCH_RAW_PREFIX`.
 */
import { connect } from '@nats-io/transport-node';
import superjson from 'superjson';
import { RAW_BROADCAST_SUBSCRIBERS } from '../modes.js';
import { isIntact, makeBody, type BenchAnswer } from '../payloads.js';
import type { CtlAnswer, CtlOp, DriverToMaster, MasterToDriver, MeasureSpec, SentReport } from '../protocol.js';
import { percentiles } from '../stats.js';

/** Sends are fired in chunks; between chunks the sender yields to its event loop (as bench/cluster/worker.ts). */
const CHUNK = 100;
const WAIT_MS = 120_000;

interface Codec {
  readonly name: 'plain' | 'rich';
  encode(value: unknown): string;
  decode(text: string): unknown;
}
const PLAIN: Codec = { name: 'plain', encode: (v) => JSON.stringify(v), decode: (t) => JSON.parse(t) as unknown };
const RICH: Codec = { name: 'rich', encode: (v) => superjson.stringify(v), decode: (t) => superjson.parse(t) };

const role = process.argv[2];
const index = Number(process.argv[3] ?? 0);
const url = process.env.BENCH_NATS_URL;
const prefix = process.env.BENCH_RAW_PREFIX ?? 'bench.raw';

let count = 0;
let last = 0n;
let bad = 0;

const toDriver = (m: MasterToDriver): void => {
  if (process.connected) process.send?.(m);
};
const yieldLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function main(): Promise<void> {
  if (!url) throw new Error('BENCH_NATS_URL is not set');
  if (role !== 'sender' && role !== 'responder') throw new Error(`unknown role '${role ?? ''}'`);
  process.on('disconnect', () => process.exit(0));
  const nc = await connect({ servers: url, name: `bench raw-nats ${role} ${index}` });

  if (role === 'responder') {
    for (const codec of [PLAIN, RICH]) {
      const delivered = (text: string): unknown => {
        const p = codec.decode(text);
        count++;
        last = process.hrtime.bigint();
        if (!isIntact(p)) bad++;
        return p;
      };
      if (index <= RAW_BROADCAST_SUBSCRIBERS) {
        nc.subscribe(`${prefix}.note.${codec.name}`, { callback: (_err, msg) => void delivered(msg.string()) });
      }
      nc.subscribe(`${prefix}.task.${codec.name}`, {
        queue: 'workers',
        callback: (_err, msg) => {
          delivered(msg.string());
          msg.respond('');
        },
      });
      nc.subscribe(`${prefix}.ask.${codec.name}`, {
        callback: (_err, msg) => {
          const p = codec.decode(msg.string());
          if (!isIntact(p)) bad++;
          const answer: BenchAnswer = { w: index, seq: (p as { seq?: number } | undefined)?.seq ?? -1 };
          msg.respond(codec.encode(answer));
        },
      });
    }
    // The server has every subscription before the driver hears `ready`.
    await nc.flush();
  }

  const step = async (ctl: CtlOp): Promise<CtlAnswer> => {
    switch (ctl.op) {
      case 'arm':
        count = 0;
        last = 0n;
        bad = 0;
        return { op: 'armed' };
      case 'poll':
        return { op: 'count', count, last: String(last), bad };
      case 'go':
        if (role !== 'sender') throw new Error('only the sender sends');
        return { op: 'sent', ...(await run(nc, ctl.spec, ctl.workers)) };
      default:
        throw new Error(`raw-nats cannot '${ctl.op}'`);
    }
  };
  process.on('message', (m: DriverToMaster) => {
    if (m.t === 'stop') {
      void nc.close().finally(() => process.exit(0));
    } else if (m.t === 'ctl') {
      step(m.ctl).then(
        (answer) => toDriver({ t: 'ctl', q: m.q, ok: true, answer }),
        (err: unknown) => toDriver({ t: 'ctl', q: m.q, ok: false, error: describe(err) }),
      );
    }
  });
  toDriver({ t: 'ready', pids: [process.pid] });
}

type Connection = Awaited<ReturnType<typeof connect>>;

/** The sender's loop for one measurement, as bench/cluster/worker.ts runs it for a worker. */
async function run(nc: Connection, spec: MeasureSpec, workers: number): Promise<SentReport> {
  const codec = spec.payload === 'rich' ? RICH : PLAIN;
  const body = makeBody(spec.payload);
  const note = `${prefix}.note.${codec.name}`;
  const task = `${prefix}.task.${codec.name}`;
  const ask = `${prefix}.ask.${codec.name}`;
  let errors = 0;
  let wrong = 0;
  let firstError: string | undefined;
  const failed = (err: unknown): void => {
    errors++;
    firstError ??= describe(err);
  };
  const now = (): bigint => process.hrtime.bigint();
  const report = (t0: bigint, t1: bigint, completed: number): SentReport => ({
    t0: String(t0),
    t1: String(t1),
    errors,
    bad: wrong,
    completed,
    ...(firstError === undefined ? {} : { firstError }),
  });
  // One call: every responder's answers (requestMany), or one queue-group member's reply (request).
  const call = async (seq: number, many: boolean): Promise<void> => {
    const data = codec.encode({ seq, body });
    if (!many) {
      await nc.request(task, data, { timeout: WAIT_MS });
      return;
    }
    const answers: unknown[] = [];
    for await (const m of await nc.requestMany(ask, data, {
      strategy: 'count',
      maxMessages: workers,
      maxWait: WAIT_MS,
    })) {
      answers.push(codec.decode(m.string()));
    }
    if (answers.length !== workers) wrong++;
  };

  if (spec.mode === 'broadcast') {
    const t0 = now();
    for (let i = 0; i < spec.count; i++) {
      try {
        nc.publish(note, codec.encode({ seq: i, body }));
      } catch (err) {
        failed(err);
      }
      if (i % CHUNK === CHUNK - 1) await yieldLoop();
    }
    await nc.flush();
    return report(t0, now(), spec.count - errors);
  }

  if (spec.mode === 'map' || spec.mode === 'consume') {
    const many = spec.mode === 'map';
    let started = 0;
    let done = 0;
    const t0 = now();
    await new Promise<void>((resolve) => {
      const launch = (): void => {
        const seq = started++;
        call(seq, many)
          .catch(failed)
          .finally(() => {
            done++;
            if (started < spec.count) launch();
            else if (done === spec.count) resolve();
          });
      };
      for (let i = 0; i < Math.min(spec.inflight, spec.count); i++) launch();
    });
    return report(t0, now(), done - errors);
  }

  // map-latency (requestMany), consume-latency (request): one call in flight.
  const many = spec.mode === 'map-latency';
  const lat = new Float64Array(spec.count);
  const t0 = now();
  for (let i = 0; i < spec.count; i++) {
    const s = now();
    try {
      await call(i, many);
    } catch (err) {
      failed(err);
    }
    lat[i] = Number(now() - s);
  }
  return { ...report(t0, now(), spec.count - errors), latency: percentiles(lat) };
}

main().catch((err: unknown) => {
  toDriver({ t: 'fatal', error: `raw-nats ${role ?? '?'} ${index}: ${describe(err)}` });
  process.exit(1);
});
