/**
 * The default transport: Node's cluster, every envelope through the master, on each worker's bus
 * pipe when it has one and on its IPC channel otherwise.
 *
 * Envelopes leave in batches, one per channel per turn of the event loop (`outbox.ts`,
 * `batch.ts`); single-envelope objects are still understood on receipt. The transport only
 * listens: the users' own `process.send` traffic reaches their `cluster.on('message')` /
 * `process.on('message')` listeners untouched.
 *
 * A worker forked with a bus pipe (`bus-pipe.ts`) sends every batch on it, and the master
 * answers on the pipe a worker speaks on. Such a worker leaves the bus when its process exits
 * or its pipe closes, not when it disconnects IPC: a draining worker disconnects first and may
 * still answer what it owes on the pipe. A dying worker's pipe is read to its end before its
 * exit is reported, so replies it sent just before exiting still count.
 */

import cluster, { type Worker } from 'node:cluster';
import type { Socket } from 'node:net';
import { isBatch, readBatch } from '../stream/batch.js';
import { masterEnd, readFrames, workerEnd, writeFrame } from './bus-pipe.js';
import { Outbox } from '../stream/outbox.js';
import { isBusMessage, type DownFrame, type UpFrame } from '../../core/protocol/frames.js';
import type {
  EndpointTransport,
  EndpointTransportEvents,
  RouterTransport,
  RouterTransportEvents,
} from '../../core/transport.js';

/** How long a closed pipe waits for its worker's exit, to report why it left. */
const EXIT_AFTER_PIPE_MS = 200;

/** A worker's bus pipe, as the master sees it. */
interface MasterPipe {
  readonly end: Socket;
  /** The worker sent a batch on it: answer on it too. */
  used: boolean;
  closed: boolean;
  /** Why the worker's process ended, once known. */
  exit: string | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Its departure was reported to the broker. */
  reported: boolean;
}

/** Hands every envelope of a channel message to `deliver`; reports a damaged batch as one malformed message. */
function unpack(message: unknown, deliver: (frame: unknown) => void): void {
  if (isBatch(message)) deliverBatch(message, deliver);
  else if (isBusMessage(message)) deliver(message);
}

function deliverBatch(batch: string, deliver: (frame: unknown) => void): void {
  const { frames, complete } = readBatch(batch);
  for (const frame of frames) deliver(frame);
  if (!complete) deliver(undefined);
}

/** The master's side (the router's): one channel per forked worker. */
export class ClusterRouterTransport implements RouterTransport {
  private events: RouterTransportEvents | undefined;
  private readonly gone = new Set<number>();
  private readonly outboxes = new Map<number, Outbox>();
  private readonly pipes = new Map<number, MasterPipe>();
  private readonly onFork = (worker: Worker): void => {
    this.attachPipe(worker);
    this.events?.onPeerStarting(worker.id);
  };
  private readonly onMessage = (worker: Worker, message: unknown): void => {
    const events = this.events;
    if (events) unpack(message, (frame) => events.onMessage(worker.id, frame));
  };
  private readonly onDisconnect = (worker: Worker): void => {
    // A worker that speaks on its pipe may still answer there (a draining worker disconnects first).
    if (!this.pipes.get(worker.id)?.used) this.peerGone(worker.id, 'disconnected');
  };
  private readonly onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const reason = signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`;
    const pipe = this.pipes.get(worker.id);
    if (!pipe?.used) return this.peerGone(worker.id, reason);
    // A dead worker gets no more work, whatever its pipe still holds: by now the pipe has
    // nearly always been read to its end (its 'close' comes before the exit).
    pipe.exit = reason;
    this.pipeGone(worker.id, pipe);
  };

  bind(events: RouterTransportEvents): void {
    this.events = events;
    cluster.on('fork', this.onFork);
    cluster.on('message', this.onMessage);
    cluster.on('disconnect', this.onDisconnect);
    cluster.on('exit', this.onExit);
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker && worker.isConnected()) {
        this.attachPipe(worker);
        events.onPeerStarting(worker.id);
      }
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
    for (const pipe of this.pipes.values()) if (pipe.timer) clearTimeout(pipe.timer);
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
    if (!worker || !(worker.isConnected() || this.pipeOpen(peer))) return undefined;
    outbox = new Outbox((batch, flushed) => {
      const pipe = this.pipes.get(peer);
      if (pipe?.used) return !pipe.closed && writeFrame(pipe.end, batch, flushed);
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

  private attachPipe(worker: Worker): void {
    const end = masterEnd(worker.process.stdio);
    if (!end || this.pipes.has(worker.id)) return;
    const id = worker.id;
    const pipe: MasterPipe = { end, used: false, closed: false, exit: undefined, timer: undefined, reported: false };
    this.pipes.set(id, pipe);
    readFrames(end, (batch) => {
      if (!isBatch(batch)) return;
      pipe.used = true;
      const events = this.events;
      if (events) deliverBatch(batch, (frame) => events.onMessage(id, frame));
    });
    end.on('close', () => {
      pipe.closed = true;
      if (!pipe.used || pipe.exit !== undefined) return this.pipeGone(id, pipe);
      // The exit usually follows at once: wait for it a little, to say why the worker left.
      if (pipe.timer) clearTimeout(pipe.timer);
      pipe.timer = setTimeout(() => this.pipeGone(id, pipe), EXIT_AFTER_PIPE_MS);
    });
  }

  /** A worker that speaks on its pipe left: once, with its exit's reason if known. */
  private pipeGone(id: number, pipe: MasterPipe): void {
    if (pipe.timer) clearTimeout(pipe.timer);
    pipe.timer = undefined;
    if (pipe.closed) this.pipes.delete(id);
    if (!pipe.used || pipe.reported) return;
    pipe.reported = true;
    this.left(id, pipe.exit ?? 'bus pipe closed');
  }

  private pipeOpen(id: number): boolean {
    const pipe = this.pipes.get(id);
    return pipe !== undefined && pipe.used && !pipe.closed;
  }

  /** A worker on IPC left: 'disconnect' and 'exit' both fire for one death; report it once. */
  private peerGone(id: number, reason: string): void {
    if (this.gone.has(id)) {
      this.gone.delete(id);
      return;
    }
    this.gone.add(id);
    this.left(id, reason);
  }

  private left(id: number, reason: string): void {
    const outbox = this.outboxes.get(id);
    this.outboxes.delete(id);
    outbox?.release();
    this.events?.onPeerGone(id, reason);
  }
}

/** A worker's side: its one channel to the master. */
export class ClusterEndpointTransport implements EndpointTransport {
  private events: EndpointTransportEvents | undefined;
  /** The bus pipe, when this worker was forked with one; IPC otherwise. */
  private readonly pipe: Socket | undefined = workerEnd();
  private readonly outbox = new Outbox((batch, flushed) => {
    if (this.pipe) return writeFrame(this.pipe, batch, flushed);
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
  private readonly onIpcDisconnect = (): void => {
    // With a pipe, the bus lives on until the pipe closes.
    if (!this.pipe) this.onDisconnect();
  };

  get connected(): boolean {
    return this.pipe ? !this.pipe.destroyed : process.connected === true;
  }

  bind(events: EndpointTransportEvents): void {
    this.events = events;
    process.on('message', this.onMessage);
    process.once('disconnect', this.onIpcDisconnect);
    if (this.pipe) {
      readFrames(this.pipe, this.onMessage);
      this.pipe.once('close', this.onDisconnect);
    }
  }

  send(frame: UpFrame): boolean {
    if (!this.connected) return false;
    this.outbox.push(frame);
    return true;
  }

  close(): void {
    this.outbox.flush();
    process.off('message', this.onMessage);
    process.off('disconnect', this.onIpcDisconnect);
    this.pipe?.off('close', this.onDisconnect);
    this.events = undefined;
  }
}
