// What the tests that follow the README in an empty project share: its shell lines with the
// packages taken from this checkout, and its server started, asked over HTTP and stopped as
// Ctrl-C stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeRun, run, type Run, type Tarballs } from './pack.js';
import { freePort } from './ports.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A shell line of the README, with `clusterbus` and `clusterbus-gen` installed from the checkout's tarballs. */
export function fromCheckout(line: string, tarballs: Tarballs): string {
  return line
    .replace(/(^|\s)clusterbus-gen(?=\s|$)/g, `$1${tarballs.generator}`)
    .replace(/(npm install(?: --save-dev)?(?: \S+)*?\s)clusterbus(?=\s|$)/g, `$1${tarballs.runtime}`);
}

/** What the README's server did. */
export interface ServerRun {
  /** Its answer to `GET /`, if it gave one within a minute. */
  answer: { status: number; body: string } | undefined;
  /** How it ended after SIGINT to its process group, and how long that took; `code` null if it did not within 20 s. */
  exit: { code: number | null; signal: NodeJS.Signals | null; ms: number };
  /** Its stdout and stderr. */
  log: string;
}

const started = new Set<ChildProcess>();

/**
 * Starts `line` (the README's server) in its own process group with `PORT` set, asks it
 * `GET /` until it answers, then sends SIGINT to the group, as Ctrl-C in a terminal does.
 */
export async function runServer(line: string, cwd: string): Promise<ServerRun> {
  const port = await freePort();
  const child = spawn('sh', ['-c', `exec ${line}`], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), npm_config_yes: 'false', NODE_ENV: 'production' },
  });
  started.add(child);
  const result: ServerRun = { answer: undefined, exit: { code: null, signal: null, ms: 0 }, log: '' };
  child.stdout?.on('data', (d: Buffer) => (result.log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (result.log += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (result.answer === undefined && Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      result.answer = { status: res.status, body: await res.text() };
    } catch {
      await sleep(200);
    }
  }
  const stoppedAt = Date.now();
  if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGINT');
  const end = await Promise.race([exited, sleep(20_000).then(() => undefined)]);
  result.exit = { code: end?.code ?? null, signal: end?.signal ?? null, ms: Date.now() - stoppedAt };
  return result;
}

/** Kills the process group of every server `runServer` started that is still running (for `after.always`). */
export function killServers(): void {
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  started.clear();
}

/** A README block: a file to write at `target`, or shell lines when `target` is `setup`, `gen` or `run`. */
export interface ReadmeBlock {
  readonly target: string;
  readonly body: string;
}

const COMMAND_BLOCKS = new Set(['setup', 'gen', 'run']);

/** What following the README did. */
export interface Followed {
  /** Every shell line run, in order, with its outcome. */
  readonly commands: { line: string; result: Run }[];
  /** The server of the `run` block, started, asked and stopped. */
  served: ServerRun | undefined;
}

/**
 * Follows `blocks` in `dir` in order: writes each file block, runs each shell line (the two
 * packages from `tarballs`), and for the `run` line that ends with `server` starts, asks and
 * stops the server. A line that fails stops it with the line's output, unless `ownCheck` says
 * the test checks that line itself. `afterFile` runs after a file block is written.
 */
export async function followReadme(
  blocks: readonly ReadmeBlock[],
  dir: string,
  tarballs: Tarballs,
  server: string,
  hooks: { afterFile?: (target: string) => Promise<void>; ownCheck?: (line: string) => boolean } = {},
): Promise<Followed> {
  const followed: Followed = { commands: [], served: undefined };
  for (const block of blocks) {
    if (!COMMAND_BLOCKS.has(block.target)) {
      const file = path.join(dir, block.target);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, block.body);
      await hooks.afterFile?.(block.target);
      continue;
    }
    for (const line of block.body.split('\n').map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      if (block.target === 'run' && line.endsWith(server)) {
        followed.served = await runServer(line, dir);
        continue;
      }
      const result = await run('sh', ['-c', fromCheckout(line, tarballs)], dir, {
        env: { npm_config_prefer_offline: 'true' },
      });
      followed.commands.push({ line, result });
      if (result.code !== 0 && hooks.ownCheck?.(line) !== true) {
        throw new Error(describeRun(`the README's \`${line}\``, result));
      }
    }
  }
  return followed;
}
