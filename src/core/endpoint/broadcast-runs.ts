/**
 * Broadcasts on their way out, and the one door every frame of this process leaves by.
 *
 * The broadcasts of one event made in a row in one turn of the event loop form a run: one
 * request the broker routes and accepts as a whole, so they share one promise (and one
 * deadline), and a sender that broadcasts in a loop pays one envelope, one route and one
 * acknowledgement per run instead of per message. Receivers still run them one by one, in
 * order. A run ends at the end of the turn, when it is full, or at any other frame this
 * process sends: `send` closes it first, which keeps everything this process sends in order.
 */
import { NO_COPY } from '../../codec/plain-json.js';
import { NotConnectedError } from '../../errors.js';
import type { ResolvedBusOptions } from '../options.js';
import { MAX_RUN_CHARS, type RequestFrame, type UpFrame } from '../protocol/frames.js';
import type { EndpointTransport } from '../transport.js';
import type { Kept, OwnCopies } from './own-copies.js';
import type { Pending, PendingCalls } from './pending.js';
import { encodePayload, requestFrame, type RequestBase } from './request.js';

/** A broadcast run leaves once it holds this many payloads ... */
export const RUN_PAYLOADS = 512;
/** ... or this many characters of them (the size of a batch). */
export const RUN_CHARS = MAX_RUN_CHARS;

/** The broadcasts of one event this turn, travelling as one request. */
interface OpenRun {
  readonly base: RequestBase;
  readonly frame: RequestFrame & { ps: string[] };
  /** The run's own copies, if it keeps them. */
  readonly kept: Kept | undefined;
  readonly promise: Promise<undefined>;
  /** Characters of payload in the run. */
  chars: number;
}

export class BroadcastRuns {
  /** Broadcasts made this turn and not sent yet. */
  private open: OpenRun | undefined;

  constructor(
    private readonly worker: number,
    private readonly options: ResolvedBusOptions,
    private readonly transport: EndpointTransport,
    private readonly calls: PendingCalls,
    private readonly copies: OwnCopies,
  ) {}

  /** A broadcast: joins the open run of its event, or opens a new one that leaves at the end of the turn. */
  broadcast(base: RequestBase, payload: unknown): Promise<unknown> {
    const open = this.open;
    const joinable =
      open !== undefined &&
      open.base.ev === base.ev &&
      open.base.maxPayloadBytes === base.maxPayloadBytes &&
      open.frame.ps.length < RUN_PAYLOADS;
    // A run keeps copies of all its payloads or of none (then the master sends the payloads
    // back, as to anyone), so that its own delivery is either one reference or the payloads.
    const keep = joinable ? open.kept !== undefined : this.copies.mayKeepRun(base);
    const copy = keep ? this.copies.copyForRun(payload) : NO_COPY;
    let p: string;
    try {
      p = encodePayload(base, copy === NO_COPY ? payload : copy, copy !== NO_COPY, this.worker);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (joinable && open.chars + p.length <= RUN_CHARS) {
      open.frame.ps.push(p);
      open.chars += p.length;
      if (open.kept) this.copies.add(open.kept, copy, p.length);
      return open.promise;
    }
    if (open) this.closeOpen();
    const id = this.calls.newId();
    const frame = requestFrame(base, id, '', this.options.maxPayloadBytes) as RequestFrame & { ps: string[] };
    frame.ps = [p];
    let pending!: Pending;
    const promise = new Promise<undefined>((resolve, reject) => {
      pending = this.calls.track(id, base.ev, 'broadcast', () => resolve(undefined), reject, this.options.timeoutMs);
    });
    // A run that filled up passes keeping copies on only while still under the budget (the
    // copy made for its first payload is then simply not kept).
    const kept =
      keep && (!joinable || this.copies.mayKeepRun(base))
        ? this.copies.keepFor(pending, frame, frame.ps, copy, p.length)
        : undefined;
    this.open = { base, frame, kept, promise, chars: p.length };
    queueMicrotask(this.closeOpen);
    return promise;
  }

  /** Sends the open run, if any; bound once, as it is queued for the end of every turn with a run. */
  private readonly closeOpen = (): void => {
    const run = this.open;
    if (!run) return;
    this.open = undefined;
    // A run of one travels like a single broadcast.
    const frame: RequestFrame = run.frame.ps.length === 1 ? withoutRun(run.frame) : run.frame;
    // Settled meanwhile (the link or the endpoint closed): nothing to send.
    if (!this.calls.has(frame.id)) return;
    if (!this.transport.send(frame)) this.calls.settle(frame.id)?.reject(new NotConnectedError(frame.ev));
  };

  /** Sends a frame after the broadcasts made before it. Every frame of this process leaves here. */
  send(frame: UpFrame): boolean {
    if (this.open) this.closeOpen();
    return this.transport.send(frame);
  }

  /** Forgets the open run unsent: the link is gone or the endpoint closed, which fails its call. */
  drop(): void {
    this.open = undefined;
  }
}

/** A one-payload run as a plain broadcast request. */
function withoutRun({ ps, ...frame }: RequestFrame & { ps: string[] }): RequestFrame {
  return { ...frame, p: ps[0] as string };
}
