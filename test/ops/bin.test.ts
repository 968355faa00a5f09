// The installed `clusterbus` command: bin/clusterbus.js over a fresh build of this checkout (in
// .tmp/), as `npm install` puts it. Which commands reach the run time and which the generator,
// and that status and reload work with the generator gone (it is a development tool).
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { StatusReport } from 'clusterbus';
import { killAll, privateDir, repoRoot, startMaster } from '../supervision/harness.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repoRoot, timeout, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let build = '';
const dirs: string[] = [];

test.before('build the checkout into .tmp/', async (t) => {
  t.timeout(240_000);
  fs.mkdirSync(path.join(repoRoot, '.tmp'), { recursive: true });
  // Inside the checkout, so that the build finds the checkout's node_modules as an install would.
  build = fs.mkdtempSync(path.join(repoRoot, '.tmp', 'bin-'));
  const tsc = await run(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), [
    '-p',
    'tsconfig.build.json',
    '--outDir',
    path.join(build, 'dist'),
  ]);
  if (!fs.existsSync(path.join(build, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error(`the build wrote no dist/src/cli/main.js (tsc exited ${tsc.code})\n${tsc.stdout}\n${tsc.stderr}`);
  }
  fs.mkdirSync(path.join(build, 'bin'));
  fs.copyFileSync(path.join(repoRoot, 'bin', 'clusterbus.js'), path.join(build, 'bin', 'clusterbus.js'));
});

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

test.after.always('remove the build', () => {
  if (build !== '') fs.rmSync(build, { recursive: true, force: true });
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> =>
  run(process.execPath, [path.join(build, 'bin', 'clusterbus.js'), ...args], env);

test.serial('bin - --help lists every command: status, ls, reload and gen', async (t) => {
  for (const args of [['--help'], ['-h'], ['help'], []]) {
    const r = await cli(args);
    t.is(r.code, 0, r.stderr);
    for (const word of ['status, ls', 'reload', 'gen', '--json', '--pid', '--socket']) {
      t.true(r.stdout.includes(word), `clusterbus ${args.join(' ')} mentions ${word}`);
    }
  }
  t.log((await cli(['--help'])).stdout);
});

test.serial('bin - gen and its options go to the code generator', async (t) => {
  const r = await cli(['gen', '--help']);
  t.log(`clusterbus gen --help: ${r.stdout.split('\n')[0]}`);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Usage: clusterbus gen /);
});

test.serial('bin - status and reload run from the build against a running master', async (t) => {
  t.timeout(90_000);
  const empty = privateDir();
  dirs.push(empty);
  const none = await cli(['status'], { CLUSTERBUS_RUNTIME_DIR: empty });
  t.is(none.code, 1);
  t.regex(none.stderr, /no clusterbus master is running for this user/);

  const m = await startMaster({ SUP_WORKERS: '1' });
  await m.ready();
  const status = await cli(['ls', '--json'], { CLUSTERBUS_RUNTIME_DIR: m.runtimeDir });
  t.is(status.code, 0, status.stderr);
  t.is((JSON.parse(status.stdout) as StatusReport).master.pid, m.pid);
  const reload = await cli(['reload'], { CLUSTERBUS_RUNTIME_DIR: m.runtimeDir });
  t.is(reload.code, 0, reload.stderr);
  t.log(reload.stdout);
  t.regex(reload.stdout, /^reload done in [\d.]+ s: 1 worker replaced$/m);
});

test('bin - nothing in src/ imports the generator or ts-morph', (t) => {
  const offenders: string[] = [];
  let files = 0;
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) {
        files++;
        const text = fs.readFileSync(file, 'utf8');
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
          const spec = m[1] as string;
          const target = spec.startsWith('.') ? path.resolve(path.dirname(file), spec) : spec;
          if (
            spec === 'ts-morph' ||
            spec.startsWith('ts-morph/') ||
            target.startsWith(path.join(repoRoot, 'codegen'))
          ) {
            offenders.push(`${path.relative(repoRoot, file)} imports ${spec}`);
          }
        }
      }
    }
  };
  walk(path.join(repoRoot, 'src'));
  t.log(`${files} files in src/ read, ${offenders.length} importing the generator or ts-morph`);
  t.true(files > 10);
  t.deepEqual(offenders, []);
});
