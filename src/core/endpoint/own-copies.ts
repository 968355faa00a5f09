/**
 * Own copies: an optimisation, and all of it is here. A process that handles its own broadcast,
 * map or consume keeps the copy `copyPlain` made while checking the payload, marks the request
 * `own`, and its own delivery comes back as a reference (a `call` with `own: <request id>` and
 * no payload), which it runs from the copy instead of decoding what it just encoded.
 *
 * It sits behind one interface with a real and a no-op implementation because a transport may
 * be unable to honour it (`EndpointTransport.ownCopies === false`): then the endpoint takes the
 * no-op, no request carries `own`, and every delivery is decoded as anyone else's. The rest of
 * the endpoint asks `mayKeep…` first and only then copies, so with the no-op a message pays
 * one method call that answers `false`.
 */
import { NO_COPY, copyPlain } from '../../codec/plain-json.js';
import type { RequestFrame } from '../protocol/frames.js';
import type { RequestBase } from './request.js';

/**
 * Characters of encoding of own copies held at one time past which new broadcast runs keep
 * none (their payloads come back from the master and are decoded, as for anyone). A copy
 * saves decoding only while it is young: held across garbage collections (a sender far
 * ahead of its deliveries, or large payloads), it costs the collector more than it saves.
 * A run that keeps copies keeps them to its end, so at most one run's worth more is held.
 */
export const OWN_COPY_CHARS = 64 * 1024;

/**
 * The same budget for consume and map calls. A caller has only the calls it awaits in flight,
 * so their copies are let go within a round trip and rarely outlive a scavenge: a larger
 * budget pays here where it does not for broadcasts, which a sender can make far ahead.
 */
export const OWN_CALL_COPY_CHARS = 1024 * 1024;

/**
 * A map or consume call keeps a copy only when the last payload of its event encoded to at
 * least this many characters. On a payload of about 100 bytes decoding costs no more than the
 * copy's bookkeeping, and map latency at one call in flight measured some 7% worse with copies
 * (1.04x to 1.14x the relay's p50, alternating builds). A payload's size is known only once it
 * is encoded, after the copy would have been made, so the event's last one stands in for it.
 */
export const OWN_CALL_MIN_CHARS = 1024;

/**
 * A request's own copies (a broadcast run's, or the one payload of a map or consume that keeps
 * its copy). The sender's delivery of such a request comes back without the payloads; it runs
 * these instead: the copies made while encoding (no decoding), or the encoded text where a
 * value could not be copied (`NO_COPY`: not plain data).
 */
export interface Kept {
  readonly ps: string[];
  readonly copies: unknown[];
  /** Characters of encoding of the payloads in `copies` (counted in `OwnCopies.chars`). */
  chars: number;
}

/**
 * Where a request's copies hang: its pending record, so that settling it (which finds that
 * record anyway) lets go of them without a table of their own.
 */
export interface CopyHolder {
  kept?: Kept | undefined;
}

/** Whether this process can tell that it will run a request of an event itself. */
export interface HandlesEvents {
  has(ev: string): boolean;
}

/** Everything the endpoint does about own copies. */
export interface OwnCopies {
  /** Characters of encoding of the copies held now (at most about `OWN_CALL_COPY_CHARS`). */
  readonly chars: number;
  /**
   * Whether a new map or consume call of `base` may keep a copy of its payload; if so the
   * caller takes `copyForCall` and reports the encoded size with `sized`.
   */
  mayKeepCall(base: RequestBase, dedupeKey: string | undefined): boolean;
  /** The copy to encode a call's payload from and keep, or `NO_COPY` (too small to pay, or not plain). */
  copyForCall(ev: string, payload: unknown): unknown;
  /** A call that may keep a copy encoded to `chars` characters: stands in for the size of the event's next. */
  sized(ev: string, chars: number): void;
  /** Whether a new broadcast run of `base` keeps copies of all its payloads (else of none). */
  mayKeepRun(base: RequestBase): boolean;
  /** The copy to encode a broadcast payload from and keep, or `NO_COPY` (not plain data). */
  copyForRun(payload: unknown): unknown;
  /**
   * Marks the tracked request `frame` (pending as `holder`) as keeping its own copies, the
   * first being `copy` of a payload encoded to `chars` characters, so that its own delivery
   * comes back as a reference. `ps` is the request's payload list, shared, not copied.
   */
  keepFor(holder: CopyHolder, frame: RequestFrame, ps: string[], copy: unknown, chars: number): Kept | undefined;
  /** Adds the copy of a run's next payload (already pushed to `kept.ps`). */
  add(kept: Kept, copy: unknown, chars: number): void;
  /**
   * The copies `holder` kept for its own delivery, let go of now; `undefined` once the request
   * settled (or never kept any), which already let go of them.
   */
  take(holder: CopyHolder | undefined): Kept | undefined;
  /** Lets go of a request's copies: it settled. */
  release(holder: CopyHolder): void;
}

/** The endpoint's own copies: the real ones unless its link said it cannot honour them. */
export function ownCopies(enabled: boolean, handlers: HandlesEvents): OwnCopies {
  return enabled ? new KeptCopies(handlers) : new NoOwnCopies();
}

/** Own copies kept within the budgets above, for events this process handles. */
class KeptCopies implements OwnCopies {
  chars = 0;
  /** Per event, the size of its last call payload that could have kept a copy (see `OWN_CALL_MIN_CHARS`). */
  private readonly lastPayloadChars = new Map<string, number>();

  constructor(private readonly handlers: HandlesEvents) {}

  // As for a broadcast: this process may run the call itself (every map reaches it when it
  // handles the event; a consume may). A deduplicated consume is run by the broker's own job,
  // never delivered as this caller's, so a copy would never be used.
  mayKeepCall(base: RequestBase, dedupeKey: string | undefined): boolean {
    return dedupeKey === undefined && this.mayKeep(base, OWN_CALL_COPY_CHARS);
  }

  copyForCall(ev: string, payload: unknown): unknown {
    return (this.lastPayloadChars.get(ev) ?? 0) >= OWN_CALL_MIN_CHARS ? copyPlain(payload) : NO_COPY;
  }

  sized(ev: string, chars: number): void {
    this.lastPayloadChars.set(ev, chars);
  }

  // This process runs its own broadcasts too: a copy made while checking the value spares
  // decoding the payload when its delivery comes back.
  mayKeepRun(base: RequestBase): boolean {
    return this.mayKeep(base, OWN_COPY_CHARS);
  }

  copyForRun(payload: unknown): unknown {
    return copyPlain(payload);
  }

  /** Only while the copies held are under `budget`, and only if a handler here will run them. */
  private mayKeep(base: RequestBase, budget: number): boolean {
    return base.plainPayload !== false && this.chars < budget && this.handlers.has(base.ev);
  }

  keepFor(holder: CopyHolder, frame: RequestFrame, ps: string[], copy: unknown, chars: number): Kept {
    frame.own = true;
    const kept: Kept = { ps, copies: [], chars: 0 };
    this.add(kept, copy, chars);
    holder.kept = kept;
    return kept;
  }

  add(kept: Kept, copy: unknown, chars: number): void {
    kept.copies.push(copy);
    if (copy === NO_COPY) return;
    kept.chars += chars;
    this.chars += chars;
  }

  take(holder: CopyHolder | undefined): Kept | undefined {
    const kept = holder?.kept;
    if (!holder || !kept) return undefined;
    this.release(holder);
    return kept;
  }

  release(holder: CopyHolder): void {
    const kept = holder.kept;
    if (!kept) return;
    holder.kept = undefined;
    this.chars -= kept.chars;
  }
}

/**
 * No own copies: nothing may keep one, so nothing is copied, kept or marked `own`, and the
 * rest of the interface is never reached with anything to do.
 */
class NoOwnCopies implements OwnCopies {
  readonly chars = 0;
  mayKeepCall(): boolean {
    return false;
  }
  copyForCall(): unknown {
    return NO_COPY;
  }
  sized(): void {}
  mayKeepRun(): boolean {
    return false;
  }
  copyForRun(): unknown {
    return NO_COPY;
  }
  keepFor(): undefined {
    return undefined;
  }
  add(): void {}
  take(): undefined {
    return undefined;
  }
  release(): void {}
}
