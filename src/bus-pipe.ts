/**
 * The bus pipe: a byte stream between the master and one worker, next to Node's IPC channel,
 * that carries only bus batches. Node's IPC pays for a serializer and a deserializer on every
 * message (`advanced`) or escapes every batch (`json`); on the pipe a batch is its UTF-8 bytes
 * and a newline (a batch never holds one: its headers and payloads are JSON text). Measured
 * per map round trip at one call in flight, the difference is about 40 µs.
 *
 * A worker gets one when it is forked with `busPipeSettings()` (`startCluster` does this); any
 * other worker talks to the bus over IPC as before.
 */
import type { Socket } from 'node:net';
import net from 'node:net';

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

/**
 * Hands every newline-terminated line of `end` to `onLine`. Errors (a peer that died in the
 * middle of a write) are left to the 'close' that follows them.
 */
export function readLines(end: Socket, onLine: (line: string) => void): void {
  let pending = '';
  end.setEncoding('utf8');
  end.on('data', (chunk: string) => {
    let from = 0;
    let nl = chunk.indexOf('\n');
    if (nl < 0) {
      pending += chunk;
      return;
    }
    onLine(pending + chunk.slice(0, nl));
    pending = '';
    from = nl + 1;
    while ((nl = chunk.indexOf('\n', from)) >= 0) {
      onLine(chunk.slice(from, nl));
      from = nl + 1;
    }
    pending = chunk.slice(from);
  });
  end.on('error', () => {});
}

/** Writes one batch; `done` runs once it is handed to the system (or failed). */
export function writeLine(end: Socket, batch: string, done: () => void): boolean {
  if (end.destroyed || !end.writable) return false;
  end.write(`${batch}\n`, () => done());
  return true;
}
