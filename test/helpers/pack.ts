// The checkout packed as a user would receive it from the registry: the run time `clusterbus`
// and the generator `clusterbus-gen`, as `npm pack` makes them (their `prepare`/`prepack`
// scripts build them). Test files run in parallel, and two builds writing the same `dist/`
// at once could hand one of them a half-written file, so the first caller of a test run
// builds and packs under a lock and the others wait for its tarballs.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../types/tsc.js';

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command; never rejects for a non-zero exit. `npm_config_yes=false` makes `npx`
 * refuse to fetch a package that is not installed locally, so a missing bin is an error
 * instead of a download of whatever the registry holds under that name.
 */
export function run(
  file: string,
  args: readonly string[],
  cwd: string,
  options: { timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd,
        timeout: options.timeout ?? 180_000,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          npm_config_yes: 'false',
          npm_config_update_notifier: 'false',
          npm_config_fund: 'false',
          npm_config_audit: 'false',
          ...options.env,
        },
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(
            new Error(`${file} ${args.join(' ')} (in ${cwd}) did not run: ${error.message}\n${stdout}\n${stderr}`),
          );
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

export function describeRun(what: string, r: Run): string {
  return `${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export async function mustRun(
  what: string,
  file: string,
  args: readonly string[],
  cwd: string,
  env?: NodeJS.ProcessEnv,
): Promise<Run> {
  const r = await run(file, args, cwd, env ? { env } : {});
  if (r.code !== 0) throw new Error(describeRun(what, r));
  return r;
}

export interface Tarballs {
  /** The run time, `clusterbus-<version>.tgz`. */
  readonly runtime: string;
  /** The generator, `clusterbus-gen-<version>.tgz`. */
  readonly generator: string;
}

const packDir = path.join(repoRoot, '.tmp', 'pack');
const lockDir = path.join(repoRoot, '.tmp', 'pack.lock');
const doneFile = path.join(packDir, 'done.json');
/** A lock older than this was left by a run that died: take it over. */
const STALE_LOCK_MS = 5 * 60_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One test run: the ava process's parent, shared by its worker processes. */
const runId = String(process.ppid);

/** Packs the checkout once per test run; every caller gets the same tarballs. */
export async function packCheckout(): Promise<Tarballs> {
  mkdirSync(path.join(repoRoot, '.tmp'), { recursive: true });
  for (;;) {
    if (existsSync(doneFile)) {
      const done = JSON.parse(readFileSync(doneFile, 'utf8')) as Tarballs & { runId: string };
      if (done.runId === runId && existsSync(done.runtime) && existsSync(done.generator)) return done;
    }
    try {
      mkdirSync(lockDir);
    } catch {
      if (Date.now() - statSync(lockDir).mtimeMs > STALE_LOCK_MS) rmSync(lockDir, { recursive: true, force: true });
      await sleep(200);
      continue;
    }
    try {
      rmSync(packDir, { recursive: true, force: true });
      mkdirSync(packDir, { recursive: true });
      // The root's `prepare` builds both packages; the generator's `prepack` builds it again
      // when it is packed alone, which is cheap next to the install that follows.
      await mustRun('npm pack (clusterbus)', 'npm', ['pack', '--pack-destination', packDir], repoRoot);
      await mustRun(
        'npm pack (clusterbus-gen)',
        'npm',
        ['pack', '--workspace', 'clusterbus-gen', '--pack-destination', packDir],
        repoRoot,
      );
      const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string })
        .version;
      const tarballs: Tarballs = {
        runtime: path.join(packDir, `clusterbus-${version}.tgz`),
        generator: path.join(packDir, `clusterbus-gen-${version}.tgz`),
      };
      for (const file of [tarballs.runtime, tarballs.generator]) {
        if (!existsSync(file)) throw new Error(`npm pack wrote no ${file}`);
      }
      writeFileSync(doneFile, JSON.stringify({ ...tarballs, runId }));
      return tarballs;
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
  }
}
