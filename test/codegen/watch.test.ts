/**
 * `clusterbus gen --watch` as a child process: regenerates on change, prints contract
 * errors and keeps running.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { contractSource, removeTempDirs, startCli, tempDir, writeFiles, entryOf } from './_helpers.js';

test.after.always(removeTempDirs);

/** Collects a stream's text and waits for a pattern to appear after a given offset. */
class Output {
  text = '';
  private readonly waiters = new Set<() => void>();

  constructor(stream: NodeJS.ReadableStream | null) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      this.text += chunk;
      for (const waiter of this.waiters) waiter();
    });
  }

  /** Resolves with the offset after the first match of `pattern` found at or after `from`. */
  waitFor(pattern: RegExp, from: number, timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.text.slice(from));
        if (match === null) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(from + match.index + match[0].length);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${String(pattern)}; output so far:\n${this.text}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

test('codegen watch - regenerates on change, prints contract errors and keeps running', async (t) => {
  const dir = tempDir();
  const contract = path.join(dir, 'contracts/app.contract.ts');
  const output = path.join(dir, 'contracts/app.bus.ts');
  writeFiles(dir, {
    'contracts/app.contract.ts': contractSource('AppEvents', { 'a.one': 'Broadcast<{ id: string }>' }),
  });

  const child = startCli(dir, ['gen', '--watch']);
  t.teardown(() => stop(child));
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  try {
    let at = await stdout.waitFor(/watching for changes/, 0);
    t.is(entryOf(fs.readFileSync(output, 'utf8'), 'a.one'), "{ kind: 'broadcast', plainPayload: true }");

    // A change to the contract regenerates its output.
    fs.writeFileSync(
      contract,
      contractSource('AppEvents', {
        'a.one': 'Broadcast<{ id: string }>',
        'a.two': 'Consume<{ id: string }, { timeoutMs: 100 }>',
      }),
    );
    at = await stdout.waitFor(/updated contracts\/app\.bus\.ts\n/, at);
    t.true(
      entryOf(fs.readFileSync(output, 'utf8'), 'a.two') === "{ kind: 'consume', timeoutMs: 100, plainPayload: true }",
    );

    // An error is printed, the output is kept and the watcher stays alive.
    const before = fs.readFileSync(output, 'utf8');
    fs.writeFileSync(contract, contractSource('AppEvents', { 'a.one': 'Broadcast<{ cb: () => void }>' }));
    await stderr.waitFor(/contracts\/app\.contract\.ts:4:24 error CBG007 event 'a\.one': payload\.cb is a function/, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.is(child.exitCode, null, 'still running after a contract error');
    t.is(child.signalCode, null);
    t.is(fs.readFileSync(output, 'utf8'), before);

    // Fixing the contract regenerates again.
    fs.writeFileSync(contract, contractSource('AppEvents', { 'a.three': 'MapCall<{ id: string }, number>' }));
    at = await stdout.waitFor(/updated contracts\/app\.bus\.ts\n/, at);
    t.true(
      entryOf(fs.readFileSync(output, 'utf8'), 'a.three') === "{ kind: 'map', plainPayload: true, plainResult: true }",
    );

    // A deleted output is written again.
    const current = fs.readFileSync(output, 'utf8');
    fs.unlinkSync(output);
    await stdout.waitFor(/created contracts\/app\.bus\.ts\n/, at);
    t.is(fs.readFileSync(output, 'utf8'), current);
  } finally {
    await stop(child);
  }
});
