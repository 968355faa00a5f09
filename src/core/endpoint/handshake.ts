/**
 * What this process tells the router about itself, as opposed to requests and replies: that it
 * joins and which events it handles (`hello`, then `handlers` whenever they change), that it
 * drains (`drain`, answered by `drained`), and that it leaves (`bye`). These are frames, not
 * calls into the router, so that they work the same over any transport.
 */
import { PROTOCOL_VERSION } from '../protocol/frames.js';
import type { BroadcastRuns } from './broadcast-runs.js';
import type { Handlers } from './handlers.js';

export class Handshake {
  /** Whether the handshake was sent. */
  joined = false;
  private announceScheduled = false;
  private closed = false;
  /** Settles `drain()` once the router said this endpoint owes nothing. */
  private drained: (() => void) | undefined;
  private drainPromise: Promise<void> | undefined;

  constructor(
    private readonly handlers: Handlers,
    /** Where these frames leave: after this process's open broadcasts. */
    private readonly out: BroadcastRuns,
  ) {}

  /**
   * Announces the events handled here on the next turn of the event loop, so that the handlers
   * a module registers while it loads, or a burst of `on`/`off`, make one frame.
   */
  scheduleAnnounce(): void {
    if (this.announceScheduled || this.closed) return;
    this.announceScheduled = true;
    setImmediate(() => {
      this.announceScheduled = false;
      const ev = this.handlers.events();
      const fps = this.handlers.fingerprintsOf(ev);
      const t = this.joined ? 'handlers' : 'hello';
      this.out.send(fps === undefined ? { cb: PROTOCOL_VERSION, t, ev } : { cb: PROTOCOL_VERSION, t, ev, fps });
      this.joined = true;
    });
  }

  /** No announcement is scheduled from now on (the endpoint closed). */
  close(): void {
    this.closed = true;
  }

  /** See `Endpoint.drain`. */
  drain(): Promise<void> {
    this.drainPromise ??= new Promise<void>((resolve) => {
      this.drained = resolve;
      if (!this.out.send({ cb: PROTOCOL_VERSION, t: 'drain' })) this.settleDrain();
    });
    return this.drainPromise;
  }

  /** The router said this process owes nothing, or the link is gone: `drain()` settles. */
  settleDrain(): void {
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  leave(): void {
    this.out.send({ cb: PROTOCOL_VERSION, t: 'bye' });
  }
}
