/**
 * What a production server gets: `npm install --omit=dev clusterbus` (from the checkout's
 * `npm pack` tarball) in an empty project. Measures the install — packages and bytes of
 * `node_modules` — and checks that the run time works there without the generator: the
 * `clusterbus` command answers its help, and `clusterbus gen` says how to install the
 * generator instead of failing obscurely.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeRun, mustRun, packCheckout, run, type Run } from '../helpers/pack.js';

/** The limits a production install of the run time stays within. */
const MAX_PACKAGES = 3;
const MAX_BYTES = 1024 * 1024;

interface Footprint {
  packages: string[];
  bytes: number;
  files: number;
}

/** Every package under `node_modules` (scoped ones too), and the bytes of every file there. */
function footprint(modules: string): Footprint {
  const packages: string[] = [];
  let bytes = 0;
  let files = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) {
        bytes += statSync(file).size;
        files++;
      }
    }
  };
  const addPackages = (dir: string, scope = ''): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@') && scope === '') addPackages(path.join(dir, entry.name), `${entry.name}/`);
      else if (existsSync(path.join(dir, entry.name, 'package.json'))) {
        packages.push(`${scope}${entry.name}`);
        const nested = path.join(dir, entry.name, 'node_modules');
        if (existsSync(nested)) addPackages(nested);
      }
    }
  };
  addPackages(modules);
  walk(modules);
  return { packages: packages.sort(), bytes, files };
}

let dir: string | undefined;
let measured: Footprint | undefined;
let help: Run | undefined;
let gen: Run | undefined;
let esm: Run | undefined;
let cjs: Run | undefined;

// A program that runs the bus in one process on the memory transport: a map answered by a
// simulated worker. The same lines, as an ES module and as CommonJS.
const program = (load: string): string => `${load}
const memory = new MemoryTransport();
configureBus({ transport: memory });
const messenger = createMessenger('app', { 'stats.memory': { kind: 'map', timeoutMs: 2000 } });
const worker = memory.addWorker();
bindMessenger(messenger, worker).on('stats.memory', () => ({ rss: 42 }));
worker.joined
  .then(() => messenger.map('stats.memory', {}))
  .then((answers) => {
    console.log(JSON.stringify(answers));
    process.exit(0);
  });
`;
const names = '{ MemoryTransport, bindMessenger, configureBus, createMessenger }';

test.before('install the run time alone, as production does', async (t) => {
  t.timeout(300_000);
  const { runtime } = await packCheckout();
  dir = await mkdtemp(path.join(os.tmpdir(), 'clusterbus-install-'));
  await mustRun('npm init -y', 'npm', ['init', '-y'], dir);
  await mustRun('npm install --omit=dev', 'npm', ['install', '--omit=dev', '--prefer-offline', runtime], dir);
  measured = footprint(path.join(dir, 'node_modules'));
  help = await run('npx', ['clusterbus', '--help'], dir);
  gen = await run('npx', ['clusterbus', 'gen'], dir);
  await writeFile(path.join(dir, 'app.mjs'), program(`import ${names} from 'clusterbus';`));
  await writeFile(path.join(dir, 'app.cjs'), program(`const ${names} = require('clusterbus');`));
  esm = await run('node', ['app.mjs'], dir);
  cjs = await run('node', ['app.cjs'], dir);
});

test.after.always('remove the temporary project', async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('install - a production install of the run time is at most 3 packages and 1 MiB', (t) => {
  const m = measured as Footprint;
  t.log(
    `npm install --omit=dev clusterbus: ${m.packages.length} packages (${m.packages.join(', ')}), ` +
      `${(m.bytes / 1024).toFixed(0)} KiB in ${m.files} files`,
  );
  t.true(m.packages.includes('clusterbus'));
  t.false(m.packages.includes('ts-morph'), 'the generator and its compiler stay out of production');
  t.true(m.packages.length <= MAX_PACKAGES, m.packages.join(', '));
  t.true(m.bytes <= MAX_BYTES, `${m.bytes} bytes`);
});

test('install - without the generator, clusterbus --help works and clusterbus gen says how to install it', (t) => {
  const h = help as Run;
  const g = gen as Run;
  t.is(h.code, 0, describeRun('clusterbus --help', h));
  t.regex(h.stdout, /status, ls/);
  t.log(g.stderr.trim());
  t.is(g.code, 2, describeRun('clusterbus gen', g));
  t.regex(g.stderr, /npm install --save-dev clusterbus-gen/);
});

test('install - the run time works from an ES module and from CommonJS (require)', (t) => {
  for (const [name, r] of [
    ['app.mjs', esm],
    ['app.cjs', cjs],
  ] as const) {
    t.is(r?.code, 0, r && describeRun(`node ${name}`, r));
    t.deepEqual(JSON.parse(r?.stdout.trim() || 'null'), [{ rss: 42 }]);
    t.log(`node ${name}: ${r?.stdout.trim() ?? ''}`);
  }
  const pkg = JSON.parse(readFileSync(path.join(dir ?? '', 'node_modules', 'clusterbus', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  t.deepEqual(Object.keys(pkg.dependencies ?? {}), ['superjson']);
});
