/**
 * The default transport: Node's cluster IPC, every envelope through the master.
 *
 * Envelopes leave in batches, one per channel per turn of the event loop (`outbox.ts`,
 * `batch.ts`); single-envelope objects are still understood on receipt. The transport only
 * listens: the users' own `process.send` traffic reaches their `cluster.on('message')` /
 * `process.on('message')` listeners untouched.
 */
import cluster, { type Worker } from 'node:cluster';
import { isBatch, readBatch } from './batch.js';
import { Outbox } from './outbox.js';
import { isBusMessage, type DownFrame, type UpFrame } from './protocol.js';
import type {
  BrokerTransport,
  BrokerTransportEvents,
  EndpointTransport,
  EndpointTransportEvents,
} from './transport.js';

/** Hands every envelope of a channel message to `deliver`; reports a damaged batch as one malformed message. */
function unpack(message: unknown, deliver: (frame: unknown) => void): void {
  if (isBatch(message)) {
    const { frames, complete } = readBatch(message);
    for (const frame of frames) deliver(frame);
    if (!complete) deliver(undefined);
  } else if (isBusMessage(message)) {
    deliver(message);
  }
}

/** The master's side: one channel per forked worker. */
export class ClusterBrokerTransport implements BrokerTransport {
  private events: BrokerTransportEvents | undefined;
  private readonly gone = new Set<number>();
  private readonly outboxes = new Map<number, Outbox>();
  private readonly onFork = (worker: Worker): void => this.events?.onPeerStarting(worker.id);
  private readonly onMessage = (worker: Worker, message: unknown): void => {
    const events = this.events;
    if (events) unpack(message, (frame) => events.onMessage(worker.id, frame));
  };
  private readonly onDisconnect = (worker: Worker): void => this.peerGone(worker.id, 'disconnected');
  private readonly onExit = (worker: Worker, code: number | null, signal: string | null): void =>
    this.peerGone(worker.id, signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`);

  bind(events: BrokerTransportEvents): void {
    this.events = events;
    cluster.on('fork', this.onFork);
    cluster.on('message', this.onMessage);
    cluster.on('disconnect', this.onDisconnect);
    cluster.on('exit', this.onExit);
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker && worker.isConnected()) events.onPeerStarting(worker.id);
    }
  }

  send(peer: number, frame: DownFrame): void {
    this.outbox(peer)?.push(frame);
  }

  whenWritable(peer: number, then: () => void): void {
    const outbox = this.outboxes.get(peer);
    if (outbox) outbox.whenWritable(then);
    else then();
  }

  congested(peer: number): boolean {
    return this.outboxes.get(peer)?.congested ?? false;
  }

  close(): void {
    for (const outbox of this.outboxes.values()) outbox.flush();
    cluster.off('fork', this.onFork);
    cluster.off('message', this.onMessage);
    cluster.off('disconnect', this.onDisconnect);
    cluster.off('exit', this.onExit);
    this.events = undefined;
  }

  private outbox(peer: number): Outbox | undefined {
    let outbox = this.outboxes.get(peer);
    if (outbox) return outbox;
    const worker = cluster.workers?.[peer];
    if (!worker || !worker.isConnected()) return undefined;
    outbox = new Outbox((batch, flushed) => {
      if (!worker.isConnected()) return false;
      try {
        // The callback also keeps a send to a worker that just died from becoming an 'error' event.
        worker.send(batch, undefined, flushed);
        return true;
      } catch {
        // The channel closed between the check and the send; 'disconnect' reports it.
        return false;
      }
    });
    this.outboxes.set(peer, outbox);
    return outbox;
  }

  private peerGone(id: number, reason: string): void {
    const outbox = this.outboxes.get(id);
    this.outboxes.delete(id);
    outbox?.release();
    // 'disconnect' and 'exit' both fire for one death; report it once.
    if (this.gone.has(id)) {
      this.gone.delete(id);
      return;
    }
    this.gone.add(id);
    this.events?.onPeerGone(id, reason);
  }
}

/** A worker's side: its one channel to the master. */
export class ClusterEndpointTransport implements EndpointTransport {
  private events: EndpointTransportEvents | undefined;
  private readonly outbox = new Outbox((batch, flushed) => {
    if (!process.send || !process.connected) return false;
    try {
      process.send(batch, undefined, undefined, flushed);
      return true;
    } catch {
      return false;
    }
  });
  private readonly onMessage = (message: unknown): void => {
    const events = this.events;
    if (events) unpack(message, (frame) => events.onMessage(frame));
  };
  private readonly onDisconnect = (): void => {
    this.outbox.release();
    this.events?.onDisconnect();
  };

  get connected(): boolean {
    return process.connected === true;
  }

  bind(events: EndpointTransportEvents): void {
    this.events = events;
    process.on('message', this.onMessage);
    process.once('disconnect', this.onDisconnect);
  }

  send(frame: UpFrame): boolean {
    if (!process.send || !process.connected) return false;
    this.outbox.push(frame);
    return true;
  }

  close(): void {
    this.outbox.flush();
    process.off('message', this.onMessage);
    process.off('disconnect', this.onDisconnect);
    this.events = undefined;
  }
}
