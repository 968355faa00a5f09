/**
 * Follows the README's "Quick start" literally, as a new user would: an empty project, this
 * package installed from a `npm pack` of the checkout, each README block written to the path
 * named by its `<!-- quickstart:PATH -->` comment (`gen` marks the shell command, which is
 * run as written), then `npx tsc --noEmit` with a minimal strict nodenext tsconfig.
 *
 * Expected: the contract, the generated messenger and `src/worker.ts` compile with no error,
 * and `src/mistake.ts` fails with exactly the error its README comment shows, on the line
 * after that comment.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic, parseTscOutput, repoRoot, type Diagnostic } from '../types/tsc.js';

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

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command; never rejects for a non-zero exit. `npm_config_yes=false` makes `npx`
 * refuse to fetch a package that is not installed locally, so a missing `clusterbus` bin is
 * an error instead of a download of whatever the registry holds under that name.
 */
function run(file: string, args: readonly string[], cwd: string, timeout = 180_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd,
        timeout,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, npm_config_yes: 'false', npm_config_update_notifier: 'false' },
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

function describe(what: string, r: Run): string {
  return `${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

async function mustRun(what: string, file: string, args: readonly string[], cwd: string): Promise<Run> {
  const r = await run(file, args, cwd);
  if (r.code !== 0) throw new Error(describe(what, r));
  return r;
}

/** A minimal strict nodenext configuration, as a new user would write it. */
const userTsconfig = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    types: ['node'],
  },
  include: ['src', 'contracts'],
};

let dir: string | undefined;
let blocks: Block[] = [];
let diagnostics: Diagnostic[] = [];
let genOutput: Run | undefined;
let tscOutput: Run | undefined;

test.before('follow the README quick start in an empty project', async (t) => {
  t.timeout(240_000);
  blocks = quickstartBlocks(await readFile(path.join(repoRoot, 'README.md'), 'utf8'));
  if (blocks.length === 0) throw new Error('README.md has no <!-- quickstart:PATH --> blocks');

  dir = await mkdtemp(path.join(os.tmpdir(), 'clusterbus-quickstart-'));
  await mustRun('npm init -y', 'npm', ['init', '-y'], dir);
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as Record<string, unknown>;
  await writeFile(pkgFile, `${JSON.stringify({ ...pkg, type: 'module' }, null, 2)}\n`);

  // `npm pack` runs the checkout's `prepare` script (the build).
  const packed = await mustRun('npm pack', 'npm', ['pack', '--pack-destination', dir], repoRoot);
  const self = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const tarball = `${self.name}-${self.version}.tgz`; // clusterbus-0.1.0.tgz
  if (!existsSync(path.join(dir, tarball))) throw new Error(describe(`npm pack (no ${tarball})`, packed));
  await mustRun(
    'npm install',
    'npm',
    ['install', `./${tarball}`, 'typescript@7.0.2', '@types/node@20', '--prefer-offline', '--no-audit', '--no-fund'],
    dir,
  );

  for (const block of blocks) {
    if (block.target === 'gen') continue;
    const file = path.join(dir, block.target);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, block.body);
  }
  await writeFile(path.join(dir, 'tsconfig.json'), `${JSON.stringify(userTsconfig, null, 2)}\n`);

  for (const block of blocks.filter((b) => b.target === 'gen')) {
    if (!existsSync(path.join(dir, 'node_modules', '.bin', 'clusterbus'))) {
      throw new Error(
        'the installed package has no `clusterbus` bin (node_modules/.bin/clusterbus); ' +
          'is bin/clusterbus.js in the checkout and in the package "files"?',
      );
    }
    genOutput = await run('sh', ['-c', block.body], dir);
    if (genOutput.code !== 0) throw new Error(describe(`the README's gen command (${block.body.trim()})`, genOutput));
  }

  tscOutput = await run('npx', ['tsc', '--noEmit', '--pretty', 'false'], dir);
  diagnostics = parseTscOutput(tscOutput.stdout, dir);
});

test.after.always('remove the temporary project', async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function inFile(relative: string): Diagnostic[] {
  const file = path.join(dir ?? '', relative);
  return diagnostics.filter((d) => d.file === file);
}

function list(ds: readonly Diagnostic[]): string {
  return ds.map((d) => formatDiagnostic(d, dir)).join('\n');
}

test('quickstart - the README has a contract, a gen command, a worker and a mistake block', (t) => {
  t.deepEqual(
    blocks.map((b) => b.target),
    ['contracts/app.contract.ts', 'gen', 'src/worker.ts', 'src/mistake.ts', 'test/stats.test.ts'],
  );
});

test('quickstart - the gen command writes contracts/app.bus.ts', (t) => {
  t.true(existsSync(path.join(dir ?? '', 'contracts', 'app.bus.ts')), genOutput && describe('gen', genOutput));
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
