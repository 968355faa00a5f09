/**
 * A benchmark master: `master.ts <system> <workers>`, spawned by the driver with an IPC
 * channel. It sets up the system's master side, forks the workers (bench/cluster/worker.ts),
 * and runs the measurements the driver asks for. Workers exit with it (a cluster worker
 * exits when its channel to the master closes); it exits when the driver goes away.
 *
 * In the hosts section (bench/hosts) a master is one host of several, and a measurement spans
 * them all: the driver asks each master for its steps one by one (`ctl`: arm, go, poll).
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import {
  isControl,
  type ControlDown,
  type ControlUp,
  type CtlAnswer,
  type CtlOp,
  type DriverToMaster,
  type MasterSystem,
  type MasterToDriver,
  type MeasureResult,
  type MeasureSpec,
} from '../protocol.js';
import { loadSystem } from '../systems/index.js';
import type { MasterSide } from '../systems/types.js';

/** How long receivers may take to count the last delivery once the sender finished. */
const DRAIN_TIMEOUT_MS = 60_000;
/** How long the sender's loop may take. */
const SEND_TIMEOUT_MS = 120_000;
const POLL_MS = 10;

const name = process.argv[2] as MasterSystem;
const size = Number(process.argv[3]);
const workers: Worker[] = [];
let stopping = false;

const toDriver = (m: MasterToDriver): void => {
  if (process.connected) process.send?.(m);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function stop(code: number): never {
  stopping = true;
  for (const w of workers) {
    try {
      w.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(code);
}

function fatal(error: string): never {
  process.stderr.write(`bench master (${name}): ${error}\n`);
  toDriver({ t: 'fatal', error });
  stop(1);
}

// Control requests to workers, answered by `q`.
let nextQ = 1;
const waiting = new Map<number, (m: ControlUp) => void>();
type Body = ControlDown extends infer C ? (C extends ControlDown ? Omit<C, 'bench' | 'q'> : never) : never;
function ask(w: Worker, body: Body, timeoutMs = 10_000): Promise<ControlUp> {
  const q = nextQ++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(q);
      reject(new Error(`worker ${w.id} did not answer '${body.t}' within ${timeoutMs} ms`));
    }, timeoutMs);
    waiting.set(q, (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    w.send({ bench: 1, q, ...body });
  });
}

async function measure(spec: MeasureSpec): Promise<MeasureResult> {
  await Promise.all(workers.map((w) => ask(w, { t: 'arm' })));
  const sender = workers[0];
  if (!sender) throw new Error('no workers');
  const sent = await ask(sender, { t: 'go', spec, workers: workers.length }, SEND_TIMEOUT_MS);
  if (sent.t !== 'sent') throw new Error(`unexpected answer '${sent.t}' to go`);
  const base = {
    errors: sent.errors,
    ...(sent.firstError !== undefined ? { firstError: sent.firstError } : {}),
  };

  if (spec.mode === 'map' || spec.mode === 'map-latency') {
    const counts = await pollAll();
    return {
      ok: sent.errors === 0,
      elapsedNs: Number(BigInt(sent.t1) - BigInt(sent.t0)),
      delivered: sent.completed,
      expected: spec.count,
      bad: sent.bad + counts.bad,
      ...base,
      ...(sent.latency ? { latency: sent.latency } : {}),
    };
  }

  // broadcast, consume: wait until the receivers counted every delivery.
  const expected = spec.mode === 'broadcast' ? spec.count * workers.length : spec.count;
  const until = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const counts = await pollAll();
    if (counts.count >= expected || Date.now() > until) {
      const complete = counts.count === expected;
      return {
        ok: complete && sent.errors === 0,
        ...(complete ? {} : { error: `receivers counted ${counts.count} of ${expected} deliveries` }),
        elapsedNs: Number(counts.last - BigInt(sent.t0)),
        delivered: counts.count,
        expected,
        bad: counts.bad,
        ...base,
      };
    }
    await sleep(POLL_MS);
  }
}

/** One step of a measurement that spans several processes (the hosts section). */
async function step(side: MasterSide, ctl: CtlOp): Promise<CtlAnswer> {
  switch (ctl.op) {
    case 'arm':
      await Promise.all(workers.map((w) => ask(w, { t: 'arm' })));
      return { op: 'armed' };
    case 'poll': {
      const c = await pollAll();
      return { op: 'count', count: c.count, last: String(c.last), bad: c.bad };
    }
    case 'go': {
      const sender = workers[0];
      if (!sender) throw new Error('no workers');
      const sent = await ask(sender, { t: 'go', spec: ctl.spec, workers: ctl.workers }, SEND_TIMEOUT_MS);
      if (sent.t !== 'sent') throw new Error(`unexpected answer '${sent.t}' to go`);
      const { bench: _b, q: _q, t: _t, ...report } = sent;
      return { op: 'sent', ...report };
    }
    case 'peers':
      if (!side.peers) throw new Error(`${name} cannot tell its peers`);
      return { op: 'peers', ...side.peers() };
    case 'death-watch':
      if (!side.watchHostDeath) throw new Error(`${name} cannot watch a host die`);
      return { op: 'death', ...(await side.watchHostDeath(ctl.host, ctl.timeoutMs)) };
  }
}

async function pollAll(): Promise<{ count: number; last: bigint; bad: number }> {
  const answers = await Promise.all(workers.map((w) => ask(w, { t: 'poll' })));
  let count = 0;
  let last = 0n;
  let bad = 0;
  for (const a of answers) {
    if (a.t !== 'count') continue;
    count += a.count;
    bad += a.bad;
    const l = BigInt(a.last);
    if (l > last) last = l;
  }
  return { count, last, bad };
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(size) || size < 1) fatal(`bad worker count '${process.argv[3] ?? ''}'`);
  process.on('disconnect', () => stop(0));
  process.on('SIGINT', () => stop(130));
  process.on('SIGTERM', () => stop(143));

  const system = await loadSystem(name);
  const side = system.master();
  await side.setup();

  let readyCount = 0;
  let allReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (allReady = resolve));
  cluster.on('message', (w: Worker, m: unknown) => {
    if (!isControl(m)) return;
    const c = m as ControlUp;
    if (c.t === 'ready') {
      if (++readyCount === size) allReady();
    } else if (c.t === 'fatal') {
      fatal(`worker ${w.id}: ${c.error}`);
    } else {
      waiting.get(c.q)?.(c);
      waiting.delete(c.q);
    }
  });
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) fatal(`worker ${w.id} exited (${signal ?? `code ${code ?? '?'}`})`);
  });

  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    args: [name],
    serialization: side.serialization ?? 'json',
    ...(side.fork ? { stdio: [...side.fork.stdio] as ('inherit' | 'ipc' | 'pipe')[] } : {}),
  });
  for (let i = 0; i < size; i++) workers.push(cluster.fork(side.fork ? { ...side.fork.env } : undefined));
  const startTimer = setTimeout(() => fatal(`workers not ready after 60 s (${readyCount} of ${size})`), 60_000);
  await ready;
  await side.joined?.(size);
  clearTimeout(startTimer);

  process.on('message', (m: DriverToMaster) => {
    if (m.t === 'stop') stop(0);
    if (m.t === 'ctl') {
      step(side, m.ctl).then(
        (answer) => toDriver({ t: 'ctl', q: m.q, ok: true, answer }),
        (err: unknown) =>
          toDriver({ t: 'ctl', q: m.q, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
    }
    if (m.t === 'measure') {
      measure(m.spec).then(
        (result) => toDriver({ t: 'result', q: m.q, result }),
        (err: unknown) =>
          toDriver({
            t: 'result',
            q: m.q,
            result: {
              ok: false,
              error: err instanceof Error ? err.message : String(err),
              elapsedNs: 0,
              delivered: 0,
              expected: 0,
              errors: 0,
              bad: 0,
            },
          }),
      );
    }
  });
  toDriver({ t: 'ready', pids: workers.map((w) => w.process.pid ?? 0) });
}

main().catch((err: unknown) => fatal(err instanceof Error ? (err.stack ?? err.message) : String(err)));
