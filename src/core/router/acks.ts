/**
 * How the router settles a caller's request on the wire: a failure at once as its own `done`,
 * successes batched per peer into one `oks` frame per microtask (a burst of broadcasts or
 * consumes is acknowledged in one frame instead of one each).
 */
import { PROTOCOL_VERSION, type DownFrame, type WireError } from '../protocol/frames.js';

export class Acks {
  /** Successful settlements not yet sent, per peer. */
  private readonly oks = new Map<number, number[]>();
  private scheduled = false;

  constructor(private readonly send: (peer: number, frame: DownFrame) => void) {}

  /** Settles request `id` of `peer`: with `e`, a failure; without, a success. */
  done(peer: number, id: number, e?: WireError): void {
    if (e !== undefined) {
      this.send(peer, { cb: PROTOCOL_VERSION, t: 'done', id, ok: false, e });
      return;
    }
    const list = this.oks.get(peer);
    if (list) list.push(id);
    else this.oks.set(peer, [id]);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    for (const [peer, ids] of this.oks) this.send(peer, { cb: PROTOCOL_VERSION, t: 'oks', ids });
    this.oks.clear();
  }
}
