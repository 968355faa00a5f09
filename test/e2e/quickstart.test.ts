/**
 * Follows the README's "Quick start" literally, as a new user would, in an empty directory:
 * each `<!-- quickstart:PATH -->` block in README order — `setup`, `gen` and `run` are shell
 * commands, run as written, except that `clusterbus` and `clusterbus-gen` are installed from
 * the `npm pack` tarballs of this checkout instead of the registry; any other PATH is a file
 * written there. `run` starts the server the README shows, asks it over HTTP, and stops it
 * as Ctrl-C does: SIGINT to its process group.
 *
 * Expected: every command succeeds; the contract, the generated messenger, the worker, the
 * server and the memory-transport test compile with no error; the server answers; the test
 * passes; and `src/mistake.ts` fails with exactly the error its README comment shows, on the
 * line after that comment.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic, parseTscOutput, repoRoot, type Diagnostic } from '../types/tsc.js';
import { describeRun, packCheckout, run, type Run, type Tarballs } from '../helpers/pack.js';

interface Block {
  /** The PATH of `<!-- quickstart:PATH -->`. */
  readonly target: string;
  /** The language of the fenced block. */
  readonly lang: string;
  readonly body: string;
}

/** Every `<!-- quickstart:PATH -->` comment with the fenced code block that follows it. */
function quickstartBlocks(markdown: string): Block[] {
  const pattern = /<!--\s*quickstart:(\S+)\s*-->\s*\n\s*```([\w-]*)[^\n]*\n([\s\S]*?)\n```/g;
  return [...markdown.matchAll(pattern)].map(([, target = '', lang = '', body = '']) => ({
    target,
    lang,
    body: `${body}\n`,
  }));
}

const COMMANDS = new Set(['setup', 'gen', 'run']);

/** A shell line of the README, with the two packages taken from the checkout's tarballs. */
function fromCheckout(line: string, tarballs: Tarballs): string {
  return line
    .replace(/(^|\s)clusterbus-gen(?=\s|$)/g, `$1${tarballs.generator}`)
    .replace(/(npm install(?: --save-dev)?(?: \S+)*?\s)clusterbus(?=\s|$)/g, `$1${tarballs.runtime}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string | undefined;
let blocks: Block[] = [];
let diagnostics: Diagnostic[] = [];
const commands: { line: string; result: Run }[] = [];
let firstTsc: Run | undefined;
let tscOutput: Run | undefined;
let server: ChildProcess | undefined;
let answer: { status: number; body: string } | undefined;
let serverExit: { code: number | null; signal: NodeJS.Signals | null; ms: number } | undefined;
let serverLog = '';
let statsTest: Run | undefined;

/** Starts `line` (the README's server) in its own process group, asks it over HTTP, stops it. */
async function runServer(line: string, cwd: string): Promise<void> {
  const port = await freePort();
  const child = spawn('sh', ['-c', `exec ${line}`], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), npm_config_yes: 'false', NODE_ENV: 'production' },
  });
  server = child;
  child.stdout?.on('data', (d: Buffer) => (serverLog += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (answer === undefined && Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      answer = { status: res.status, body: await res.text() };
    } catch {
      await sleep(200);
    }
  }
  const stoppedAt = Date.now();
  if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGINT');
  const end = await Promise.race([exited, sleep(20_000).then(() => undefined)]);
  serverExit =
    end === undefined
      ? { code: null, signal: null, ms: Date.now() - stoppedAt }
      : { ...end, ms: Date.now() - stoppedAt };
}

test.before('follow the README quick start in an empty project', async (t) => {
  t.timeout(480_000);
  blocks = quickstartBlocks(await readFile(path.join(repoRoot, 'README.md'), 'utf8'));
  if (blocks.length === 0) throw new Error('README.md has no <!-- quickstart:PATH --> blocks');
  const tarballs = await packCheckout();
  dir = await mkdtemp(path.join(os.tmpdir(), 'clusterbus-quickstart-'));

  for (const block of blocks) {
    if (!COMMANDS.has(block.target)) {
      const file = path.join(dir, block.target);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, block.body);
      if (block.target === 'test/stats.test.ts')
        statsTest = await run('node', ['--import', 'tsx', '--test', block.target], dir);
      continue;
    }
    for (const line of block.body.split('\n').map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      if (block.target === 'run' && line.endsWith('src/server.ts')) {
        await runServer(line, dir);
        continue;
      }
      const result = await run('sh', ['-c', fromCheckout(line, tarballs)], dir, {
        env: { npm_config_prefer_offline: 'true' },
      });
      commands.push({ line, result });
      if (block.target === 'run' && line === 'npx tsc') {
        firstTsc = result;
        continue;
      }
      if (result.code !== 0) throw new Error(describeRun(`the README's \`${line}\``, result));
    }
  }

  tscOutput = await run('npx', ['tsc', '--noEmit', '--pretty', 'false'], dir);
  diagnostics = parseTscOutput(tscOutput.stdout, dir);
});

test.after.always('stop the server and remove the temporary project', async () => {
  if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function inFile(relative: string): Diagnostic[] {
  const file = path.join(dir ?? '', relative);
  return diagnostics.filter((d) => d.file === file);
}

function list(ds: readonly Diagnostic[]): string {
  return ds.map((d) => formatDiagnostic(d, dir)).join('\n');
}

test('quickstart - the README has setup, tsconfig, contract, gen, worker, server, run, mistake and test blocks', (t) => {
  t.deepEqual(
    blocks.map((b) => b.target),
    [
      'setup',
      'tsconfig.json',
      'contracts/app.contract.ts',
      'gen',
      'src/worker.ts',
      'src/server.ts',
      'run',
      'src/mistake.ts',
      'test/stats.test.ts',
    ],
  );
});

test('quickstart - every command of the README succeeds, from npm init -y on', (t) => {
  t.log(commands.map((c) => `${c.line}: exit ${c.result.code}`).join('\n'));
  t.true(commands.some((c) => c.line === 'npm init -y'));
  for (const c of commands) t.is(c.result.code, 0, describeRun(c.line, c.result));
});

test('quickstart - the gen command writes contracts/app.bus.ts', (t) => {
  t.true(existsSync(path.join(dir ?? '', 'contracts', 'app.bus.ts')));
});

test('quickstart - npx tsc passes before the mistake is added', (t) => {
  t.is(firstTsc?.code, 0, firstTsc && describeRun('npx tsc', firstTsc));
});

test('quickstart - the server answers with the memory of both workers, and Ctrl-C stops it cleanly', (t) => {
  t.log(`answer: ${answer?.status ?? '-'} ${answer?.body.trim() ?? '-'}`);
  t.log(`after SIGINT to its process group: exit ${String(serverExit?.code)} in ${serverExit?.ms ?? '-'} ms`);
  t.is(answer?.status, 200, serverLog);
  const body = JSON.parse(answer?.body ?? '{}') as { totalRss?: unknown };
  t.true(typeof body.totalRss === 'number' && body.totalRss > 0, answer?.body);
  t.is(serverExit?.code, 0, serverLog);
});

test('quickstart - the memory-transport test of the README passes', (t) => {
  t.is(statsTest?.code, 0, statsTest && describeRun('node --import tsx --test test/stats.test.ts', statsTest));
});

test('quickstart - the contract, the generated messenger, src/worker.ts and the memory-transport test compile with no error', (t) => {
  const mistake = path.join(dir ?? '', 'src', 'mistake.ts');
  const others = diagnostics.filter((d) => d.file !== mistake);
  t.deepEqual(
    others.map((d) => formatDiagnostic(d, dir)),
    [],
    list(others),
  );
});

test('quickstart - src/mistake.ts fails with exactly the error the README shows, on the line after it', (t) => {
  const block = blocks.find((b) => b.target === 'src/mistake.ts');
  if (block === undefined) {
    t.fail('no src/mistake.ts block in the README');
    return;
  }
  const lines = block.body.split('\n');
  const commentIndex = lines.findIndex((l) => /^\s*\/\/\s*error TS\d+: /.test(l));
  t.not(commentIndex, -1, 'the mistake block has no `// error TSnnnn: message` comment');
  const shown = (lines[commentIndex] ?? '').replace(/^\s*\/\/\s*/, '').trim();
  const reported = inFile('src/mistake.ts');
  t.deepEqual(
    reported.map((d) => ({ line: d.line, error: `error ${d.code}: ${d.headline}` })),
    [{ line: commentIndex + 2, error: shown }],
    `tsc reported:\n${list(reported)}\n(exit code ${tscOutput?.code ?? 'n/a'})`,
  );
});
