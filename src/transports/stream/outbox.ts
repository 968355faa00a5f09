/**
 * One channel's outgoing envelopes. Everything sent in one turn of the event loop leaves as
 * one batch at the end of the turn (a microtask, so a lone message waits for nothing), or
 * earlier when the batch is full. The outbox also counts what the channel has accepted but
 * not yet written, so that senders can wait while a slow reader lets it fill up.
 */
import { BatchWriter } from './batch.js';
import type { DownFrame, UpFrame } from '../../core/protocol/frames.js';

/** A batch is sent as soon as it holds this many envelopes. */
const MAX_RECORDS = 512;
/**
 * ... or this many characters of envelopes and payloads. Batches this size keep every process
 * busy: the master forwards one while the sender is still writing the next (with 1 Mi
 * characters, 10 KB maps ran some 20% slower in the bench, the processes waiting on each other).
 */
export const MAX_BATCH_CHARS = 64 * 1024;
/** Above this many characters written but not yet flushed by the channel, it is congested. */
export const HIGH_WATER_CHARS = 8 * 1024 * 1024;

/**
 * Writes a batch to the channel; calls `flushed` once the channel has written it (or failed
 * to). Returns false if the channel is gone.
 */
export type WriteBatch = (batch: string, flushed: () => void) => boolean;

export class Outbox {
  private readonly batch = new BatchWriter();
  private unflushed = 0;
  private scheduled = false;
  private waiting: (() => void)[] = [];

  constructor(private readonly write: WriteBatch) {}

  /** Queues an envelope for the end of this turn. */
  push(frame: UpFrame | DownFrame): void {
    const batch = this.batch;
    batch.add(frame);
    if (batch.records >= MAX_RECORDS || batch.chars >= MAX_BATCH_CHARS) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Sends what is queued now. */
  flush(): void {
    if (this.batch.empty) return;
    const batch = this.batch.finish();
    // Only the size is kept for the callback: the channel has its own copy of the batch, and
    // holding on to the string until the write completes would keep every unwritten batch twice.
    const size = batch.length;
    this.unflushed += size;
    const sent = this.write(batch, () => {
      this.unflushed -= size;
      if (!this.congested) this.release();
    });
    if (!sent) {
      this.unflushed -= size;
      this.release();
    }
  }

  /** Whether the channel holds more unwritten data than it should. */
  get congested(): boolean {
    return this.unflushed > HIGH_WATER_CHARS;
  }

  /** Characters accepted by the channel and not yet written. */
  get backlog(): number {
    return this.unflushed;
  }

  /** Runs `then` once the channel is no longer congested (at once if it is not). */
  whenWritable(then: () => void): void {
    if (!this.congested) then();
    else this.waiting.push(then);
  }

  /** Lets every waiter go: the channel drained, or is gone and will drop what it gets. */
  release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const then of waiting) then();
  }
}
