// Back-pressure: a sender that outruns a slow worker waits for it instead of the master
// buffering without bound. The broker acknowledges a broadcast only once every channel it went
// to is below the high-water mark (`HIGH_WATER_CHARS` of batches handed to the channel but not
// yet written), so a sender that awaits its broadcasts (a bounded number in flight) is held
// back to the slow worker's pace.
//
// Each test floods two workers, one of them slow (its handler blocks it for BLOCK_MS per
// message, so it reads nothing from its channel meanwhile), with broadcasts of BLOB_CHARS
// characters: 160 MB from the master, most of which it would hold for the slow worker if
// nothing held it back, or 80 MB from a worker (which sends more slowly, through the master).
// It checks that nothing is lost, damaged or reordered, that the master's memory stayed far
// below the flood's size, and that the sender really was held back: when its last broadcast
// was acknowledged, the slow worker had handled all but about a channel's worth.
import test, { type ExecutionContext } from 'ava';
import { HIGH_WATER_CHARS } from '../../src/transports/stream/outbox.js';
import { floodBlob } from '../fixtures/cluster/flood.js';
import { memorySampler, type MemoryGrowth } from '../helpers/memory.js';
import { messenger } from '../fixtures/cluster/messenger.js';
import type { FloodStats } from '../fixtures/cluster/test.contract.js';
import { sleep, startWorkers, stopAllWorkers, waitForQuiet } from '../helpers/cluster.js';

test.afterEach.always(stopAllWorkers);

const MiB = 1024 * 1024;
/** Characters of each flood message's blob. */
const BLOB_CHARS = 20_000;
/** Messages of the master's flood (160 MB), and of a worker's (80 MB). */
const MASTER_COUNT = 8_000;
const WORKER_COUNT = 4_000;
/**
 * Messages of the flood that comes first, unmeasured: it brings the master to its working
 * size (V8's young generation grows to its full size under such a load, the allocator keeps
 * the buffers it used) so that the measured flood shows what it holds, not that.
 */
const WARM_UP = 1_000;
/** Broadcasts a sender has in flight: each lane sends its next one once the last is acknowledged. */
const IN_FLIGHT = 64;
/** How long the slow worker's handler blocks it, per message: a flood of n takes it n × BLOCK_MS at least. */
const BLOCK_MS = 1;
/**
 * How many messages the sender may be ahead of the slow worker when its last broadcast is
 * acknowledged: the channel's high-water mark, plus slack for the batch being built, the
 * socket's buffer and the batch the worker is reading and handling, plus what is in flight.
 */
const MAX_LAG = Math.ceil((HIGH_WATER_CHARS + 8 * MiB) / BLOB_CHARS) + IN_FLIGHT;
/**
 * Most the master's memory may grow during the flood. It holds one channel's high-water mark
 * (8 Mi characters) for the slow worker; without back-pressure, most of the flood.
 */
const MAX_RSS_GROWTH = 64 * MiB;
const MAX_HEAP_GROWTH = 32 * MiB;
/** How often the master samples its memory, in ms. */
const SAMPLE_MS = 25;

const mb = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const growth = (m: MemoryGrowth): string => `rss ${mb(m.rss)}, live heap ${mb(m.heap)}, external ${mb(m.external)}`;

interface Sent {
  sent: number;
  failed: number;
  startedAt: number;
  doneAt: number;
}

/** Forks the slow worker, then the fast one. */
async function startSlowAndFast(): Promise<{ slow: number; fast: number }> {
  const [slow] = await startWorkers(1, { FIXTURE_FLOOD_BLOCK_MS: String(BLOCK_MS) });
  const [fast] = await startWorkers(1);
  return { slow: slow!.id, fast: fast!.id };
}

/** The master floods the workers itself: `count` messages, IN_FLIGHT broadcasts at a time. */
async function floodFromMaster(count: number): Promise<Sent> {
  const startedAt = Date.now();
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const seq = next++;
      try {
        await messenger.broadcast('test.flood', { seq, blob: floodBlob(seq, BLOB_CHARS) });
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return { sent: next, failed, startedAt, doneAt: Date.now() };
}

/** Worker `sender` floods the workers (itself included): `count` messages, IN_FLIGHT at a time. */
async function floodFromWorker(sender: number, count: number) {
  const results = await messenger.map('test.flood.send', {
    onlyWorker: sender,
    count,
    inFlight: IN_FLIGHT,
    blobChars: BLOB_CHARS,
  });
  const sent = results.find((r) => r !== null);
  if (!sent) throw new Error(`worker ${sender} did not flood`);
  return sent;
}

/**
 * Polls the workers' flood counters until each has handled `count` messages (or a minute
 * passed); `handledBy` counts what each had handled by the time `at`.
 */
async function floodReceived(count: number, at?: number): Promise<FloodStats[]> {
  const until = Date.now() + 60_000;
  for (;;) {
    const stats = await messenger.map('test.flood.stats', at === undefined ? {} : { at });
    if (stats.every((s) => s.received >= count) || Date.now() > until) return stats;
    await sleep(100);
  }
}

/** Floods the workers WARM_UP messages with `flood`, waits until they handled them, and zeroes their counters. */
async function warmUp(flood: (count: number) => Promise<unknown>): Promise<void> {
  await flood(WARM_UP);
  await floodReceived(WARM_UP);
  await messenger.map('test.flood.stats', { reset: true });
}

/** The checks both tests make. */
function checkFlood(
  t: ExecutionContext,
  ids: { slow: number; fast: number },
  sent: Sent,
  stats: FloodStats[],
  memory: MemoryGrowth,
): void {
  const count = sent.sent;
  const elapsed = sent.doneAt - sent.startedAt;
  const lag = count - (stats.find((s) => s.worker === ids.slow)?.handledBy ?? 0);
  t.log(`${count} × ${BLOB_CHARS} characters sent in ${elapsed} ms`);
  t.log(`the slow worker was ${lag} messages behind at the last acknowledgement (at most ${MAX_LAG})`);
  t.log(`the master's peak growth: ${growth(memory)}`);

  // Every broadcast accepted, and every worker handled every message, in order and intact.
  t.is(sent.failed, 0, 'no broadcast was rejected');
  t.deepEqual(
    stats.map((s) => s.worker),
    [ids.slow, ids.fast],
  );
  for (const s of stats) {
    t.is(s.received, count, `worker ${s.worker} handled the whole flood`);
    t.is(s.chars, count * BLOB_CHARS, `worker ${s.worker} received every character`);
    t.true(s.inOrder, `worker ${s.worker} handled the flood in order`);
    t.is(s.damaged, 0, `worker ${s.worker} received every blob intact`);
  }

  // The master held a bounded amount, far below the flood's size.
  t.true(memory.rss < MAX_RSS_GROWTH, `the master's rss grew by ${mb(memory.rss)}`);
  t.true(memory.heap < MAX_HEAP_GROWTH, `the master's live heap grew by ${mb(memory.heap)}`);
  t.true(memory.external < MAX_HEAP_GROWTH, `the master's external memory grew by ${mb(memory.external)}`);

  // The sender was held back to the slow worker's pace: when its last broadcast was
  // acknowledged, the slow worker had handled all but about a channel's worth of the flood,
  // which takes it BLOCK_MS per message at least.
  t.true(lag <= MAX_LAG, `the sender finished ${lag} messages ahead of the slow worker`);
  t.true(elapsed >= (count - MAX_LAG) * BLOCK_MS, `the sender took ${elapsed} ms`);
}

test.serial(
  'backpressure - the master flooding a slow worker waits for it: bounded memory, nothing lost',
  async (t) => {
    t.timeout(90_000);
    const ids = await startSlowAndFast();
    await warmUp(floodFromMaster);
    const memory = memorySampler(SAMPLE_MS);
    try {
      const sent = await floodFromMaster(MASTER_COUNT);
      t.is(sent.sent, MASTER_COUNT);
      const stats = await floodReceived(MASTER_COUNT, sent.doneAt);
      checkFlood(t, ids, sent, stats, memory.stop());
    } finally {
      memory.stop();
    }
    await waitForQuiet();
  },
);

test.serial('backpressure - a worker flooding a slow worker waits for it: bounded memory, nothing lost', async (t) => {
  t.timeout(90_000);
  const ids = await startSlowAndFast();
  await warmUp((count) => floodFromWorker(ids.fast, count));
  const memory = memorySampler(SAMPLE_MS);
  try {
    const sent = await floodFromWorker(ids.fast, WORKER_COUNT);
    t.is(sent.sent, WORKER_COUNT);
    const stats = await floodReceived(WORKER_COUNT, sent.doneAt);
    t.log(`the sending worker's peak growth: ${growth(sent.memory)}`);
    checkFlood(t, ids, sent, stats, memory.stop());
    // Nor did anything pile up in the sender: what it sends, the master reads at once.
    t.true(sent.memory.rss < MAX_RSS_GROWTH, `the sending worker's rss grew by ${mb(sent.memory.rss)}`);
    t.true(sent.memory.heap < MAX_HEAP_GROWTH, `the sending worker's live heap grew by ${mb(sent.memory.heap)}`);
  } finally {
    memory.stop();
  }
  await waitForQuiet();
});
