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

  /** Adds a handler; true when `ev` had none before (the events to announce changed). */
  add(ev: string, handler: AnyHandler, plainResult: boolean | undefined): boolean {
    if (plainResult === false) this.richResults.add(ev);
    const list = this.byEvent.get(ev);
    if (list) list.push(handler);
    else this.byEvent.set(ev, [handler]);
    return !list;
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
}
