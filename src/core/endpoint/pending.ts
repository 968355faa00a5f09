/**
 * The calls this process waits on, and everything that settles one: the router's verdicts
 * (`done`, `oks`, `mapped`), a local deadline, a lost link, closing. All of them go through
 * `settle`, so a call settles once and its own copies are let go of whichever comes first.
 */
import { decode } from '../../codec/codec.js';
import type { BusError, MapFailure } from '../../errors.js';
import { MapError, NoHandlerError, TimeoutError } from '../../errors.js';
import type { Settled } from './handler-types.js';
import { Deadlines } from '../deadlines.js';
import { localHost } from '../peer-id.js';
import { errorFromWire, type DoneFrame, type MappedFrame, type OksFrame } from '../protocol/frames.js';
import type { CopyHolder, OwnCopies } from './own-copies.js';
import type { RequestSpec } from './request.js';

/** A call waiting for its outcome. A broadcast run is one call. */
export interface Pending extends CopyHolder {
  readonly ev: string;
  readonly op: RequestSpec['op'];
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: BusError) => void;
  /** The local deadline's timeout, in ms (its lane in `deadlines`). */
  readonly wait: number;
}

/**
 * How long past its deadline a caller waits for the broker's verdict before deciding the
 * timeout itself; covers a master that is too busy or gone.
 */
const LOCAL_GRACE_MS = 1_000;

export class PendingCalls {
  private readonly table = new Map<number, Pending>();
  private readonly deadlines = new Deadlines<number>((id) => {
    const p = this.table.get(id);
    if (!p) return;
    this.table.delete(id);
    this.copies.release(p);
    p.reject(new TimeoutError(p.ev, p.wait));
  });
  private nextId = 1;

  constructor(private readonly copies: OwnCopies) {}

  /** Calls that have not settled. */
  get size(): number {
    return this.table.size;
  }

  /** The id of the next request (calls and broadcast runs share one sequence). */
  newId(): number {
    return this.nextId++;
  }

  has(id: number): boolean {
    return this.table.has(id);
  }

  get(id: number): Pending | undefined {
    return this.table.get(id);
  }

  /** Records a pending call and its local deadline. */
  track(
    id: number,
    ev: string,
    op: Pending['op'],
    resolve: Pending['resolve'],
    reject: Pending['reject'],
    timeoutMs: number,
  ): Pending {
    // The broker decides timeouts; this deadline only covers a broker that never answers.
    const wait = timeoutMs + LOCAL_GRACE_MS;
    const pending: Pending = { ev, op, resolve, reject, wait };
    this.table.set(id, pending);
    this.deadlines.schedule(id, wait);
    return pending;
  }

  /** Forgets call `id` and returns it for its caller to settle; `undefined` if it already settled. */
  settle(id: number): Pending | undefined {
    const p = this.table.get(id);
    if (!p) return undefined;
    this.table.delete(id);
    this.copies.release(p);
    this.deadlines.cancel(id, p.wait);
    return p;
  }

  /** Fails every pending call with an `ErrorType` (the link is gone, or the endpoint closed). */
  failAll(ErrorType: new (ev: string) => BusError): void {
    for (const [id, p] of this.table) {
      this.settle(id);
      p.reject(new ErrorType(p.ev));
    }
  }

  done(frame: DoneFrame): void {
    const p = this.settle(frame.id);
    if (!p) return;
    if (frame.ok) return p.resolve(undefined);
    p.reject(errorFromWire(frame.e as NonNullable<DoneFrame['e']>, p.ev));
  }

  oks(frame: OksFrame): void {
    for (const id of frame.ids) this.settle(id)?.resolve(undefined);
  }

  mapped(frame: MappedFrame): void {
    const p = this.settle(frame.id);
    if (!p) return;
    const settled: Settled<unknown>[] = [];
    const host = localHost();
    for (const outcome of frame.r) {
      const worker = outcome[0];
      const at = outcome[3] ?? host;
      if (outcome[1]) {
        try {
          settled.push({ worker, host: at, ok: true, value: decode(outcome[2], p.ev, worker) });
        } catch (err) {
          settled.push({ worker, host: at, ok: false, error: err as BusError });
        }
      } else {
        const error = errorFromWire(outcome[2], p.ev);
        // The slot's own host: the error may name another (a payload too large names its sender).
        settled.push({ worker, host: outcome[3] ?? error.host ?? host, ok: false, error });
      }
    }
    if (p.op === 'mapSettled') return p.resolve(settled);
    if (settled.length === 0) return p.reject(new NoHandlerError(p.ev));
    if (settled.every((s) => s.ok)) return p.resolve(settled.map((s) => (s.ok ? s.value : undefined)));
    p.reject(new MapError(p.ev, settled as MapFailure[]));
  }
}
