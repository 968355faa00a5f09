/**
 * Deadlines of pending requests, with one timer per distinct timeout. At tens of thousands
 * of requests a second, a Node timer each (created, then almost always cleared) costs more
 * than the request. Requests with the same timeout expire in the order they were made, so
 * each timeout gets a lane: an insertion-ordered map of key → deadline and one timer armed
 * for its oldest entry. Cancelling is a map delete; the lane's timer is unref'd while the
 * lane is empty so it never keeps a process alive.
 */

/** Longest delay Node's timers honour (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The delay to give `setTimeout` for a deadline of `ms`. Deadlines are any positive safe
 * integer, but Node fires a timer whose delay does not fit in 32 bits after 1 ms (with a
 * TimeoutOverflowWarning), which would turn a very long deadline into an immediate timeout.
 */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}

interface Lane<K> {
  readonly entries: Map<K, number>;
  timer: NodeJS.Timeout | undefined;
}

export class Deadlines<K> {
  private readonly lanes = new Map<number, Lane<K>>();

  /** @param expire - called with the key of each deadline that passes before it is cancelled. */
  constructor(private readonly expire: (key: K) => void) {}

  /** Expires `key` in `ms` unless `cancel(key, ms)` comes first. Keys must be unique while pending. */
  schedule(key: K, ms: number): void {
    let lane = this.lanes.get(ms);
    if (!lane) {
      lane = { entries: new Map(), timer: undefined };
      this.lanes.set(ms, lane);
    }
    const at = Date.now() + ms;
    lane.entries.set(key, at);
    if (!lane.timer) this.arm(lane, at);
    else if (lane.entries.size === 1) lane.timer.ref();
  }

  /** Forgets a deadline; harmless if it already passed or was cancelled. */
  cancel(key: K, ms: number): void {
    const lane = this.lanes.get(ms);
    if (!lane || !lane.entries.delete(key)) return;
    if (lane.entries.size === 0) lane.timer?.unref();
  }

  /** How many deadlines are pending. */
  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.entries.size;
    return n;
  }

  private arm(lane: Lane<K>, at: number): void {
    // An expiry callback may have scheduled (and armed) during a sweep.
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = setTimeout(() => this.sweep(lane), timerDelay(Math.max(0, at - Date.now())));
  }

  private sweep(lane: Lane<K>): void {
    lane.timer = undefined;
    const now = Date.now();
    for (const [key, at] of lane.entries) {
      if (at > now) {
        this.arm(lane, at);
        return;
      }
      lane.entries.delete(key);
      this.expire(key);
    }
  }
}
