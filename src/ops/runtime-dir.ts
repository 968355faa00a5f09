/**
 * Where control sockets live, shared by the master that listens and the command line that
 * looks for it, and the checks that keep them private to their user.
 *
 * Node cannot read a Unix socket peer's credentials (there is no `SO_PEERCRED` in its API), so
 * the file system is the gate: the socket's directory belongs to the user and only the user
 * may enter it (mode 0700), and the socket itself is mode 0600. On Linux connecting needs
 * write permission on the socket file, and reaching it needs search permission on every
 * directory above it; another user (not root) gets `EACCES`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlSocketError } from '../errors.js';

/** Environment variable naming the directory of the control sockets, for the master and the CLI alike. */
export const RUNTIME_DIR_ENV = 'CLUSTERBUS_RUNTIME_DIR';

/** A socket file name: `<app>.<pid>.sock`. */
const SOCKET_NAME = /^(.+)\.(\d+)\.sock$/;

/**
 * The longest Unix socket path the platform takes: `sun_path` is 108 bytes on Linux and 104
 * on macOS and the BSDs, with the terminating NUL.
 */
const MAX_SOCKET_PATH = process.platform === 'linux' ? 107 : 103;

/** This user's id; undefined where there are none (Windows). */
export function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * The directory of this user's control sockets: `CLUSTERBUS_RUNTIME_DIR`, else
 * `$XDG_RUNTIME_DIR/clusterbus` (a per-user directory that systemd keeps private), else
 * `<tmpdir>/clusterbus-<uid>`.
 */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[RUNTIME_DIR_ENV];
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'clusterbus');
  return path.join(os.tmpdir(), `clusterbus-${currentUid() ?? 'user'}`);
}

/** The name part of a socket file: the entry file's base name without extension, in safe characters. */
export function appName(entry: string | undefined): string {
  const base = entry === undefined ? 'node' : path.basename(entry).replace(/\.[cm]?[jt]sx?$/, '');
  const clean = base.replace(/[^\w-]/g, '_').slice(0, 32);
  return clean === '' ? 'app' : clean;
}

/** `<dir>/<app>.<pid>.sock`. */
export function socketPath(dir: string, app: string, pid: number): string {
  return path.join(dir, `${app}.${pid}.sock`);
}

/** The pid in a socket file's name, if it is one of ours. */
export function pidOfSocket(file: string): number | undefined {
  const m = SOCKET_NAME.exec(path.basename(file));
  return m ? Number(m[2]) : undefined;
}

/** Rejects a path the platform cannot bind or connect to. */
export function checkSocketPathLength(file: string): void {
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
    throw new ControlSocketError(
      'refused',
      `the control socket path ${file} is longer than the ${MAX_SOCKET_PATH} bytes a Unix socket path may have; ` +
        `set ${RUNTIME_DIR_ENV} to a shorter directory`,
    );
  }
}

/**
 * Makes sure `dir` is private to this user: a real directory (not a symbolic link), owned by
 * this user, with no permission for group or others. With `create`, a missing directory is
 * created (mode 0700) and one of this user's that is open to others is closed (chmod 0700):
 * the master does both; the command line only checks.
 * @returns whether the directory exists (without `create`, a missing one is not an error).
 * @throws ControlSocketError (`unsafe`) naming what is wrong.
 */
export function ensurePrivateDir(dir: string, create: boolean): boolean {
  const uid = currentUid();
  if (create) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ControlSocketError('unsafe', `cannot create the control socket directory ${dir}: ${String(err)}`, err);
    }
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !create) return false;
    throw new ControlSocketError('unsafe', `cannot read the control socket directory ${dir}: ${String(err)}`, err);
  }
  if (st.isSymbolicLink()) {
    throw new ControlSocketError(
      'unsafe',
      `the control socket directory ${dir} is a symbolic link; refusing to use it`,
    );
  }
  if (!st.isDirectory()) {
    throw new ControlSocketError('unsafe', `the control socket directory ${dir} is not a directory`);
  }
  if (uid !== undefined && st.uid !== uid) {
    throw new ControlSocketError(
      'unsafe',
      `the control socket directory ${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}); refusing to use it`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    if (!create) {
      throw new ControlSocketError(
        'unsafe',
        `the control socket directory ${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}); ` +
          `run: chmod 700 ${dir}`,
      );
    }
    fs.chmodSync(dir, 0o700);
  }
  return true;
}

/** The socket files (by their names) in `dir`, sorted by pid. */
export function listSockets(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => pidOfSocket(n) !== undefined)
    .sort((a, b) => (pidOfSocket(a) ?? 0) - (pidOfSocket(b) ?? 0))
    .map((n) => path.join(dir, n));
}
