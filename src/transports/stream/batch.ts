/**
 * Batches: how envelopes travel in bulk. All envelopes one side sends in one turn of the
 * event loop go out as a single string, so the channel pays one write (and one
 * serialisation) per turn instead of one per envelope, and payload bytes are copied as they
 * are instead of being escaped inside a JSON envelope.
 *
 * A batch is `BATCH_TAG` followed by records. A record is
 *   `<header length>:<header JSON><payload count>:` then, per payload, `<length>:<payload>`
 * where the header is the envelope without its payload strings (`p`, the `p` of each
 * successful map outcome, or a broadcast run's `ps`, which the header replaces by their
 * number), and lengths count UTF-16 code units. A run record stands for several envelopes
 * that differ only in id and payloads: its header has `run` (their ids) instead of `id`, and
 * for calls back to their own callers `own` (the requests they name, one per id). The reader
 * only parses headers; payloads come out as slices of the batch, never decoded.
 */
import type { CallFrame, DownFrame, MappedFrame, UpFrame, WireOutcome } from '../../core/protocol/frames.js';

/** First characters of every batch; anything else on the channel is not a batch. */
export const BATCH_TAG = '\u0001cb1\u0001';

type AnyFrame = UpFrame | DownFrame;

/**
 * The last record written, by envelope: a broadcast sends one envelope to every worker in a
 * row, and its header is serialised once.
 */
let lastFrame: AnyFrame | undefined;
let lastRecord: string[] = [];
let lastLength = 0;

/** Drops the cached record, so a large payload is not held after its batch left. */
export function forgetLastRecord(): void {
  lastFrame = undefined;
  lastRecord = [];
  lastLength = 0;
}

/** Appends one envelope to a batch under construction; returns the characters added. */
export function appendRecord(parts: string[], frame: AnyFrame): number {
  if (frame === lastFrame) {
    for (const part of lastRecord) parts.push(part);
    return lastLength;
  }
  if (frame.t !== 'call' || frame.op !== 'b') return writeRecord(parts, frame);
  // Only a broadcast's envelope goes to several channels: keep its record for the next one.
  const start = parts.length;
  const added = writeRecord(parts, frame);
  lastFrame = frame;
  lastRecord = parts.slice(start);
  lastLength = added;
  return added;
}

function writeRecord(parts: string[], frame: AnyFrame): number {
  let json: string;
  let payload: string | undefined;
  let payloads: string[] | undefined;
  if (frame.t === 'mapped') {
    payloads = [];
    const list = payloads;
    json = JSON.stringify({
      ...frame,
      r: frame.r.map((o): unknown => {
        if (o[1]) {
          list.push(o[2]);
          return [o[0], true];
        }
        return o;
      }),
    });
  } else if ((frame.t === 'req' || frame.t === 'call') && frame.ps !== undefined) {
    // A broadcast run: the header says how many payloads follow in place of the list.
    payloads = frame.ps;
    json = JSON.stringify({ ...frame, p: undefined, ps: payloads.length });
  } else if ('p' in frame && typeof frame.p === 'string') {
    // JSON.stringify leaves out a property whose value is undefined: blanking `p` for the
    // call writes the header without copying the envelope (and keeps its shape for V8).
    payload = frame.p;
    (frame as { p: string | undefined }).p = undefined;
    try {
      json = JSON.stringify(frame);
    } finally {
      frame.p = payload;
    }
  } else {
    json = JSON.stringify(frame);
  }
  if (payload !== undefined) {
    const head = `${json.length}:`;
    const length = `${payload.length}:`;
    parts.push(head, json, '1:', length, payload);
    return head.length + json.length + 2 + length.length + payload.length;
  }
  payloads ??= [];
  const head = `${json.length}:`;
  const count = `${payloads.length}:`;
  parts.push(head, json, count);
  let added = head.length + json.length + count.length;
  for (const p of payloads) {
    const length = `${p.length}:`;
    parts.push(length, p);
    added += length.length + p.length;
  }
  return added;
}

/** Starts a batch. */
export function newBatch(): string[] {
  return [BATCH_TAG];
}

/** Calls, replies, requests and map outcomes that can share one header with their neighbours. */
type Coalescable = Extract<AnyFrame, { t: 'call' | 'res' | 'req' | 'mapped' }>;

/**
 * Whether a frame can join a run record: a request or call other than a broadcast (those
 * travel as runs of their own), a successful reply, or a map outcome where every worker
 * answered.
 */
function coalescable(frame: AnyFrame): frame is Coalescable {
  switch (frame.t) {
    case 'call':
    case 'req':
      return frame.op !== 'b';
    case 'res':
      return frame.ok && typeof frame.p === 'string' && frame.e === undefined;
    case 'mapped':
      return frame.r.length > 0 && frame.r.every((o) => o[1]);
    default:
      return false;
  }
}

/** Whether `b` differs from `a` only in its id and payloads, so one header describes both. */
function sameShape(a: Coalescable, b: Coalescable): boolean {
  switch (a.t) {
    case 'res':
      return b.t === 'res';
    case 'call':
      return (
        b.t === 'call' &&
        a.ev === b.ev &&
        a.op === b.op &&
        a.from === b.from &&
        a.mr === b.mr &&
        (a.own === undefined) === (b.own === undefined)
      );
    case 'req':
      return (
        b.t === 'req' &&
        a.ev === b.ev &&
        a.op === b.op &&
        a.ms === b.ms &&
        a.rd === b.rd &&
        a.mr === b.mr &&
        a.mp === b.mp &&
        a.dk === b.dk &&
        a.own === b.own
      );
    case 'mapped': {
      if (b.t !== 'mapped' || a.r.length !== b.r.length) return false;
      for (let i = 0; i < a.r.length; i++) if ((a.r[i] as WireOutcome)[0] !== (b.r[i] as WireOutcome)[0]) return false;
      return true;
    }
  }
}

/**
 * One batch under construction. Consecutive envelopes that differ only in id and payloads
 * (the calls of a burst of maps to one worker, the replies to them, the outcomes going back)
 * become one run record: a single header with `run` (the ids) in place of `id`, then every payload in
 * order. The reader gives them back as separate envelopes; only the header work is shared.
 */
export class BatchWriter {
  private parts: string[] = newBatch();
  private run: Coalescable[] = [];
  /** Envelopes added since the last `finish`. */
  records = 0;
  /** Characters added since the last `finish` (a close estimate until then). */
  chars = 0;

  /** Adds an envelope. */
  add(frame: AnyFrame): void {
    this.records++;
    const joins = coalescable(frame);
    const first = this.run[0];
    if (first !== undefined && !(joins && sameShape(first, frame))) this.endRun();
    if (joins) {
      this.run.push(frame);
      this.chars += payloadChars(frame) + 12;
      return;
    }
    this.chars += appendRecord(this.parts, frame);
  }

  /** Whether nothing was added since the last `finish`. */
  get empty(): boolean {
    return this.records === 0;
  }

  /** The batch, as one string; the writer starts a new one. */
  finish(): string {
    this.endRun();
    const batch = this.parts.join('');
    this.parts = newBatch();
    this.records = 0;
    this.chars = 0;
    forgetLastRecord();
    return batch;
  }

  private endRun(): void {
    const run = this.run;
    if (run.length === 0) return;
    this.run = [];
    if (run.length === 1) {
      appendRecord(this.parts, run[0] as Coalescable);
      return;
    }
    const first = run[0] as Coalescable;
    const ids = run.map((f) => f.id);
    const payloads: string[] = [];
    let header: string;
    if (first.t === 'mapped') {
      for (const f of run as MappedFrame[]) for (const o of f.r) payloads.push(o[2] as string);
      header = JSON.stringify({ cb: first.cb, t: 'mapped', run: ids, r: first.r.map((o) => [o[0], true]) });
    } else {
      for (const f of run) payloads.push((f as { p: string }).p);
      const fields: Record<string, unknown> = { ...first, id: undefined, p: undefined, run: ids };
      // Calls back to their own caller differ in the request they name too: `own` lists them.
      if (first.t === 'call' && first.own !== undefined) fields.own = run.map((f) => (f as CallFrame).own);
      header = JSON.stringify(fields);
    }
    const parts = this.parts;
    parts.push(`${header.length}:`, header, `${payloads.length}:`);
    for (const p of payloads) parts.push(`${p.length}:`, p);
  }
}

function payloadChars(frame: Coalescable): number {
  if (frame.t !== 'mapped') return frame.p?.length ?? 0;
  let n = 0;
  for (const o of frame.r) n += typeof o[2] === 'string' ? o[2].length : 0;
  return n;
}

/** Whether a channel message is a batch. */
export function isBatch(message: unknown): message is string {
  return typeof message === 'string' && message.startsWith(BATCH_TAG);
}

/** Most payload slots one record may claim; a larger count is malformed. */
const MAX_PAYLOADS_PER_RECORD = 100_000;

/**
 * Reads a batch into envelopes (not yet validated: the receiver validates each as it would a
 * single one). Stops at the first malformed record; returns what it read and whether the
 * whole batch was well formed.
 */
export function readBatch(batch: string): { frames: unknown[]; complete: boolean } {
  const frames: unknown[] = [];
  let at = BATCH_TAG.length;
  const readLength = (): number => {
    const colon = batch.indexOf(':', at);
    if (colon < 0 || colon - at > 10 || colon === at) return -1;
    let n = 0;
    for (let i = at; i < colon; i++) {
      const c = batch.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return -1;
      n = n * 10 + c;
    }
    at = colon + 1;
    return n;
  };
  const readPayloads = (count: number): string[] | undefined => {
    const payloads: string[] = [];
    for (let i = 0; i < count; i++) {
      const length = readLength();
      if (length < 0 || at + length > batch.length) return undefined;
      payloads.push(batch.slice(at, at + length));
      at += length;
    }
    return payloads;
  };
  while (at < batch.length) {
    const headerLength = readLength();
    if (headerLength < 0 || at + headerLength > batch.length) return { frames, complete: false };
    let header: unknown;
    try {
      header = JSON.parse(batch.slice(at, at + headerLength));
    } catch {
      return { frames, complete: false };
    }
    at += headerLength;
    const count = readLength();
    if (count < 0 || count > MAX_PAYLOADS_PER_RECORD) return { frames, complete: false };
    let frame: unknown;
    const ids = typeof header === 'object' && header !== null ? (header as { run?: unknown }).run : undefined;
    if (ids !== undefined) {
      // A run record: one envelope per id.
      const payloads = readPayloads(count);
      const run = payloads && expandRun(header as Record<string, unknown>, ids, payloads);
      if (!run) return { frames, complete: false };
      for (const f of run) frames.push(f);
      continue;
    }
    if (
      count === 1 &&
      typeof header === 'object' &&
      header !== null &&
      (header as { t?: unknown }).t !== 'mapped' &&
      (header as { ps?: unknown }).ps === undefined
    ) {
      // The common record: one payload, attached as `p`.
      const length = readLength();
      if (length < 0 || at + length > batch.length) return { frames, complete: false };
      frame = attachPayloads(header, batch.slice(at, at + length));
      at += length;
    } else {
      const payloads = readPayloads(count);
      if (!payloads) return { frames, complete: false };
      frame = attachPayloads(header, payloads);
    }
    if (frame === undefined) return { frames, complete: false };
    frames.push(frame);
  }
  return { frames, complete: true };
}

/**
 * The envelopes of a run record, or `undefined` if its header and payloads disagree. Each is
 * built with its fields in the order a single record of its kind has once read, so that
 * envelopes from runs and from single records share their shape (and V8 keeps the code
 * that reads them fast). Unknown header fields are dropped; the receiver validates the rest.
 */
function expandRun(h: Record<string, unknown>, ids: unknown, payloads: string[]): unknown[] | undefined {
  if (!Array.isArray(ids) || ids.length < 2) return undefined;
  const frames: unknown[] = [];
  const { cb, t } = h;
  if (t === 'mapped') {
    const r = h.r;
    if (!Array.isArray(r) || r.length === 0 || payloads.length !== ids.length * r.length) return undefined;
    const workers: unknown[] = [];
    for (const o of r) {
      if (!Array.isArray(o) || o.length !== 2 || o[1] !== true) return undefined;
      workers.push(o[0]);
    }
    let next = 0;
    for (const id of ids) {
      const outcomes: unknown[] = [];
      for (const w of workers) outcomes.push([w, true, payloads[next++]]);
      frames.push({ cb, t, id, r: outcomes });
    }
    return frames;
  }
  if (payloads.length !== ids.length) return undefined;
  const own = t === 'call' ? h.own : undefined;
  if (own !== undefined && (!Array.isArray(own) || own.length !== ids.length)) return undefined;
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    const p = payloads[i];
    switch (t) {
      case 'res':
        frames.push({ cb, t, id, ok: h.ok, p });
        break;
      case 'call': {
        const f: Record<string, unknown> = { cb, t, id, ev: h.ev, op: h.op, from: h.from };
        if (h.mr !== undefined) f.mr = h.mr;
        if (own !== undefined) f.own = own[i];
        f.p = p;
        frames.push(f);
        break;
      }
      case 'req': {
        const f: Record<string, unknown> = { cb, t, id, ev: h.ev, op: h.op };
        if (h.mp !== undefined) f.mp = h.mp;
        if (h.ms !== undefined) f.ms = h.ms;
        if (h.rd !== undefined) f.rd = h.rd;
        if (h.dk !== undefined) f.dk = h.dk;
        if (h.mr !== undefined) f.mr = h.mr;
        if (h.own !== undefined) f.own = h.own;
        f.p = p;
        frames.push(f);
        break;
      }
      default:
        return undefined;
    }
  }
  return frames;
}

function attachPayloads(header: unknown, payloads: string[] | string): unknown {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined;
  const h = header as Record<string, unknown>;
  if (typeof payloads === 'string') {
    // `h` is fresh from JSON.parse and nobody else holds it.
    h.p = payloads;
    return h;
  }
  if (h.t === 'mapped') {
    if (!Array.isArray(h.r)) return undefined;
    let next = 0;
    const r: unknown[] = [];
    for (const o of h.r as unknown[]) {
      if (Array.isArray(o) && o[1] === true && o.length === 2) {
        if (next >= payloads.length) return undefined;
        r.push([o[0], true, payloads[next++]] as WireOutcome);
      } else {
        r.push(o);
      }
    }
    if (next !== payloads.length) return undefined;
    return { ...h, r };
  }
  if (h.ps !== undefined) {
    // A broadcast run: its header counted the payloads.
    if (h.ps !== payloads.length) return undefined;
    h.p = '';
    h.ps = payloads;
    return h;
  }
  if (payloads.length === 0) return h;
  if (payloads.length !== 1) return undefined;
  // `h` is fresh from JSON.parse and nobody else holds it.
  h.p = payloads[0];
  return h;
}
