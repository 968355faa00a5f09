/**
 * Follows the README's "Quick start in JavaScript" literally, as a new user would, in an empty
 * directory: each `<!-- quickstart-js:PATH -->` block in README order — `setup`, `gen` and
 * `run` are shell commands, run as written, except that `clusterbus` and `clusterbus-gen` are
 * installed from the `npm pack` tarballs of this checkout instead of the registry; any other
 * PATH is a file written there, and `<!-- quickstart-js:PATH = quickstart:OTHER -->` writes the
 * TypeScript quick start's block OTHER there (the contract, which the README does not repeat).
 * `run` starts the server, asks it over HTTP, and stops it as Ctrl-C does: SIGINT to its
 * process group.
 *
 * Then what the README says of those files: with `// @ts-check` they type-check (the
 * repository's `tsc`, as no TypeScript is installed there), and the TypeScript quick start's
 * mistake, in a JavaScript file, is the error it shows; once the package is CommonJS, `gen`
 * writes `contracts/app.bus.mjs`, which the README's CommonJS file `require`s, type-checked
 * and run on the memory transport.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic, repoRoot, runTsc, type TscRun } from '../types/tsc.js';
import { describeRun, packCheckout, run, type Run } from '../helpers/pack.js';
import { followReadme, killServers, type Followed, type ServerRun } from '../helpers/readme-project.js';

interface Block {
  /** The PATH of `<!-- quickstart-js:PATH -->`. */
  readonly target: string;
  /** The TypeScript quick start's block it repeats, for `<!-- quickstart-js:PATH = quickstart:OTHER -->`. */
  readonly from: string | undefined;
  readonly body: string;
}

/** Every `<!-- quickstart-js:PATH -->` comment with the fenced code block that follows it, or the block it names. */
function quickstartJsBlocks(markdown: string): Block[] {
  const typescript = new Map(
    [...markdown.matchAll(/<!--\s*quickstart:(\S+)\s*-->\s*\n\s*```[^\n]*\n([\s\S]*?)\n```/g)].map(
      ([, target = '', body = '']) => [target, `${body}\n`],
    ),
  );
  const pattern =
    /<!--\s*quickstart-js:(\S+?)(?:\s*=\s*quickstart:(\S+))?\s*-->(?:\s*\n\s*```[\w-]*[^\n]*\n([\s\S]*?)\n```)?/g;
  return [...markdown.matchAll(pattern)].map(([, target = '', from, body]) => {
    if (from !== undefined) {
      const repeated = typescript.get(from);
      if (repeated === undefined || body !== undefined) {
        throw new Error(`<!-- quickstart-js:${target} = quickstart:${from} --> names no block, or has one of its own`);
      }
      return { target, from, body: repeated };
    }
    if (body === undefined) throw new Error(`<!-- quickstart-js:${target} --> is not followed by a code block`);
    return { target, from, body: `${body}\n` };
  });
}

let dir: string | undefined;
let blocks: Block[] = [];
let commands: Followed['commands'] = [];
let served: ServerRun | undefined;
let generatedEsm: string[] = [];
let checkedEsm: TscRun | undefined;
/** The error the TypeScript quick start's mistake shows (`error TSnnnn: message`), and on which line of mistake.js. */
let shownMistake: { line: number; error: string } | undefined;
let toCommonJs: Run | undefined;
let generatedCjs: string[] = [];
let checkedCjs: TscRun | undefined;
let cjsProgram: Run | undefined;

/**
 * Type-checks `files` of the project as `// @ts-check` does, with the repository's `tsc`: the
 * project has no TypeScript (the README's JavaScript setup installs none), nor Node's types,
 * which an editor brings itself. The tsconfig lives in a directory of its own, so that `gen`,
 * which reads the nearest tsconfig.json above a contract, never sees it.
 */
async function typeCheck(cwd: string, files: readonly string[]): Promise<TscRun> {
  const configDir = path.join(cwd, '.typecheck');
  await mkdir(configDir, { recursive: true });
  await writeFile(
    path.join(configDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        strict: true,
        allowJs: true,
        checkJs: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
      },
      files: files.map((f) => path.join('..', f)),
    }),
  );
  return runTsc(cwd, path.join('.typecheck', 'tsconfig.json'));
}

/** The generated messenger files in `contracts/`. */
async function generatedFiles(cwd: string): Promise<string[]> {
  return (await readdir(path.join(cwd, 'contracts'))).filter((f) => f.includes('.bus.')).sort();
}

// In a CommonJS package: the README's src/stats.js asks two simulated workers of the memory
// transport through the generated app.bus.mjs.
const COMMONJS_PROGRAM = `const { MemoryTransport, bindMessenger, configureBus } = require('clusterbus');
const { messenger } = require('./contracts/app.bus.mjs');
const { totalRss } = require('./src/stats.js');

const memory = new MemoryTransport();
configureBus({ transport: memory });
const workers = [10, 32].map((rss) => {
  const worker = memory.addWorker();
  bindMessenger(messenger, worker).on('stats.memory', () => ({ pid: rss, rss }));
  return worker;
});
Promise.all(workers.map((w) => w.joined))
  .then(() => totalRss())
  .then((total) => {
    console.log(total);
    process.exit(0);
  });
`;

test.before('follow the README quick start in JavaScript in an empty project', async (t) => {
  t.timeout(480_000);
  const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
  blocks = quickstartJsBlocks(readme);
  if (blocks.length === 0) throw new Error('README.md has no <!-- quickstart-js:PATH --> blocks');
  const tarballs = await packCheckout();
  dir = await mkdtemp(path.join(os.tmpdir(), 'clusterbus-quickstart-js-'));

  ({ commands, served } = await followReadme(blocks, dir, tarballs, 'src/server.js'));
  generatedEsm = await generatedFiles(dir);

  // The TypeScript quick start's mistake, as JavaScript (its body is JavaScript already), with
  // the error its comment shows on the next line.
  const mistake = /<!--\s*quickstart:src\/mistake\.ts\s*-->\s*\n\s*```[^\n]*\n([\s\S]*?)\n```/.exec(readme)?.[1];
  if (mistake === undefined) throw new Error('README.md has no <!-- quickstart:src/mistake.ts --> block');
  const lines = ['// @ts-check', ...mistake.split('\n')];
  const comment = lines.findIndex((l) => /^\s*\/\/\s*error TS\d+: /.test(l));
  if (comment < 0) throw new Error('the mistake block has no `// error TSnnnn: message` comment');
  shownMistake = { line: comment + 2, error: (lines[comment] ?? '').replace(/^\s*\/\/\s*/, '').trim() };
  await writeFile(path.join(dir, 'src', 'mistake.js'), `${lines.join('\n')}\n`);
  checkedEsm = await typeCheck(dir, ['src/worker.js', 'src/server.js', 'src/mistake.js']);

  // The README's CommonJS note: the same project as a CommonJS package.
  const setType = await run('npm', ['pkg', 'set', 'type=commonjs'], dir);
  if (setType.code !== 0) throw new Error(describeRun('npm pkg set type=commonjs', setType));
  toCommonJs = await run('npx', ['clusterbus', 'gen'], dir);
  generatedCjs = await generatedFiles(dir);
  checkedCjs = await typeCheck(dir, ['src/stats.js']);
  await writeFile(path.join(dir, 'memory-check.js'), COMMONJS_PROGRAM);
  cjsProgram = await run('node', ['memory-check.js'], dir, { timeout: 60_000 });
});

test.after.always('stop the server and remove the temporary project', async () => {
  killServers();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const list = (r: TscRun | undefined): string =>
  (r?.diagnostics ?? []).map((d) => formatDiagnostic(d, dir)).join('\n') || (r?.stdout ?? '');

test('quickstart-js - the README has setup, contract, gen, worker, server, run and CommonJS blocks', (t) => {
  t.deepEqual(
    blocks.map((b) => (b.from === undefined ? b.target : `${b.target} = ${b.from}`)),
    [
      'setup',
      'contracts/app.contract.ts = contracts/app.contract.ts',
      'gen',
      'src/worker.js',
      'src/server.js',
      'run',
      'src/stats.js',
    ],
  );
  for (const b of blocks.filter((b) => b.target.endsWith('.js'))) {
    t.true(b.body.startsWith('// @ts-check\n'), `${b.target} starts with // @ts-check`);
  }
});

test('quickstart-js - every command of the README succeeds, from npm init -y on, without TypeScript installed', (t) => {
  t.log(commands.map((c) => `${c.line}: exit ${c.result.code}`).join('\n'));
  t.true(commands.some((c) => c.line === 'npm init -y'));
  for (const c of commands) t.is(c.result.code, 0, describeRun(c.line, c.result));
  t.false(existsSync(path.join(dir ?? '', 'node_modules', 'typescript')), 'the generator brings its own TypeScript');
});

test('quickstart-js - gen writes contracts/app.bus.js and its declarations, and no TypeScript messenger', (t) => {
  t.deepEqual(generatedEsm, ['app.bus.d.ts', 'app.bus.js']);
  const gen = commands.find((c) => c.line === 'npx clusterbus gen');
  t.is(
    gen?.result.stdout,
    'created contracts/app.bus.js\ncreated contracts/app.bus.d.ts\nclusterbus gen: 2 written, 0 unchanged\n',
  );
});

test('quickstart-js - the server answers with the memory of both workers, and Ctrl-C stops it cleanly', (t) => {
  t.log(`answer: ${served?.answer?.status ?? '-'} ${served?.answer?.body.trim() ?? '-'}`);
  t.log(`after SIGINT to its process group: exit ${String(served?.exit.code)} in ${served?.exit.ms ?? '-'} ms`);
  t.is(served?.answer?.status, 200, served?.log);
  const body = JSON.parse(served?.answer?.body ?? '{}') as { totalRss?: unknown };
  t.true(typeof body.totalRss === 'number' && body.totalRss > 0, served?.answer?.body);
  t.is(served?.exit.code, 0, served?.log);
});

test("quickstart-js - with // @ts-check the worker and the server compile, and the TypeScript quick start's mistake is the same error", (t) => {
  const diagnostics = checkedEsm?.diagnostics ?? [];
  const mistake = path.join(dir ?? '', 'src', 'mistake.js');
  t.deepEqual(
    diagnostics.filter((d) => d.file !== mistake).map((d) => formatDiagnostic(d, dir)),
    [],
    list(checkedEsm),
  );
  t.deepEqual(
    diagnostics
      .filter((d) => d.file === mistake)
      .map((d) => ({ line: d.line, error: `error ${d.code}: ${d.headline}` })),
    [shownMistake],
    list(checkedEsm),
  );
});

test("quickstart-js - in a CommonJS package gen writes app.bus.mjs, and the README's src/stats.js requires it, type-checks and runs", (t) => {
  t.is(toCommonJs?.code, 0, toCommonJs && describeRun('npx clusterbus gen', toCommonJs));
  t.regex(toCommonJs?.stdout ?? '', /removed contracts\/app\.bus\.js\nremoved contracts\/app\.bus\.d\.ts\n/);
  t.deepEqual(generatedCjs, ['app.bus.d.mts', 'app.bus.mjs']);
  t.is(checkedCjs?.exitCode, 0, list(checkedCjs));
  t.is(cjsProgram?.code, 0, cjsProgram && describeRun('node memory-check.js', cjsProgram));
  t.is(cjsProgram?.stdout, '42\n');
});
