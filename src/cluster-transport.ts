/**
 * The default transport: Node's cluster IPC, every envelope through the master.
 *
 * It only listens; it never swallows the users' own `process.send` traffic, which reaches
 * their `cluster.on('message')` / `process.on('message')` listeners as before.
 */
import cluster, { type Worker } from 'node:cluster';
import { isBusMessage, type DownFrame, type UpFrame } from './protocol.js';
import type {
  BrokerTransport,
  BrokerTransportEvents,
  EndpointTransport,
  EndpointTransportEvents,
} from './transport.js';

/** The master's side: one channel per forked worker. */
export class ClusterBrokerTransport implements BrokerTransport {
  private events: BrokerTransportEvents | undefined;
  private readonly gone = new Set<number>();
  private readonly onFork = (worker: Worker): void => this.events?.onPeerStarting(worker.id);
  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (isBusMessage(message)) this.events?.onMessage(worker.id, message);
  };
  private readonly onGone = (reason: string) => (worker: Worker) => this.peerGone(worker.id, reason);
  private readonly onDisconnect = this.onGone('disconnected');
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
    const worker = cluster.workers?.[peer];
    if (!worker || !worker.isConnected()) return;
    try {
      // The callback keeps a send to a worker that just died from becoming an 'error' event.
      worker.send(frame, undefined, swallow);
    } catch {
      // The channel closed between the check and the send; `disconnect` reports it.
    }
  }

  close(): void {
    cluster.off('fork', this.onFork);
    cluster.off('message', this.onMessage);
    cluster.off('disconnect', this.onDisconnect);
    cluster.off('exit', this.onExit);
    this.events = undefined;
  }

  private peerGone(id: number, reason: string): void {
    // 'disconnect' and 'exit' both fire for one death; report it once.
    if (this.gone.has(id)) {
      this.gone.delete(id);
      return;
    }
    this.gone.add(id);
    this.events?.onPeerGone(id, reason);
  }
}

function swallow(): void {}

/** A worker's side: its one channel to the master. */
export class ClusterEndpointTransport implements EndpointTransport {
  private events: EndpointTransportEvents | undefined;
  private readonly onMessage = (message: unknown): void => {
    if (isBusMessage(message)) this.events?.onMessage(message);
  };
  private readonly onDisconnect = (): void => this.events?.onDisconnect();

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
    try {
      process.send(frame, undefined, undefined, swallow);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    process.off('message', this.onMessage);
    process.off('disconnect', this.onDisconnect);
    this.events = undefined;
  }
}
