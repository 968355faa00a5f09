// A contract that changes during a rolling reload: what each caller sees at each step, with
// real worker processes. Version 1 and version 2 workers run side by side while the reload
// replaces them; a request goes only to workers on the caller's version, the others are
// reported per worker with ContractMismatchError, and nobody is handed a payload it would
// misread.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const app = fileURLToPath(new URL('../fixtures/evolve/app.ts', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  caller: number;
  worker: number;
  at: number;
  results: string[];
}

test('contracts - a rolling reload from contract v1 to v2 under traffic: each caller reaches its own version only', async (t) => {
  t.timeout(90_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cb-evolve-'));
  const versionFile = path.join(dir, 'version');
  writeFileSync(versionFile, '1');
  const child = spawn(process.execPath, [...process.execArgv, app], {
    env: { ...process.env, NODE_ENV: 'test', EVOLVE_VERSION_FILE: versionFile },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  t.teardown(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const pending = new Map<number, (v: unknown) => void>();
  let next = 1;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the cluster exited (${String(code)})`)));
    child.on('message', (m: { ready?: boolean; id?: number; value?: unknown }) => {
      if (m.ready) resolve();
      else if (typeof m.id === 'number') pending.get(m.id)?.(m.value);
    });
  });
  const ask = (cmd: string): Promise<unknown> =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      child.send({ id, cmd });
    });
  await ready;
  await sleep(1_000);
  const before = (await ask('report')) as Outcome[];
  writeFileSync(versionFile, '2');
  // While the reload runs, old and new workers serve side by side.
  const reloading = ask('reload');
  await reloading;
  const reloadedAt = Date.now();
  await sleep(1_500);
  // Calls that started before the last old worker left are still "during".
  const rest = (await ask('report')) as Outcome[];
  const during = rest.filter((o) => o.at <= reloadedAt + 500);
  const after = rest.filter((o) => o.at > reloadedAt + 500);
  const stats = (await ask('stats')) as { broker: { contractMismatches: number } };

  const summary = (list: Outcome[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const o of list) {
      const key = `v${o.caller} caller sees [${o.results.join(', ')}]`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };
  t.log('before the reload:', summary(before));
  t.log('during the reload:', summary(during));
  t.log('after the reload:', summary(after));
  t.log(`broadcasts that skipped a worker on another version: ${stats.broker.contractMismatches}`);

  const all = [...before, ...during, ...after].flatMap((o) => o.results);
  t.false(
    all.some(
      (r) => r.startsWith('misread') || r.startsWith('threw') || r === 'CB_BAD_PAYLOAD' || r === 'CB_HANDLER_FAILED',
    ),
    'nobody misread a payload, and no call failed as a whole',
  );
  t.true(before.length > 0 && before.every((o) => o.caller === 1 && o.results.every((r) => r === 'ok:v1')));
  // While both versions ran, a caller got answers from its own version and a ContractMismatchError per other worker.
  const mixed = during.filter((o) => o.results.includes('CB_CONTRACT_MISMATCH'));
  t.true(mixed.length > 0, 'the two versions met during the reload');
  for (const o of during) {
    for (const r of o.results)
      t.true(r === `ok:v${o.caller}` || r === 'CB_CONTRACT_MISMATCH' || r === 'CB_WORKER_EXITED', r);
  }
  t.true(stats.broker.contractMismatches > 0);
  t.true(after.length > 0 && after.every((o) => o.caller === 2 && o.results.every((r) => r === 'ok:v2')));
});
