/**
 * The bus pipe: a byte stream between the master and one worker, next to Node's IPC channel,
 * that carries only bus batches. Node's IPC runs every message through its own machinery (a
 * serializer object, buffers, a generator and an event per message) or escapes every batch
 * (`json`); on the pipe a batch is a length and the string's bytes. Measured per map round
 * trip at one call in flight, the difference is about 40 µs.
 *
 * A worker gets one when it is forked with `busPipeSettings()` (`startCluster` does this); any
 * other worker talks to the bus over IPC as before.
 */
import type { Socket } from 'node:net';
import net from 'node:net';
import v8 from 'node:v8';

/** The worker's file descriptor of the pipe (its stdio slot). */
const PIPE_FD = 4;
/** Set in a worker forked with the pipe: the file descriptor to use. */
const PIPE_ENV = 'CLUSTERBUS_BUS_FD';

/**
 * What to give `cluster.setupPrimary` (`stdio`) and `cluster.fork` (`env`) so that each
 * worker gets a bus pipe. The worker's stdout and stderr stay the master's.
 */
export function busPipeSettings(): {
  stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'];
  env: Record<string, string>;
} {
  return { stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'], env: { [PIPE_ENV]: String(PIPE_FD) } };
}

/** Whether `cluster.setupPrimary` was given the pipe's stdio, so that forks get a pipe. */
export function pipeConfigured(stdio: readonly unknown[] | undefined): boolean {
  return stdio?.[PIPE_FD] === 'pipe' && stdio[PIPE_FD - 1] === 'ipc';
}

/** The master's end of a worker's pipe, if it was forked with one. */
export function masterEnd(stdio: readonly unknown[] | null | undefined): Socket | undefined {
  const end = stdio?.[PIPE_FD];
  return end instanceof net.Socket ? end : undefined;
}

/** This worker's end of its pipe, if it was forked with one. */
export function workerEnd(): Socket | undefined {
  if (process.env[PIPE_ENV] !== String(PIPE_FD)) return undefined;
  try {
    const end = new net.Socket({ fd: PIPE_FD, readable: true, writable: true });
    // IPC keeps a worker alive as it always did; the pipe must not keep alive a worker that
    // has disconnected and has nothing left to do.
    end.unref();
    return end;
  } catch {
    return undefined;
  }
}

/** A frame: the length of what follows the prefix (u32 LE), then how the batch is written, then the batch. */
const PREFIX = 5;
const UTF8 = 0;
const V8 = 1;
/**
 * Batches of at least this many characters are written as V8 serializes a string: it copies
 * the characters as they are (one or two bytes each), several times faster than UTF-8
 * encoding and decoding them, but with a fixed cost of about a microsecond per batch that
 * small batches are better without.
 */
const V8_FROM_CHARS = 2048;
const placeholder = Buffer.from([0, 0, 0, 0, V8]);

/**
 * Writes one batch as a frame. `done` runs once the frame is handed to the system (or
 * failed). Returns false if the pipe is gone.
 */
export function writeFrame(end: Socket, batch: string, done: () => void): boolean {
  if (end.destroyed || !end.writable) return false;
  let frame: Buffer;
  if (batch.length < V8_FROM_CHARS) {
    // Room for the worst case (3 bytes a UTF-16 unit), so the text is encoded in one pass.
    const room = Buffer.allocUnsafe(PREFIX + batch.length * 3);
    const size = room.write(batch, PREFIX, 'utf8');
    room.writeUInt32LE(size, 0);
    room[4] = UTF8;
    frame = room.subarray(0, PREFIX + size);
  } else {
    const serializer = new v8.Serializer();
    serializer.writeRawBytes(placeholder);
    serializer.writeHeader();
    serializer.writeValue(batch);
    frame = serializer.releaseBuffer();
    frame.writeUInt32LE(frame.length - PREFIX, 0);
  }
  end.write(frame, () => done());
  return true;
}

/**
 * Hands every batch framed by `writeFrame` on `end` to `onBatch`. A frame that does not hold a
 * string means the stream is not ours or is damaged: the pipe is closed, and its peer leaves
 * the bus. Errors (a peer that died in the middle of a write) are left to the 'close' that
 * follows them.
 */
export function readFrames(end: Socket, onBatch: (batch: string) => void): void {
  // Chunks of a frame not complete yet, joined once it is: a large frame arrives in many
  // reads, and joining at every read would copy it over and over.
  let chunks: Buffer[] = [];
  let total = 0;
  /** The length of the frame being read, prefix included, once its prefix arrived. */
  let need = -1;
  end.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    total += chunk.length;
    for (;;) {
      if (need < 0) {
        if (total < PREFIX) return;
        const first = (chunks[0] as Buffer).length >= PREFIX ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
        need = PREFIX + first.readUInt32LE(0);
      }
      if (total < need) return;
      const buffer = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
      const batch = decodeFrame(buffer, need);
      if (batch === undefined) {
        end.destroy();
        return;
      }
      const rest = buffer.subarray(need);
      chunks = rest.length > 0 ? [rest] : [];
      total = rest.length;
      need = -1;
      onBatch(batch);
    }
  });
  end.on('error', () => {});
}

/** The batch of the frame at the start of `buffer`, `size` bytes long; undefined if it holds none. */
function decodeFrame(buffer: Buffer, size: number): string | undefined {
  if (buffer[4] === UTF8) return buffer.toString('utf8', PREFIX, size);
  if (buffer[4] !== V8) return undefined;
  try {
    const batch: unknown = v8.deserialize(buffer.subarray(PREFIX, size));
    return typeof batch === 'string' ? batch : undefined;
  } catch {
    return undefined;
  }
}
