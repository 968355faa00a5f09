/**
 * The handlers this process registered, per event. A table of its own because three parts read
 * it: the handshake (which events to announce), the deliveries (whom to run), and own copies
 * (a copy is worth keeping only when a handler here will run it).
 */
import type { HandlerContext } from './handler-types.js';

/** A handler as the run time stores it. */
export type AnyHandler = (payload: unknown, ctx: HandlerContext) => unknown;

export class Handlers {
  private readonly byEvent = new Map<string, AnyHandler[]>();
  /** Events whose map results the generator knows JSON cannot carry: straight to superjson. */
  private readonly richResults = new Set<string>();
  /** Each event's fingerprint, as the contract it was registered from gives it. */
  private readonly fingerprints = new Map<string, string>();

  /** The handlers of `ev` in registration order, or `undefined` when it has none. */
  get(ev: string): AnyHandler[] | undefined {
    return this.byEvent.get(ev);
  }

  has(ev: string): boolean {
    return this.byEvent.has(ev);
  }

  /** Whether `ev`'s results go straight to superjson (see `add`). */
  richResult(ev: string): boolean {
    return this.richResults.has(ev);
  }

  /** Adds a handler; true when `ev` had none before, or its fingerprint changed (the events to announce changed). */
  add(ev: string, handler: AnyHandler, plainResult: boolean | undefined, fingerprint?: string): boolean {
    if (plainResult === false) this.richResults.add(ev);
    const changed = fingerprint !== undefined && this.fingerprints.get(ev) !== fingerprint;
    if (fingerprint !== undefined) this.fingerprints.set(ev, fingerprint);
    const list = this.byEvent.get(ev);
    if (list) list.push(handler);
    else this.byEvent.set(ev, [handler]);
    return !list || changed;
  }

  /** Removes a handler; true when `ev` has none left (the events to announce changed). */
  remove(ev: string, handler: AnyHandler): boolean {
    const list = this.byEvent.get(ev);
    if (!list) return false;
    const at = list.indexOf(handler);
    if (at < 0) return false;
    list.splice(at, 1);
    if (list.length > 0) return false;
    this.byEvent.delete(ev);
    return true;
  }

  /** Events with handlers, sorted. */
  events(): string[] {
    return [...this.byEvent.keys()].sort();
  }

  /** The fingerprints of `events`, in their order (`''` for none), or `undefined` if none has one. */
  fingerprintsOf(events: readonly string[]): string[] | undefined {
    if (this.fingerprints.size === 0) return undefined;
    return events.map((ev) => this.fingerprints.get(ev) ?? '');
  }
}
