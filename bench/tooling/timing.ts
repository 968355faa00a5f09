/** Timing a child process by wall clock; the child is tracked so it is killed on exit. */
import { spawn } from 'node:child_process';
import { track } from '../cleanup.js';

export interface Timed {
  readonly ms: number;
  readonly code: number | null;
  readonly output: string;
}

export function timeProcess(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 120_000,
): Promise<Timed> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = track(spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      output += `\n${err.message}`;
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, code, output });
    });
  });
}

/** A command line for the report, with paths shown as they were passed. */
export function shellLine(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
