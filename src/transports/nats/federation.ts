/**
 * The bus across machines: this host's router reaches the workers of other hosts as peers of
 * its own, over NATS. Each host's master runs today's router for its own workers' requests and
 * holds the host's one NATS connection; workers stay on their pipes, and traffic that stays on
 * the host never touches NATS.
 *
 * Wrapped around the host's local transport, this transport:
 * - learns the other hosts from their heartbeats and reports their workers to the router as
 *   peers (keys from `REMOTE_BASE`), with their states and events, as they change;
 * - carries the router's calls to those workers to their host, one message per host and turn
 *   (a broadcast to two workers there travels once), over an ordered, acknowledged link;
 * - runs the calls other hosts' routers send to this host's workers, under delivery ids of its
 *   own (from `RELAY_BASE`), and carries the workers' replies back;
 * - reports a remote worker gone when its host says so (at once, in order after its replies),
 *   and all of a host's workers gone when the host says `bye` or is silent for `deadAfterMs`.
 *
 * Routing stays in the router: this file only moves frames and says who is there.
 */
import { randomBytes } from 'node:crypto';
import { exceeds } from '../../codec/codec.js';
import type { PeerId } from '../../core/peer-id.js';
import {
  PROTOCOL_VERSION,
  errorToWire,
  type CallFrame,
  type DownFrame,
  type ReplyFrame,
  type UpFrame,
  type WireError,
} from '../../core/protocol/frames.js';
import type { PeerKey, RouterTransport, RouterTransportEvents } from '../../core/transport.js';
import { PayloadTooLargeError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { connectNats, type NatsConnection } from './client.js';
import {
  decodeDirect,
  decodeHeartbeat,
  type DirectMessage,
  type HeartbeatMessage,
  type LinkEntry,
  type PeerCode,
  type SnapshotPeer,
} from './link-codec.js';
import { openKvDedupe, type KvDedupe } from './kv-dedupe.js';
import { InLink, OutLink } from './link.js';
import { subjects, type ResolvedNatsOptions } from './options.js';

/** Router keys of peers on other hosts start here; below are this host's workers (their ids). */
export const REMOTE_BASE = 1_000_000_000;
/** Delivery ids of calls run for other hosts start here, far above any the router hands out. */
const RELAY_BASE = 2 ** 50;
/** Bytes of a NATS message kept for the link's header and envelope, below the server's `max_payload`. */
export const LINK_ENVELOPE_BYTES = 8 * 1024;
/** How long a host gathers what arrived from another before acknowledging it. */
const ACK_DELAY_MS = 5;
/** How long a settled run-once job lives in the KV bucket when the bus remembers it for ever. */
const DAY_MS = 24 * 60 * 60 * 1000;
/** How often other hosts' silence is judged: often enough to notice a death well within `deadAfterMs`. */
const CHECK_EVERY_MS = (heartbeatMs: number): number => Math.min(250, heartbeatMs / 2);

/** A worker of another host, as this host's router sees it. */
interface RemotePeer {
  readonly key: PeerKey;
  readonly host: RemoteHost;
  readonly id: PeerId;
  state: PeerCode;
  events: string[];
  fingerprints: string[] | undefined;
}

/** Another host, from the first message heard from it until it leaves or is declared dead. */
interface RemoteHost {
  readonly name: string;
  /** Its incarnation: a host that restarts is a new host. */
  readonly inc: string;
  readonly joinedAt: number;
  lastHeard: number;
  /** Generation of its membership last applied; -1 before the first. */
  gen: number;
  readonly peers: Map<number, RemotePeer>;
  readonly out: OutLink;
  readonly in: InLink;
  ackDue: boolean;
  fingerprints: string[];
}

/** A call another host's router made to one of this host's workers, while it runs. */
interface Relayed {
  readonly host: RemoteHost;
  /** The caller's delivery id. */
  readonly id: number;
  readonly worker: number;
  readonly ev: string;
}

/** One other host, as `status()` shows it. */
export interface HostStatus {
  readonly host: string;
  /** Milliseconds since this host last heard from it. */
  readonly lastHeardMs: number;
  readonly workers: {
    readonly worker: number;
    readonly state: 'starting' | 'ready' | 'draining';
    readonly events: string[];
  }[];
  /** The link from this host to it. */
  readonly link: {
    /** Bytes sent to it and not acknowledged yet. */
    readonly inFlightBytes: number;
    /** Whether broadcasts to it wait for room in the window. */
    readonly congested: boolean;
    /** Messages sent to it again (after a reconnect or a silence). */
    readonly resent: number;
    /** Duplicates and out-of-order messages from it, dropped. */
    readonly duplicates: number;
  };
}

/** The NATS side of this host, for `status()` and `busStats()`. */
export interface NatsStatus {
  readonly host: string;
  readonly connected: boolean;
  /** The server this host is connected to. */
  readonly server: string | undefined;
  /** The server's `max_payload`, in bytes. */
  readonly maxPayload: number | undefined;
  readonly reconnects: number;
  /** When this host last lost its NATS server (epoch milliseconds). */
  readonly disconnectedAt: number | undefined;
  /** When this host last reconnected to a NATS server (epoch milliseconds). */
  readonly reconnectedAt: number | undefined;
  /** Messages from NATS that were not ours or were malformed, dropped. */
  readonly malformed: number;
  /** Times this host's own timers ran so late that the time was not counted as others' silence. */
  readonly stalls: number;
  /** Other hosts, by name. */
  readonly hosts: HostStatus[];
}

export class NatsFederation implements RouterTransport {
  /** Resolves once this host is connected and holds the membership of every live host. */
  readonly joined: Promise<void>;
  private readonly subjects: ReturnType<typeof subjects>;
  private inc = randomBytes(6).toString('hex');
  private nc: NatsConnection | undefined;
  private events: RouterTransportEvents | undefined;
  private readonly hosts = new Map<string, RemoteHost>();
  private readonly remotePeers = new Map<PeerKey, RemotePeer>();
  /** Incarnations of hosts declared dead: whatever they still send is ignored. */
  private readonly fenced = new Map<string, number>();
  private nextKey = REMOTE_BASE;
  /** This host's peers that joined, as the other hosts learn them. */
  private readonly local = new Map<number, { state: PeerCode; events: string[]; fingerprints?: string[] }>();
  private gen = 1;
  private membershipDue = false;
  private readonly relayed = new Map<number, Relayed>();
  private readonly relayOwed = new Map<number, number>();
  /** `drained` frames held back from workers that still owe other hosts a reply. */
  private readonly heldDrained = new Set<number>();
  private nextRelay = RELAY_BASE;
  private readonly acksDue: RemoteHost[] = [];
  private timers: NodeJS.Timeout[] = [];
  private connected = false;
  private reconnects = 0;
  private disconnectedAt: number | undefined;
  private reconnectedAt: number | undefined;
  private malformed = 0;
  /** Checks of other hosts' silence that ran late enough to show this process was stalled. */
  private stalls = 0;
  private lastCheckAt = Date.now();
  private closed = false;
  private readonly warned = new Set<string>();
  private kvDedupe: KvDedupe | undefined;

  constructor(
    private readonly inner: RouterTransport,
    private readonly options: ResolvedNatsOptions,
    /** This host's name on the bus (the bus option `host`). */
    private readonly host: string,
    private readonly log: Logger,
    /** The bus's own payload cap, to warn when the server's is lower. */
    private readonly busCap: number,
    /** How long a settled run-once job is remembered (`Infinity`: a day, across hosts). */
    private readonly dedupeTtlMs: number,
  ) {
    this.subjects = subjects(options.namespace);
    this.joined = this.start();
    // Whoever starts the bus awaits `joined`; a failure must not also be an unhandled rejection.
    this.joined.catch(() => undefined);
  }

  // ---- the router's side --------------------------------------------------------------

  bind(events: RouterTransportEvents): void {
    this.events = events;
    this.inner.bind({
      onPeerStarting: (peer) => {
        if (!this.local.has(peer)) this.setLocal(peer, 's', []);
        events.onPeerStarting(peer);
      },
      onMessage: (peer, message) => this.fromLocal(peer, message),
      onPeerGone: (peer, reason) => this.localGone(peer, reason),
    });
  }

  send(peer: PeerKey, frame: DownFrame): void {
    if (peer < REMOTE_BASE) {
      if (frame.t === 'drained' && (this.relayOwed.get(peer) ?? 0) > 0) {
        this.heldDrained.add(peer);
        return;
      }
      return this.inner.send(peer, frame);
    }
    const remote = this.remotePeers.get(peer);
    // Only calls cross: `drained` for a remote worker is its own host's business (rule 2 for the rest).
    if (remote && frame.t === 'call') remote.host.out.call(remote.id.worker, frame);
  }

  congested(peer: PeerKey): boolean {
    if (peer < REMOTE_BASE) return this.inner.congested(peer);
    return this.remotePeers.get(peer)?.host.out.congested ?? false;
  }

  whenWritable(peer: PeerKey, then: () => void): void {
    if (peer < REMOTE_BASE) return this.inner.whenWritable(peer, then);
    const remote = this.remotePeers.get(peer);
    if (remote) remote.host.out.whenWritable(then);
    else then();
  }

  unreachable(peer: PeerKey): string | undefined {
    if (peer < REMOTE_BASE || this.connected) return undefined;
    const remote = this.remotePeers.get(peer);
    if (!remote?.host.out.windowFull) return undefined;
    return (
      `host ${remote.host.name} cannot be reached now: this host is not connected to NATS and ` +
      `${remote.host.out.inFlightBytes} bytes to it wait for an acknowledgement (linkWindowBytes ${this.options.linkWindowBytes})`
    );
  }

  get sharedDedupe(): KvDedupe | undefined {
    return this.kvDedupe;
  }

  remote(peer: PeerKey): PeerId | undefined {
    if (peer < REMOTE_BASE) return undefined;
    return this.remotePeers.get(peer)?.id ?? { host: 'a departed host', worker: peer - REMOTE_BASE };
  }

  /** The largest payload that can cross to another host: the server's `max_payload` less the envelope. */
  get maxFrameBytes(): number | undefined {
    const max = this.nc?.info?.max_payload;
    return max === undefined ? undefined : max - LINK_ENVELOPE_BYTES;
  }

  get maxFrameName(): string {
    return `the NATS server's max_payload of ${this.nc?.info?.max_payload ?? '?'} bytes, less ${LINK_ENVELOPE_BYTES} bytes of envelope`;
  }

  /** Stops at once: says `bye` if it can, and closes the connection without waiting. */
  close(): void {
    void this.leave();
    this.inner.close();
  }

  /**
   * Leaves the bus across machines: the other hosts fail or redeliver at once whatever this
   * host's workers still owed them, instead of after `deadAfterMs`. Resolves once the
   * connection is closed (at most a second).
   */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const nc = this.nc;
    if (!nc) return;
    this.publish(this.subjects.heartbeat, JSON.stringify({ k: 'bye', h: this.host, i: this.inc }));
    for (const host of this.hosts.values()) host.out.close();
    const drained = nc.drain().catch(() => nc.close());
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  status(): NatsStatus {
    const now = Date.now();
    const hosts = [...this.hosts.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((h): HostStatus => ({
        host: h.name,
        lastHeardMs: now - h.lastHeard,
        workers: [...h.peers.values()]
          .sort((a, b) => a.id.worker - b.id.worker)
          .map((p) => ({ worker: p.id.worker, state: STATE_NAMES[p.state], events: [...p.events] })),
        link: {
          inFlightBytes: h.out.inFlightBytes,
          congested: h.out.congested,
          resent: h.out.resent,
          duplicates: h.in.duplicates + h.in.outOfOrder,
        },
      }));
    return {
      host: this.host,
      connected: this.connected,
      server: this.connected ? this.nc?.getServer() : undefined,
      maxPayload: this.nc?.info?.max_payload,
      reconnects: this.reconnects,
      disconnectedAt: this.disconnectedAt,
      reconnectedAt: this.reconnectedAt,
      malformed: this.malformed,
      stalls: this.stalls,
      hosts,
    };
  }

  // ---- joining ------------------------------------------------------------------------

  private async start(): Promise<void> {
    const nc = await connectNats(this.options, `clusterbus ${this.host}`);
    if (this.closed) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.connected = true;
    nc.subscribe(this.subjects.inbox(this.host), {
      callback: (err, msg) => {
        if (!err) this.onDirect(msg.string());
      },
    });
    nc.subscribe(this.subjects.heartbeat, {
      callback: (err, msg) => {
        if (!err) this.onHeartbeat(msg.string());
      },
    });
    void this.watchStatus(nc);
    const linkCap = this.maxFrameBytes;
    this.log.info('joined NATS', {
      host: this.host,
      server: nc.getServer(),
      namespace: this.options.namespace,
      maxPayload: nc.info?.max_payload,
    });
    if (linkCap !== undefined && this.busCap > linkCap) {
      this.log.warn(
        `maxPayloadBytes (${this.busCap}) is above what crosses to another host (${linkCap} bytes: ${this.maxFrameName}); ` +
          'larger payloads to other hosts fail with PayloadTooLargeError (raise max_payload on the NATS servers)',
        { maxPayloadBytes: this.busCap, linkCap },
      );
    }
    this.heartbeat();
    const kv = openKvDedupe(
      nc,
      this.options.namespace,
      Number.isFinite(this.dedupeTtlMs) ? this.dedupeTtlMs : DAY_MS,
      () => ({ host: this.host, inc: this.inc }),
      (host, inc) => (host === this.host ? inc === this.inc : this.hosts.get(host)?.inc === inc),
      this.log,
    );
    this.timers.push(setInterval(() => this.heartbeat(), this.options.heartbeatMs));
    this.timers.push(setInterval(() => this.checkHostsSoon(), CHECK_EVERY_MS(this.options.heartbeatMs)));
    for (const t of this.timers) t.unref();
    // Every live host heartbeats within one interval: after it, this host knows them all
    // (and their membership, which each heartbeat carries), so nothing routed from here
    // counts a host it does not know yet.
    const [dedupe] = await Promise.all([
      kv,
      new Promise((resolve) => setTimeout(resolve, this.options.heartbeatMs + 200)),
    ]);
    this.kvDedupe = dedupe;
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          this.disconnectedAt = Date.now();
          this.log.warn('lost the NATS server; reconnecting', { host: this.host, server: s.server });
          break;
        case 'reconnect':
          this.connected = true;
          this.reconnectedAt = Date.now();
          this.reconnects++;
          this.log.info('reconnected to NATS', { host: this.host, server: s.server });
          // The client dropped whatever it had not written: send it again, and ask every
          // host for what this host may have missed while it was away.
          for (const host of this.hosts.values()) {
            host.out.resend();
            this.sendAck(host, true);
          }
          this.heartbeat();
          break;
        case 'slowConsumer':
          this.log.warn('NATS reports this host as a slow consumer', { host: this.host });
          break;
        case 'ldm':
          this.log.warn('the NATS server is entering lame-duck mode', { host: this.host, server: s.server });
          break;
        case 'error':
          this.log.error('NATS server error', { host: this.host, error: String((s as { error?: unknown }).error) });
          break;
        default:
          break;
      }
    }
  }

  private heartbeat(): void {
    if (this.closed) return;
    const hb: HeartbeatMessage = {
      k: 'hb',
      h: this.host,
      i: this.inc,
      v: PROTOCOL_VERSION,
      g: this.gen,
      m: this.snapshot(),
      fp: [],
    };
    this.publish(this.subjects.heartbeat, JSON.stringify(hb));
  }

  /**
   * Judges silence only after this process has read what arrived: the check runs after the
   * event loop's I/O phase, not straight from the timer, and time this process spent unable to
   * run its timers does not count as another host's silence. A master busy enough to run its
   * timers seconds late has not heard from anyone in that time either, and declaring the others
   * dead then would be wrong about them.
   */
  private checkHostsSoon(): void {
    const now = Date.now();
    const every = CHECK_EVERY_MS(this.options.heartbeatMs);
    const late = now - this.lastCheckAt - every;
    this.lastCheckAt = now;
    if (late > every) {
      this.stalls++;
      for (const host of this.hosts.values()) host.lastHeard = Math.min(now, host.lastHeard + late);
    }
    setImmediate(() => this.checkHosts());
  }

  private checkHosts(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const host of [...this.hosts.values()]) {
      if (now - host.lastHeard > this.options.deadAfterMs) {
        this.hostLost(
          host,
          `host ${host.name} unreachable: nothing heard from it for ${this.options.deadAfterMs} ms`,
          true,
        );
      } else {
        host.out.tick(now, host.lastHeard);
      }
    }
    for (const [key, at] of this.fenced) if (now - at > 10 * 60_000) this.fenced.delete(key);
  }

  // ---- this host's peers --------------------------------------------------------------

  private fromLocal(peer: PeerKey, message: unknown): void {
    if (typeof message === 'object' && message !== null) {
      const f = message as { t?: unknown; id?: unknown; ev?: unknown; fps?: unknown };
      switch (f.t) {
        case 'res':
          if (typeof f.id === 'number' && f.id >= RELAY_BASE) return this.relayReply(peer, message as ReplyFrame);
          break;
        case 'hello':
          if (isEventList(f.ev)) this.setLocal(peer, 'r', f.ev, fingerprintsOf(f.ev, f.fps));
          break;
        case 'handlers': {
          const state = this.local.get(peer)?.state;
          if (isEventList(f.ev)) {
            this.setLocal(peer, state === undefined || state === 's' ? 'r' : state, f.ev, fingerprintsOf(f.ev, f.fps));
          }
          break;
        }
        case 'drain': {
          const mine = this.local.get(peer);
          if (mine) this.setLocal(peer, 'd', mine.events, mine.fingerprints);
          break;
        }
        case 'bye':
          this.forgetLocal(peer, 'left the bus');
          break;
        default:
          break;
      }
    }
    this.events?.onMessage(peer, message);
  }

  private localGone(peer: PeerKey, reason: string): void {
    this.forgetLocal(peer, reason);
    this.events?.onPeerGone(peer, reason);
  }

  private setLocal(peer: number, state: PeerCode, events: string[], fingerprints?: string[]): void {
    this.local.set(peer, { state, events: [...events], ...(fingerprints ? { fingerprints: [...fingerprints] } : {}) });
    this.membershipChanged();
  }

  /** A local peer left: the other hosts learn it in order after its last replies. */
  private forgetLocal(peer: number, reason: string): void {
    for (const [id, r] of this.relayed) if (r.worker === peer) this.relayed.delete(id);
    this.relayOwed.delete(peer);
    this.heldDrained.delete(peer);
    if (!this.local.delete(peer)) return;
    for (const host of this.hosts.values()) host.out.push({ k: 'g', worker: peer, reason });
    this.membershipChanged();
  }

  private membershipChanged(): void {
    this.gen++;
    if (this.membershipDue) return;
    this.membershipDue = true;
    setImmediate(() => {
      this.membershipDue = false;
      const peers = this.snapshot();
      for (const host of this.hosts.values()) host.out.push({ k: 'm', gen: this.gen, peers });
    });
  }

  private snapshot(): SnapshotPeer[] {
    const peers: SnapshotPeer[] = [];
    for (const [worker, p] of this.local) {
      peers.push(p.fingerprints ? [worker, p.state, p.events, p.fingerprints] : [worker, p.state, p.events]);
    }
    return peers;
  }

  // ---- calls from other hosts ----------------------------------------------------------

  private relayCall(host: RemoteHost, workers: number[], frame: CallFrame): void {
    if (frame.id === 0) {
      const call: CallFrame = { ...frame, fh: host.name };
      for (const w of workers) if (this.local.has(w)) this.inner.send(w, call);
      return;
    }
    for (const w of workers) {
      // A worker that left: its departure is already on its way to the caller (rule 2).
      if (!this.local.has(w)) continue;
      const id = this.nextRelay++;
      this.relayed.set(id, { host, id: frame.id, worker: w, ev: frame.ev });
      this.relayOwed.set(w, (this.relayOwed.get(w) ?? 0) + 1);
      this.inner.send(w, { ...frame, id, fh: host.name });
    }
  }

  private relayReply(worker: number, f: ReplyFrame): void {
    const r = this.relayed.get(f.id);
    if (!r || r.worker !== worker) return;
    this.relayed.delete(f.id);
    this.relaySettled(worker);
    if (this.hosts.get(r.host.name) !== r.host) return;
    r.host.out.push({ k: 'r', worker, frame: this.replyFor(r, worker, f) });
  }

  /**
   * A call another host made to `worker` is over (answered, or its caller gone): once the
   * worker owes other hosts nothing, the `drained` held back from it goes out.
   */
  private relaySettled(worker: number): void {
    const owed = (this.relayOwed.get(worker) ?? 1) - 1;
    if (owed > 0) return void this.relayOwed.set(worker, owed);
    this.relayOwed.delete(worker);
    if (this.heldDrained.delete(worker)) this.inner.send(worker, { cb: PROTOCOL_VERSION, t: 'drained' });
  }

  /** The reply as the caller's host gets it: its delivery id, and the errors naming this host. */
  private replyFor(r: Relayed, worker: number, f: ReplyFrame): ReplyFrame {
    if (f.ok === true && typeof f.p === 'string') {
      const limit = this.maxFrameBytes;
      const size = limit === undefined ? undefined : exceeds(f.p, limit);
      if (size === undefined) return { cb: PROTOCOL_VERSION, t: 'res', id: r.id, ok: true, p: f.p };
      const err = new PayloadTooLargeError(r.ev, 'result', size, limit as number, worker, this.host, this.maxFrameName);
      const e = errorToWire(err, r.ev, worker);
      return { cb: PROTOCOL_VERSION, t: 'res', id: r.id, ok: false, e: { ...e, h: this.host } };
    }
    const e = f.e as WireError | undefined;
    const named: WireError =
      typeof e === 'object' && e !== null ? (e.h === undefined ? { ...e, h: this.host } : e) : (e as never);
    return { cb: PROTOCOL_VERSION, t: 'res', id: r.id, ok: false, e: named };
  }

  // ---- other hosts --------------------------------------------------------------------

  private onDirect(text: string): void {
    const m: DirectMessage | undefined = decodeDirect(text);
    if (!m) {
      this.malformed++;
      return;
    }
    // Addressed to an earlier incarnation of this host: its links are gone.
    if (m.to !== this.inc || this.closed) return;
    const host = this.hostFor(m.h, m.i);
    if (!host) return;
    host.lastHeard = Date.now();
    switch (m.k) {
      case 'd':
        if (host.in.accept(m.s)) for (const entry of m.e) this.apply(host, entry);
        this.ackSoon(host);
        break;
      case 'a':
        host.out.acked(m.s);
        if (m.rs === 1) host.out.resend();
        break;
      case 'x':
        this.wasFenced(m.h);
        break;
    }
  }

  private onHeartbeat(text: string): void {
    const m = decodeHeartbeat(text);
    if (!m) {
      this.malformed++;
      return;
    }
    if (this.closed) return;
    if (m.h === this.host) {
      if (m.i !== this.inc) this.warnOnce(`same-name:${m.i}`, `another host is also named "${this.host}" on NATS`);
      return;
    }
    if (m.k === 'bye') {
      const host = this.hosts.get(m.h);
      if (host && host.inc === m.i) this.hostLost(host, `host ${m.h} left the bus`, false);
      return;
    }
    if (m.v !== PROTOCOL_VERSION) {
      this.warnOnce(
        `version:${m.h}:${m.v}`,
        `host ${m.h} speaks bus protocol ${m.v}, this host ${PROTOCOL_VERSION}: not routing to it`,
      );
      return;
    }
    const host = this.hostFor(m.h, m.i);
    if (!host) return;
    host.lastHeard = Date.now();
    host.fingerprints = m.fp;
    // Later changes arrive on the link, in order with the host's replies; a heartbeat's
    // membership is only how a newcomer learns a host at once.
    if (host.gen < 0) this.applySnapshot(host, m.g, m.m);
  }

  /** The host of a message, created on first contact; `undefined` for a fenced incarnation. */
  private hostFor(name: string, inc: string): RemoteHost | undefined {
    const known = this.hosts.get(name);
    if (known && known.inc === inc) return known;
    const fencedAt = this.fenced.get(`${name}/${inc}`);
    if (fencedAt !== undefined) {
      // Tell it, at most once a second, so that it rejoins as a new incarnation.
      const now = Date.now();
      if (now - fencedAt > 1000) {
        this.fenced.set(`${name}/${inc}`, now);
        this.publish(this.subjects.inbox(name), JSON.stringify({ k: 'x', h: this.host, i: this.inc, to: inc }));
      }
      return undefined;
    }
    if (known) this.hostLost(known, `host ${name} restarted`, false);
    const address = { h: this.host, i: this.inc, to: inc };
    const host: RemoteHost = {
      name,
      inc,
      joinedAt: Date.now(),
      lastHeard: Date.now(),
      gen: -1,
      peers: new Map(),
      out: new OutLink(
        address,
        this.subjects.inbox(name),
        (subject, text) => this.publish(subject, text),
        this.options.linkWindowBytes,
        () => this.nc?.info?.max_payload ?? 1024 * 1024,
        (entries, bytes) =>
          this.log.error('dropped a message too large for NATS', {
            host: name,
            entries: entries.map((e) => e.k).join(','),
            bytes,
          }),
      ),
      in: new InLink(),
      ackDue: false,
      fingerprints: [],
    };
    this.hosts.set(name, host);
    host.out.push({ k: 'm', gen: this.gen, peers: this.snapshot() });
    this.log.info('host joined', { host: name });
    return host;
  }

  private apply(host: RemoteHost, entry: LinkEntry): void {
    switch (entry.k) {
      case 'c':
        return this.relayCall(host, entry.workers, entry.frame);
      case 'r': {
        const peer = host.peers.get(entry.worker);
        if (peer) this.events?.onMessage(peer.key, entry.frame);
        return;
      }
      case 'm':
        return this.applySnapshot(host, entry.gen, entry.peers);
      case 'g':
        return this.remoteGone(host, entry.worker, entry.reason);
    }
  }

  private applySnapshot(host: RemoteHost, gen: number, peers: SnapshotPeer[]): void {
    if (gen <= host.gen) return;
    host.gen = gen;
    const events = this.events;
    const seen = new Set<number>();
    for (const [worker, state, list, fps] of peers) {
      seen.add(worker);
      const known = host.peers.get(worker);
      if (!known) {
        const peer: RemotePeer = {
          key: this.nextKey++,
          host,
          id: { host: host.name, worker },
          state,
          events: [...list],
          fingerprints: fps,
        };
        host.peers.set(worker, peer);
        this.remotePeers.set(peer.key, peer);
        events?.onPeerStarting(peer.key);
        if (state !== 's') events?.onMessage(peer.key, helloOf('hello', peer));
        if (state === 'd') events?.onMessage(peer.key, { cb: PROTOCOL_VERSION, t: 'drain' });
        continue;
      }
      if (known.state === 's' && state !== 's') {
        known.state = 'r';
        known.events = [...list];
        known.fingerprints = fps;
        events?.onMessage(known.key, helloOf('hello', known));
      } else if (!sameList(known.events, list) || !sameList(known.fingerprints ?? [], fps ?? [])) {
        known.events = [...list];
        known.fingerprints = fps;
        events?.onMessage(known.key, helloOf('handlers', known));
      }
      if (state === 'd' && known.state !== 'd') {
        known.state = 'd';
        events?.onMessage(known.key, { cb: PROTOCOL_VERSION, t: 'drain' });
      }
    }
    for (const worker of [...host.peers.keys()]) if (!seen.has(worker)) this.remoteGone(host, worker, 'left the bus');
  }

  private remoteGone(host: RemoteHost, worker: number, reason: string): void {
    const peer = host.peers.get(worker);
    if (!peer) return;
    host.peers.delete(worker);
    this.events?.onPeerGone(peer.key, reason);
    this.remotePeers.delete(peer.key);
  }

  /** A host left or was declared dead: its workers are gone, and so is whatever it asked of this host. */
  private hostLost(host: RemoteHost, reason: string, fence: boolean): void {
    if (this.hosts.get(host.name) !== host) return;
    this.hosts.delete(host.name);
    if (fence) this.fenced.set(`${host.name}/${host.inc}`, 0);
    host.out.close();
    for (const worker of [...host.peers.keys()]) this.remoteGone(host, worker, reason);
    for (const [id, r] of this.relayed) {
      if (r.host !== host) continue;
      this.relayed.delete(id);
      this.relaySettled(r.worker);
    }
    (fence ? this.log.warn : this.log.info).call(this.log, fence ? 'host declared dead' : 'host left', {
      host: host.name,
      reason,
    });
  }

  /** Another host declared this one dead: rejoin as a new incarnation, forgetting every other host. */
  private wasFenced(by: string): void {
    this.log.warn('another host declared this host dead; rejoining as a new incarnation', { host: this.host, by });
    this.inc = randomBytes(6).toString('hex');
    for (const host of [...this.hosts.values()])
      this.hostLost(host, `this host rejoined the bus (declared dead by ${by})`, false);
    this.heartbeat();
  }

  /**
   * Acknowledges what arrived from `host` a few milliseconds later, once for everything that
   * arrived meanwhile: under a flood that is one ack per several messages instead of one per
   * message, and nothing waits on an ack but the sender's window.
   */
  private ackSoon(host: RemoteHost): void {
    if (host.ackDue) return;
    host.ackDue = true;
    this.acksDue.push(host);
    if (this.acksDue.length === 1) setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
  }

  private flushAcks(): void {
    const due = this.acksDue.splice(0);
    for (const host of due) {
      host.ackDue = false;
      if (this.hosts.get(host.name) === host) this.sendAck(host, false);
    }
  }

  private sendAck(host: RemoteHost, resend: boolean): void {
    const ack = { k: 'a', h: this.host, i: this.inc, to: host.inc, s: host.in.delivered, ...(resend ? { rs: 1 } : {}) };
    this.publish(this.subjects.inbox(host.name), JSON.stringify(ack));
  }

  private publish(subject: string, text: string): boolean {
    const nc = this.nc;
    if (!nc) return false;
    try {
      nc.publish(subject, text);
      return true;
    } catch (err) {
      // Closed, or over the server's limit: the link keeps what it sent until acknowledged.
      this.warnOnce(`publish:${String(err)}`, `NATS refused a message: ${String(err)}`);
      return false;
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(message, { host: this.host });
  }
}

const STATE_NAMES = { s: 'starting', r: 'ready', d: 'draining' } as const;

/** The `hello` or `handlers` frame a remote peer would send its own router. */
function helloOf(t: 'hello' | 'handlers', peer: RemotePeer): UpFrame {
  return peer.fingerprints
    ? { cb: PROTOCOL_VERSION, t, ev: peer.events, fps: peer.fingerprints }
    : { cb: PROTOCOL_VERSION, t, ev: peer.events };
}

/** A local peer's fingerprints, if its frame carried well-formed ones. */
function fingerprintsOf(events: readonly string[], fps: unknown): string[] | undefined {
  return isEventList(fps) && fps.length === events.length ? fps : undefined;
}

function isEventList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((e) => typeof e === 'string');
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
