/**
 * One direction of the link between two hosts, made reliable on top of core NATS, which is
 * at-most-once: the client drops what it had not written when it reconnects, a server cuts a
 * slow client silently, and `publish` does not fail while disconnected. So every data message
 * carries the link's sequence number; the receiver delivers them in order, once, and
 * acknowledges; the sender keeps what is not acknowledged (bounded by the window) and sends it
 * again after a reconnect on either side or a silence.
 */
import { encodeData, entryChars, type LinkAddress, type LinkEntry } from './link-codec.js';
import type { CallFrame } from '../../core/protocol/frames.js';

/** Characters queued for one flush beyond which senders wait for it (see `congested`). */
const MAX_QUEUED_CHARS = 256 * 1024;

interface Sent {
  readonly seq: number;
  readonly text: string;
  readonly bytes: number;
}

/** The sending side, toward one host. */
export class OutLink {
  private seq = 0;
  private queue: LinkEntry[] = [];
  private queuedChars = 0;
  private readonly unacked: Sent[] = [];
  private unackedBytes = 0;
  private waiters: (() => void)[] = [];
  private flushing = false;
  private closed = false;
  /** When an acknowledgement last moved the window, or data was first sent after a quiet time. */
  private progressAt = Date.now();
  private resendAfterMs: number;
  /** Messages sent again, for status. */
  resent = 0;

  constructor(
    private readonly address: LinkAddress,
    private readonly subject: string,
    private readonly publish: (subject: string, text: string) => boolean,
    private readonly windowBytes: number,
    /** The largest message the server takes, in bytes. */
    private readonly maxMessageBytes: () => number,
    private readonly onDropped: (entries: LinkEntry[], bytes: number) => void,
    private readonly baseResendMs = 1000,
  ) {
    this.resendAfterMs = baseResendMs;
  }

  /** A call of this host's router to a worker there; calls of one broadcast to several workers travel once. */
  call(worker: number, frame: CallFrame): void {
    const last = this.queue[this.queue.length - 1];
    if (last?.k === 'c' && last.frame === frame) {
      last.workers.push(worker);
      return;
    }
    this.push({ k: 'c', workers: [worker], frame });
  }

  push(entry: LinkEntry): void {
    if (this.closed) return;
    this.queue.push(entry);
    this.queuedChars += entryChars(entry);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Whether a sender should wait: more is in flight than the window allows, or more is queued
   * than one flush should carry. The second bound matters for a sender whose calls complete
   * without I/O (the master's own messenger): without it, it could queue a whole window of
   * small messages in one turn of the event loop, seconds on a busy machine, during which this
   * process runs no timer and sends no heartbeat, and the other hosts declare it dead.
   */
  get congested(): boolean {
    return this.windowFull || this.queuedChars > MAX_QUEUED_CHARS;
  }

  /** Whether more is in flight than the window allows. */
  get windowFull(): boolean {
    return this.unackedBytes + this.queuedChars > this.windowBytes;
  }

  /** Runs `then` once the window has room again, or the link closed. */
  whenWritable(then: () => void): void {
    if (!this.congested || this.closed) then();
    else this.waiters.push(then);
  }

  /** Bytes sent and not yet acknowledged. */
  get inFlightBytes(): number {
    return this.unackedBytes;
  }

  /** The receiver has everything up to `seq`. */
  acked(seq: number): void {
    let n = 0;
    while (n < this.unacked.length && (this.unacked[n] as Sent).seq <= seq) {
      this.unackedBytes -= (this.unacked[n] as Sent).bytes;
      n++;
    }
    if (n === 0) return;
    this.unacked.splice(0, n);
    this.progressAt = Date.now();
    this.resendAfterMs = this.baseResendMs;
    this.wake();
  }

  /** Sends everything not acknowledged again, in order (after a reconnect, or when asked). */
  resend(): void {
    for (const sent of this.unacked) {
      this.resent++;
      this.publish(this.subject, sent.text);
    }
    this.progressAt = Date.now();
  }

  /**
   * Called periodically. Data still unacknowledged a while after the receiver was last heard
   * from was lost on the way (between servers of a NATS cluster, where neither side
   * reconnects) and is sent again, backing off. A receiver that is silent too (stopped, or
   * gone) gets no copies: they would only pile up in the server's buffer for it.
   */
  tick(now: number, lastHeard: number): void {
    if (this.unacked.length === 0) {
      this.progressAt = now;
      return;
    }
    if (now - this.progressAt < this.resendAfterMs || lastHeard <= this.progressAt) return;
    this.resend();
    this.resendAfterMs = Math.min(this.resendAfterMs * 2, 8 * this.baseResendMs);
  }

  /** Stops: nothing more is sent; waiters run (the host is gone). */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.queuedChars = 0;
    this.unacked.length = 0;
    this.unackedBytes = 0;
    this.wake(true);
  }

  private wake(all = false): void {
    if (this.waiters.length === 0 || (!all && this.congested)) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private flush(): void {
    this.flushing = false;
    if (this.closed || this.queue.length === 0) return;
    this.sendQueued();
    this.wake();
  }

  private sendQueued(): void {
    const entries = this.queue;
    this.queue = [];
    this.queuedChars = 0;
    const max = this.maxMessageBytes();
    // Cut by characters first (payloads are mostly ASCII), then check real bytes.
    let start = 0;
    let chars = 0;
    for (let i = 0; i < entries.length; i++) {
      const c = entryChars(entries[i] as LinkEntry);
      if (i > start && chars + c > max / 2) {
        this.sendRun(entries.slice(start, i), max);
        start = i;
        chars = 0;
      }
      chars += c;
    }
    this.sendRun(start === 0 ? entries : entries.slice(start), max);
  }

  private sendRun(entries: LinkEntry[], max: number): void {
    const text = encodeData(this.address, this.seq + 1, entries);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > max) {
      if (entries.length > 1) {
        const half = entries.length >> 1;
        this.sendRun(entries.slice(0, half), max);
        this.sendRun(entries.slice(half), max);
        return;
      }
      // The router checks payloads against the limit before routing, so only an entry it
      // could not check (e.g. a reply after the server lowered its limit) ends here.
      this.onDropped(entries, bytes);
      return;
    }
    this.seq++;
    if (this.unacked.length === 0) this.progressAt = Date.now();
    this.unacked.push({ seq: this.seq, text, bytes });
    this.unackedBytes += bytes;
    this.publish(this.subject, text);
  }
}

/** The receiving side, from one host: in order, once. */
export class InLink {
  /** Highest sequence number delivered. */
  delivered = 0;
  /** Messages dropped as duplicates, or ahead of a gap (sent again by the sender). */
  duplicates = 0;
  outOfOrder = 0;

  /** Whether data message `seq` is the next one; counts the others. */
  accept(seq: number): boolean {
    if (seq === this.delivered + 1) {
      this.delivered = seq;
      return true;
    }
    if (seq <= this.delivered) this.duplicates++;
    else this.outOfOrder++;
    return false;
  }
}
