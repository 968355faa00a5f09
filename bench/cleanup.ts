/**
 * Every process the benchmark starts is registered here and killed when the driver exits,
 * whether it finishes, throws, or is interrupted (Ctrl-C, SIGTERM). Killing a master is
 * enough for its workers: a cluster worker exits when its channel to the master closes.
 * Temporary directories are removed the same way.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

/** Registers `child` to be killed on exit; forgets it once it exited. */
export function track(child: ChildProcess): ChildProcess {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Registers a temporary directory to be removed on exit. */
export function trackDir(dir: string): string {
  install();
  dirs.add(dir);
  return dir;
}

/** Removes a temporary directory now. */
export function removeDir(dir: string): void {
  dirs.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Kills every tracked process that is still running (synchronously: safe in an 'exit' handler). */
export function killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

function cleanupNow(): void {
  killAll();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupNow);
  const onSignal = (signal: NodeJS.Signals, code: number) => () => {
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
    cleanupNow();
    process.exit(code);
  };
  process.once('SIGINT', onSignal('SIGINT', 130));
  process.once('SIGTERM', onSignal('SIGTERM', 143));
  process.once('SIGHUP', onSignal('SIGHUP', 129));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    cleanupNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(
      `bench: unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    cleanupNow();
    process.exit(1);
  });
}
