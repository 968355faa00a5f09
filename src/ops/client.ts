/**
 * The command line's side of the control socket: finding the master to talk to, and one
 * request to it. Loads nothing of the bus, so that `clusterbus status` starts fast and works
 * without the code generator installed.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ControlSocketError } from '../errors.js';
import {
  CONTROL_PROTOCOL_VERSION,
  parseControlAnswer,
  type ControlAnswer,
  type ControlCommand,
  type MasterIdentity,
} from './protocol.js';
import { ensurePrivateDir, listSockets, pidOfSocket, runtimeDir, RUNTIME_DIR_ENV } from './runtime-dir.js';

/** How long finding a master waits for each socket's `hello`. */
const HELLO_TIMEOUT_MS = 3_000;

/** Which master to talk to. */
export interface MasterQuery {
  /** The master's pid. */
  readonly pid?: number;
  /** Its control socket's path (a master started with `controlSocket: '<path>'`). */
  readonly socket?: string;
  /** Without `pid` or `socket`: the one master running in this directory. */
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A master found, and how to reach it. */
export interface FoundMaster {
  readonly socket: string;
  readonly identity: MasterIdentity;
}

/**
 * Sends one request and resolves with the answer.
 * @param timeoutMs gives up after this long without an answer; none by default (a reload
 *   answers when it is done, which the master bounds by `readyTimeoutMs` per slot).
 * @throws ControlSocketError: `no-master` (nothing listens), `refused` (not this user's
 *   socket), `protocol` (no proper answer).
 */
export function request(socket: string, cmd: ControlCommand, timeoutMs?: number): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let text = '';
    let done = false;
    const finish = (err: ControlSocketError | undefined, answer?: ControlAnswer): void => {
      if (done) return;
      done = true;
      conn.destroy();
      if (err) reject(err);
      else resolve(answer as ControlAnswer);
    };
    if (timeoutMs !== undefined) {
      conn.setTimeout(timeoutMs, () =>
        finish(new ControlSocketError('protocol', `the master on ${socket} did not answer within ${timeoutMs} ms`)),
      );
    }
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, cmd }) + '\n'));
    conn.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const answer = parseControlAnswer(text.slice(0, nl));
      if (answer) finish(undefined, answer);
      else finish(new ControlSocketError('protocol', `the process on ${socket} did not answer as a master does`));
    });
    conn.on('end', () =>
      finish(new ControlSocketError('protocol', `the master on ${socket} closed the connection without answering`)),
    );
    conn.on('error', (err: NodeJS.ErrnoException) => finish(connectError(socket, err)));
  });
}

function connectError(socket: string, err: NodeJS.ErrnoException): ControlSocketError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new ControlSocketError('no-master', `no master listens on ${socket} (it is not running)`, err);
    case 'EACCES':
    case 'EPERM':
      return new ControlSocketError(
        'refused',
        `permission denied on ${socket}: a master's control socket can only be opened by the user that runs it`,
        err,
      );
    default:
      return new ControlSocketError('protocol', `cannot reach the master on ${socket}: ${err.message}`, err);
  }
}

async function hello(socket: string): Promise<FoundMaster> {
  const answer = await request(socket, 'hello', HELLO_TIMEOUT_MS);
  if (!answer.ok || !('hello' in answer)) {
    throw new ControlSocketError('protocol', `the process on ${socket} did not answer as a master does`);
  }
  return { socket, identity: answer.hello };
}

function realPath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function describe(masters: readonly FoundMaster[]): string {
  return masters
    .map((m) => `  pid ${m.identity.pid} in ${m.identity.cwd} (${m.identity.entry ?? 'no entry file'})`)
    .join('\n');
}

/**
 * Finds the master `query` names: by socket path, by pid, or else the one master of this user
 * running in `query.cwd`.
 * @throws ControlSocketError: `no-master`, `ambiguous` (several run there; the message lists
 *   them), `unsafe` (the runtime directory is not private), `refused`.
 */
export async function findMaster(query: MasterQuery): Promise<FoundMaster> {
  if (query.socket !== undefined) return hello(path.resolve(query.cwd, query.socket));
  const dir = runtimeDir(query.env);
  const where = `(looked in ${dir}; ${RUNTIME_DIR_ENV} changes where)`;
  if (!ensurePrivateDir(dir, false)) {
    throw new ControlSocketError('no-master', `no clusterbus master is running for this user ${where}`);
  }
  const files = listSockets(dir);
  if (query.pid !== undefined) {
    const file = files.find((f) => pidOfSocket(f) === query.pid);
    if (file === undefined) {
      throw new ControlSocketError('no-master', `no clusterbus master with pid ${query.pid} ${where}`);
    }
    return hello(file);
  }
  const answers = await Promise.allSettled(files.map(hello));
  const live = answers.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  // A socket nobody listens on is a master that is gone; any other failure (a master too busy
  // to answer, say) is worth saying when no master is found.
  const troubled = answers.flatMap((r) =>
    r.status === 'rejected' && !(r.reason instanceof ControlSocketError && r.reason.reason === 'no-master')
      ? [`  ${(r.reason as Error).message}`]
      : [],
  );
  const cwd = realPath(query.cwd);
  const here = live.filter((m) => m.identity.cwd === cwd);
  if (here.length === 1) return here[0] as FoundMaster;
  if (here.length > 1) {
    throw new ControlSocketError(
      'ambiguous',
      `${here.length} clusterbus masters are running in ${cwd}; choose one with --pid:\n${describe(here)}`,
    );
  }
  const others =
    (live.length > 0 ? `; this user's masters elsewhere (choose one with --pid):\n${describe(live)}` : '') +
    (troubled.length > 0 ? `\nand sockets that did not answer:\n${troubled.join('\n')}` : '');
  if (live.length === 0 && troubled.length === 0) {
    throw new ControlSocketError('no-master', `no clusterbus master is running for this user ${where}`);
  }
  throw new ControlSocketError('no-master', `no clusterbus master is running in ${cwd}${others}`);
}
