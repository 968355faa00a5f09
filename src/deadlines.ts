/**
 * Deadlines of pending requests, on one timer. Every request has a deadline, and at tens of
 * thousands of requests a second one Node timer each (created, then almost always cleared)
 * costs more than the request itself. Deadlines are grouped in slots of `RESOLUTION_MS`, so a
 * deadline fires at most that much late; one timer waits for the earliest slot, and none
 * runs while nothing is pending.
 */
import { timerDelay } from './protocol.js';

/** How late a deadline may fire, in ms. */
export const RESOLUTION_MS = 10;

/** A scheduled deadline; pass it to `cancel`. */
export interface Deadline {
  readonly slot: number;
  readonly fire: () => void;
}

export class Deadlines {
  private readonly slots = new Map<number, Set<Deadline>>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /** Calls `fire` in `ms` (at most `RESOLUTION_MS` late) unless cancelled first. */
  schedule(ms: number, fire: () => void): Deadline {
    const slot = Math.ceil((Date.now() + ms) / RESOLUTION_MS) * RESOLUTION_MS;
    const deadline: Deadline = { slot, fire };
    let set = this.slots.get(slot);
    if (!set) {
      set = new Set();
      this.slots.set(slot, set);
    }
    set.add(deadline);
    if (slot < this.armedFor) this.arm(slot);
    return deadline;
  }

  /** Forgets a deadline; harmless if it already fired or was cancelled. */
  cancel(deadline: Deadline | undefined): void {
    if (!deadline) return;
    const set = this.slots.get(deadline.slot);
    if (!set) return;
    set.delete(deadline);
    if (set.size === 0) {
      this.slots.delete(deadline.slot);
      if (this.slots.size === 0) this.disarm();
    }
  }

  /** How many deadlines are pending. */
  get size(): number {
    let n = 0;
    for (const set of this.slots.values()) n += set.size;
    return n;
  }

  private arm(slot: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = slot;
    this.timer = setTimeout(() => this.expire(), timerDelay(Math.max(0, slot - Date.now())));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    const due: Deadline[] = [];
    let next = Infinity;
    for (const [slot, set] of this.slots) {
      if (slot <= now) {
        for (const d of set) due.push(d);
        this.slots.delete(slot);
      } else if (slot < next) {
        next = slot;
      }
    }
    if (next !== Infinity) this.arm(next);
    for (const d of due) d.fire();
  }
}
