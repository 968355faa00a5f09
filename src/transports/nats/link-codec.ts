/**
 * How host-to-host messages look on NATS. A message is one JSON header line, then the payloads
 * of its frames, raw and back to back: a payload is already JSON text, and escaping it again
 * inside the header would cost time and, for quote-heavy payloads, up to twice the bytes
 * against the server's `max_payload`. The header gives each frame's payload lengths.
 *
 * Kinds: `d` (data: a run of entries with the link's sequence number), `a` (acknowledges data
 * up to a sequence number, `rs` asking to resend the rest), `x` (you were declared dead: this
 * host ignores your incarnation), and on the heartbeat subject `hb` (alive, with membership)
 * and `bye` (leaving).
 */
import type { CallFrame, ReplyFrame } from '../../core/protocol/frames.js';

/**
 * One peer of a host as the others learn it: worker id, `s`tarting (forked, not joined yet:
 * broadcasts are held for it, requests with no handler wait for it), `r`eady or `d`raining,
 * its events, and their fingerprints when its contracts have them (one per event, `''` for none).
 */
export type SnapshotPeer =
  | [worker: number, state: PeerCode, events: string[]]
  | [worker: number, state: PeerCode, events: string[], fingerprints: string[]];
export type PeerCode = 's' | 'r' | 'd';

/** What travels on a link, in order. */
export type LinkEntry =
  /** The router of the sender calls these workers of the receiver. */
  | { readonly k: 'c'; readonly workers: number[]; readonly frame: CallFrame }
  /** The sender's worker answers a call of the receiver's router. */
  | { readonly k: 'r'; readonly worker: number; readonly frame: ReplyFrame }
  /** The sender's membership, generation `gen`. */
  | { readonly k: 'm'; readonly gen: number; readonly peers: SnapshotPeer[] }
  /** The sender's worker left: everything it owed the receiver fails or is redelivered. */
  | { readonly k: 'g'; readonly worker: number; readonly reason: string };

/** The header fields every message has: sender host, its incarnation, and (directed) the receiver's. */
export interface LinkAddress {
  readonly h: string;
  readonly i: string;
  readonly to: string;
}

export interface DataMessage extends LinkAddress {
  readonly k: 'd';
  readonly s: number;
  readonly e: LinkEntry[];
}

export interface AckMessage extends LinkAddress {
  readonly k: 'a';
  readonly s: number;
  readonly rs?: 1;
}

export interface FenceMessage extends LinkAddress {
  readonly k: 'x';
}

export interface HeartbeatMessage {
  readonly k: 'hb';
  readonly h: string;
  readonly i: string;
  /** Protocol version of the sender. */
  readonly v: number;
  readonly g: number;
  readonly m: SnapshotPeer[];
  /** Contract fingerprints the sender has (empty until contracts carry fingerprints). */
  readonly fp: string[];
}

export interface ByeMessage {
  readonly k: 'bye';
  readonly h: string;
  readonly i: string;
}

export type DirectMessage = DataMessage | AckMessage | FenceMessage;
export type HeartbeatSubjectMessage = HeartbeatMessage | ByeMessage;

/** Characters of payload an entry carries (to cut data messages below the server's limit). */
export function entryChars(entry: LinkEntry): number {
  if (entry.k === 'c') {
    const f = entry.frame;
    let n = f.p.length + 64;
    if (f.ps !== undefined) for (const p of f.ps) n += p.length;
    return n;
  }
  if (entry.k === 'r') return (entry.frame.p?.length ?? 0) + 64;
  if (entry.k === 'm') return 64 + entry.peers.reduce((n, p) => n + 16 + p[2].reduce((m, e) => m + e.length + 3, 0), 0);
  return 64 + entry.reason.length;
}

/** Writes a data message: the header line, then the payloads. */
export function encodeData(address: LinkAddress, seq: number, entries: readonly LinkEntry[]): string {
  const payloads: string[] = [];
  const e: unknown[] = [];
  for (const entry of entries) {
    switch (entry.k) {
      case 'c': {
        const f = entry.frame;
        payloads.push(f.p);
        let lengths: number | number[] = f.p.length;
        if (f.ps !== undefined) {
          lengths = [f.p.length];
          for (const p of f.ps) {
            payloads.push(p);
            lengths.push(p.length);
          }
        }
        // JSON.stringify leaves out undefined properties: the header copy has no payloads.
        e.push(['c', entry.workers, { ...f, p: undefined, ps: undefined }, lengths]);
        break;
      }
      case 'r': {
        const f = entry.frame;
        const p = f.p ?? '';
        payloads.push(p);
        e.push(['r', entry.worker, { ...f, p: undefined }, f.p === undefined ? -1 : p.length]);
        break;
      }
      case 'm':
        e.push(['m', entry.gen, entry.peers]);
        break;
      case 'g':
        e.push(['g', entry.worker, entry.reason]);
        break;
    }
  }
  return `${JSON.stringify({ k: 'd', h: address.h, i: address.i, to: address.to, s: seq, e })}\n${payloads.join('')}`;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether `v` is a list of snapshot peers. */
export function isSnapshot(v: unknown): v is SnapshotPeer[] {
  return (
    Array.isArray(v) &&
    v.every(
      (p) =>
        Array.isArray(p) &&
        (p.length === 3 ||
          (p.length === 4 &&
            Array.isArray(p[3]) &&
            (p[3] as unknown[]).length === (p[2] as unknown[]).length &&
            (p[3] as unknown[]).every(isStr))) &&
        isInt(p[0]) &&
        p[0] >= 0 &&
        (p[1] === 's' || p[1] === 'r' || p[1] === 'd') &&
        Array.isArray(p[2]) &&
        (p[2] as unknown[]).every(isStr),
    )
  );
}

/**
 * Reads a message of a host's inbox, or `undefined` if it is not one of ours or is malformed.
 * Frames inside entries are not validated here: the router and the endpoints validate every
 * frame they receive.
 */
export function decodeDirect(text: string): DirectMessage | undefined {
  const nl = text.indexOf('\n');
  let header: unknown;
  try {
    header = JSON.parse(nl === -1 ? text : text.slice(0, nl));
  } catch {
    return undefined;
  }
  if (!isObject(header) || !isStr(header.h) || !isStr(header.i) || !isStr(header.to)) return undefined;
  if (header.k === 'x') return header as unknown as FenceMessage;
  if (!isInt(header.s) || header.s < 0) return undefined;
  if (header.k === 'a') return header as unknown as AckMessage;
  if (header.k !== 'd' || !Array.isArray(header.e)) return undefined;
  const entries = readEntries(header.e as unknown[], nl === -1 ? '' : text.slice(nl + 1));
  return entries && { k: 'd', h: header.h, i: header.i, to: header.to, s: header.s, e: entries };
}

function readEntries(raw: unknown[], payloads: string): LinkEntry[] | undefined {
  const entries: LinkEntry[] = [];
  let at = 0;
  const take = (n: unknown): string | undefined => {
    if (!isInt(n) || n < 0 || at + n > payloads.length) return undefined;
    const p = payloads.slice(at, at + n);
    at += n;
    return p;
  };
  for (const item of raw) {
    if (!Array.isArray(item)) return undefined;
    const [k, a, b, c] = item as unknown[];
    if (k === 'c') {
      if (!Array.isArray(a) || !a.every(isInt) || !isObject(b)) return undefined;
      const frame = b as unknown as CallFrame;
      if (Array.isArray(c)) {
        const p = take(c[0]);
        if (p === undefined) return undefined;
        const ps: string[] = [];
        for (const n of c.slice(1)) {
          const q = take(n);
          if (q === undefined) return undefined;
          ps.push(q);
        }
        frame.p = p;
        frame.ps = ps;
      } else {
        const p = take(c);
        if (p === undefined) return undefined;
        frame.p = p;
      }
      entries.push({ k: 'c', workers: a, frame });
    } else if (k === 'r') {
      if (!isInt(a) || !isObject(b)) return undefined;
      const frame = b as unknown as ReplyFrame;
      if (c !== -1) {
        const p = take(c);
        if (p === undefined) return undefined;
        frame.p = p;
      }
      entries.push({ k: 'r', worker: a, frame });
    } else if (k === 'm') {
      if (!isInt(a) || !isSnapshot(b)) return undefined;
      entries.push({ k: 'm', gen: a, peers: b });
    } else if (k === 'g') {
      if (!isInt(a) || !isStr(b)) return undefined;
      entries.push({ k: 'g', worker: a, reason: b });
    } else {
      return undefined;
    }
  }
  return at === payloads.length ? entries : undefined;
}

/** Reads a message of the heartbeat subject, or `undefined` if it is malformed. */
export function decodeHeartbeat(text: string): HeartbeatSubjectMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(m) || !isStr(m.h) || !isStr(m.i)) return undefined;
  if (m.k === 'bye') return { k: 'bye', h: m.h, i: m.i };
  if (m.k !== 'hb' || !isInt(m.v) || !isInt(m.g) || !isSnapshot(m.m)) return undefined;
  const fp = Array.isArray(m.fp) && m.fp.every(isStr) ? (m.fp as string[]) : [];
  return { k: 'hb', h: m.h, i: m.i, v: m.v, g: m.g, m: m.m, fp };
}
