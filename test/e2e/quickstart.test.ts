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
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic, parseTscOutput, repoRoot, type Diagnostic } from '../types/tsc.js';
import { describeRun, packCheckout, run, type Run } from '../helpers/pack.js';
import { followReadme, killServers, type Followed, type ServerRun } from '../helpers/readme-project.js';

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

let dir: string | undefined;
let blocks: Block[] = [];
let diagnostics: Diagnostic[] = [];
let commands: Followed['commands'] = [];
let firstTsc: Run | undefined;
let tscOutput: Run | undefined;
let served: ServerRun | undefined;
let statsTest: Run | undefined;

test.before('follow the README quick start in an empty project', async (t) => {
  t.timeout(480_000);
  blocks = quickstartBlocks(await readFile(path.join(repoRoot, 'README.md'), 'utf8'));
  if (blocks.length === 0) throw new Error('README.md has no <!-- quickstart:PATH --> blocks');
  const tarballs = await packCheckout();
  const project = await mkdtemp(path.join(os.tmpdir(), 'clusterbus-quickstart-'));
  dir = project;

  ({ commands, served } = await followReadme(blocks, project, tarballs, 'src/server.ts', {
    afterFile: async (target) => {
      if (target === 'test/stats.test.ts')
        statsTest = await run('node', ['--import', 'tsx', '--test', target], project);
    },
    // The README runs `npx tsc` before the mistake is added: it must pass, which a test checks.
    ownCheck: (line) => line === 'npx tsc',
  }));
  firstTsc = commands.find((c) => c.line === 'npx tsc')?.result;

  tscOutput = await run('npx', ['tsc', '--noEmit', '--pretty', 'false'], dir);
  diagnostics = parseTscOutput(tscOutput.stdout, dir);
});

test.after.always('stop the server and remove the temporary project', async () => {
  killServers();
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
  t.log(`answer: ${served?.answer?.status ?? '-'} ${served?.answer?.body.trim() ?? '-'}`);
  t.log(`after SIGINT to its process group: exit ${String(served?.exit.code)} in ${served?.exit.ms ?? '-'} ms`);
  t.is(served?.answer?.status, 200, served?.log);
  const body = JSON.parse(served?.answer?.body ?? '{}') as { totalRss?: unknown };
  t.true(typeof body.totalRss === 'number' && body.totalRss > 0, served?.answer?.body);
  t.is(served?.exit.code, 0, served?.log);
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
