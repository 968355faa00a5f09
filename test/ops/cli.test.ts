// `clusterbus status` and `clusterbus reload` against real masters (test/fixtures/supervision/app.ts)
// over their control sockets: what they print, how they find the master, and who they refuse.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ReloadReport, StatusReport } from 'clusterbus';
import {
  killAll,
  pidsOf,
  privateDir,
  request,
  runCli,
  sleep,
  startMaster,
  type Master,
} from '../supervision/harness.js';

const MiB = 1024 * 1024;
const dirs: string[] = [];

/** A private directory removed after the test. */
function tempDir(): string {
  const dir = privateDir();
  dirs.push(dir);
  return dir;
}

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** The socket files in a runtime directory. */
function sockets(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.sock')) : [];
}

/** The control socket of a master, once it listens. */
async function socketOf(m: Master): Promise<string> {
  const name = `app.${m.pid}.sock`;
  for (let i = 0; i < 200 && !sockets(m.runtimeDir).includes(name); i++) await sleep(25);
  return path.join(m.runtimeDir, name);
}

test.serial('cli - status lists every worker with its memory and CPU, as a table and as JSON', async (t) => {
  t.timeout(90_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const pids = pidsOf(await m.ready()).sort((a, b) => a - b);

  const table = await runCli(['status'], { runtimeDir: m.runtimeDir });
  t.log(`clusterbus status (${table.ms} ms):\n${table.stdout}`);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, new RegExp(`^master ${m.pid} on `, 'm'));
  t.regex(table.stdout, /^ID\s+SLOT\s+PID\s+STATE\s+UPTIME\s+RESTARTS\s+MEMORY\s+CPU\s+LAST EXIT$/m);
  for (const pid of pids) {
    t.regex(
      table.stdout,
      new RegExp(`^\\d+\\s+[12]\\s+${pid}\\s+ready\\s+\\d+s\\s+0\\s+[\\d.]+ MiB\\s+[\\d.]+%\\s+-$`, 'm'),
    );
  }
  t.regex(table.stdout, /^bus: 3 peers \(3 ready\), 0 pending requests/m);

  const json = await runCli(['ls', '--json'], { runtimeDir: m.runtimeDir });
  t.is(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as StatusReport;
  t.is(report.master.pid, m.pid);
  t.is(report.master.cwd, fs.realpathSync(process.cwd()));
  t.true(report.healthy);
  t.false(report.master.shuttingDown);
  t.deepEqual(
    report.workers.map((w) => w.pid).sort((a, b) => (a ?? 0) - (b ?? 0)),
    pids,
  );
  t.deepEqual(report.workers.map((w) => w.index).sort(), [1, 2]);
  for (const w of [report.master, ...report.workers]) {
    t.true((w.rssBytes ?? 0) > 10 * MiB, `rss of ${w.pid}: ${w.rssBytes}`);
    t.true(typeof w.cpuPercent === 'number' && w.cpuPercent >= 0, `cpu of ${w.pid}: ${w.cpuPercent}`);
  }
  for (const w of report.workers) {
    t.is(w.state, 'ready');
    t.is(w.restarts, 0);
  }
  t.is(report.bus.broker?.peers.length, 3);
  t.is(report.sampleWindowMs, 500);
  t.log(
    `master rss ${((report.master.rssBytes ?? 0) / MiB).toFixed(1)} MiB cpu ${report.master.cpuPercent}%; ` +
      report.workers
        .map((w) => `worker ${w.id} rss ${((w.rssBytes ?? 0) / MiB).toFixed(1)} MiB cpu ${w.cpuPercent}%`)
        .join('; ') +
      `; status --json took ${json.ms} ms`,
  );
});

test.serial('cli - status shows the CPU of a worker whose event loop is stuck', async (t) => {
  t.timeout(90_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  await m.ready();
  // Long enough for the command line to start and measure while it spins, even on a loaded machine.
  const spin = request(m.port, '/spin?ms=7000', 'GET', 30_000);
  const spinning = await m.next('spin-start');
  const run = await runCli(['status', '--json'], { runtimeDir: m.runtimeDir });
  t.is(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as StatusReport;
  const busy = report.workers.find((w) => w.pid === spinning.pid);
  const idle = report.workers.find((w) => w.pid !== spinning.pid);
  t.log(`spinning worker: ${busy?.cpuPercent}% CPU, idle worker: ${idle?.cpuPercent}% CPU (over 500 ms)`);
  // Generous: a busy loop gets far more than a tenth of a core even on a loaded 2-core machine.
  t.true((busy?.cpuPercent ?? 0) >= 10);
  t.true((busy?.cpuPercent ?? 0) > (idle?.cpuPercent ?? 0));
  t.is((await spin).status, 200);
});

test.serial('cli - reload replaces every worker, one at a time, and prints which', async (t) => {
  t.timeout(90_000);
  const m = await startMaster({ SUP_WORKERS: '2' });
  const before = pidsOf(await m.ready());
  const run = await runCli(['reload'], { runtimeDir: m.runtimeDir });
  t.log(`clusterbus reload (${run.ms} ms):\n${run.stdout}`);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /^reload done in [\d.]+ s: 2 workers replaced$/m);
  const lines = [...run.stdout.matchAll(/^ {2}slot (\d): pid (\d+) -> (\d+)$/gm)];
  t.deepEqual(
    lines.map((l) => Number(l[1])),
    [1, 2],
  );
  t.deepEqual(lines.map((l) => Number(l[2])).sort(), [...before].sort());
  const fresh = lines.map((l) => Number(l[3]));
  const after = await m.settled(2);
  t.deepEqual(pidsOf(after).sort(), [...fresh].sort());
  t.false(
    fresh.some((p) => before.includes(p)),
    'every worker is new',
  );
  t.truthy(m.logs('rolling reload done')[0]);

  const json = await runCli(['reload', '--json'], { runtimeDir: m.runtimeDir });
  t.is(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as ReloadReport;
  t.true(report.ok);
  t.deepEqual(report.replaced.map((r) => r.fromPid).sort(), [...fresh].sort());
  t.log(`second reload, --json: ${report.durationMs} ms`);
});

test.serial('cli - a reload that fails exits 1 and says why; the old workers keep serving', async (t) => {
  t.timeout(90_000);
  const flag = path.join(tempDir(), 'fail');
  const m = await startMaster({ SUP_WORKERS: '2', SUP_FAIL_FLAG: flag });
  const before = pidsOf(await m.ready()).sort();
  fs.writeFileSync(flag, 'broken build');
  const run = await runCli(['reload'], { runtimeDir: m.runtimeDir });
  t.log(`clusterbus reload (${run.ms} ms), exit ${run.code}:\n${run.stdout}`);
  t.is(run.code, 1);
  t.regex(run.stdout, /^reload FAILED after [\d.]+ s: reload stopped: the replacement for worker slot 1 failed/m);
  t.regex(run.stdout, /\[CB_RELOAD_FAILED\]/);
  t.regex(run.stdout, /no worker was replaced; the old workers keep serving/);
  t.deepEqual(pidsOf(await m.settled(2)).sort(), before);
  t.is((await request(m.port, '/')).status, 200);
});

test.serial('cli - without a running master it says so and exits 1; bad usage exits 2', async (t) => {
  t.timeout(60_000);
  const empty = tempDir();
  const runs = {
    empty: await runCli(['status'], { runtimeDir: empty }),
    missingDir: await runCli(['reload'], { runtimeDir: path.join(empty, 'never-created') }),
    pid: await runCli(['status', '--pid', '999999'], { runtimeDir: empty }),
    socket: await runCli(['status', '--socket', path.join(empty, 'none.sock')], { runtimeDir: empty }),
    usage: await runCli(['status', '--pid'], { runtimeDir: empty }),
    unknown: await runCli(['stauts'], { runtimeDir: empty }),
  };
  for (const [name, r] of Object.entries(runs)) t.log(`${name}: exit ${r.code}: ${r.stderr.split('\n')[0]}`);
  t.is(runs.empty.code, 1);
  t.regex(runs.empty.stderr, /^clusterbus status: no clusterbus master is running for this user \(looked in /);
  t.is(runs.missingDir.code, 1);
  t.regex(runs.missingDir.stderr, /^clusterbus reload: no clusterbus master is running for this user/);
  t.is(runs.pid.code, 1);
  t.regex(runs.pid.stderr, /no clusterbus master with pid 999999/);
  t.is(runs.socket.code, 1);
  t.regex(runs.socket.stderr, /no master listens on .*none\.sock \(it is not running\)/);
  t.is(runs.usage.code, 2);
  t.regex(runs.usage.stderr, /--pid needs a value/);
  t.is(runs.unknown.code, 2);
  t.regex(runs.unknown.stderr, /unknown command 'stauts'/);
  for (const r of Object.values(runs)) t.is(r.stdout, '');
});

test.serial('cli - with two masters in one directory it asks for --pid, which picks one', async (t) => {
  t.timeout(90_000);
  const dir = tempDir();
  const a = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: dir });
  const b = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: dir });
  await Promise.all([a.ready(), b.ready(), socketOf(a), socketOf(b)]);
  const both = await runCli(['status'], { runtimeDir: dir });
  t.log(both.stderr);
  t.is(both.code, 1);
  t.regex(both.stderr, /2 clusterbus masters are running in .*; choose one with --pid/);
  t.regex(both.stderr, new RegExp(`pid ${a.pid} in `));
  t.regex(both.stderr, new RegExp(`pid ${b.pid} in `));

  const picked = await runCli(['status', '--json', '--pid', String(b.pid)], { runtimeDir: dir });
  t.is(picked.code, 0, picked.stderr);
  t.is((JSON.parse(picked.stdout) as StatusReport).master.pid, b.pid);
  const bySocket = await runCli(['status', '--json', `--socket=${await socketOf(a)}`], { runtimeDir: dir });
  t.is(bySocket.code, 0, bySocket.stderr);
  t.is((JSON.parse(bySocket.stdout) as StatusReport).master.pid, a.pid);

  const elsewhere = await runCli(['status'], { runtimeDir: dir, cwd: os.tmpdir() });
  t.is(elsewhere.code, 1);
  t.regex(
    elsewhere.stderr,
    /no clusterbus master is running in .*; this user's masters elsewhere \(choose one with --pid\)/,
  );
});

test.serial(
  'cli - the control socket is private: mode 0600 in a 0700 directory, refused to another user',
  async (t) => {
    t.timeout(90_000);
    const m = await startMaster({ SUP_WORKERS: '1' });
    await m.ready();
    const socket = await socketOf(m);
    const uid = process.getuid?.();
    const dirStat = fs.statSync(m.runtimeDir);
    const sockStat = fs.lstatSync(socket);
    t.log(
      `directory ${(dirStat.mode & 0o777).toString(8)} uid ${dirStat.uid}, ` +
        `socket ${(sockStat.mode & 0o777).toString(8)} uid ${sockStat.uid}, tests run as uid ${uid}`,
    );
    t.true(sockStat.isSocket());
    t.is(dirStat.mode & 0o777, 0o700);
    t.is(sockStat.mode & 0o777, 0o600);
    t.is(dirStat.uid, uid ?? dirStat.uid);
    t.is(sockStat.uid, uid ?? sockStat.uid);
    if (uid !== 0) {
      t.log('not root: no process of another uid can be started here, so only the permission bits are checked');
      return;
    }
    // Root can start a process as another user (nobody, 65534); that process is refused.
    const other = await runCli(['status', '--socket', socket], { runtimeDir: m.runtimeDir, uid: 65534, cwd: '/' });
    t.log(`as uid 65534: exit ${other.code}: ${other.stderr.trim()}`);
    t.is(other.code, 1);
    t.regex(
      other.stderr,
      /permission denied on .*: a master's control socket can only be opened by the user that runs it/,
    );
    // The socket's own mode is a gate too: with the directory open for search, still refused.
    fs.chmodSync(m.runtimeDir, 0o711);
    try {
      const through = await runCli(['status', '--socket', socket], { runtimeDir: m.runtimeDir, uid: 65534, cwd: '/' });
      t.log(`as uid 65534, directory 0711: exit ${through.code}: ${through.stderr.trim()}`);
      t.is(through.code, 1);
      t.regex(through.stderr, /permission denied/);
    } finally {
      fs.chmodSync(m.runtimeDir, 0o700);
    }
    t.is((await runCli(['status', '--socket', socket], { runtimeDir: m.runtimeDir })).code, 0, 'its own user gets in');
  },
);

test.serial('cli - a runtime directory that is not private is refused; the master runs without a socket', async (t) => {
  t.timeout(90_000);
  // A symbolic link could point anywhere: refused whoever owns it.
  const target = tempDir();
  const link = path.join(tempDir(), 'link');
  fs.symlinkSync(target, link);
  const linked = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: link });
  await linked.ready();
  const refused = await linked.next(
    'log',
    (e) => typeof e.msg === 'string' && e.msg.startsWith('control socket disabled'),
  );
  t.log(`${String(refused.msg)}: ${JSON.stringify(refused.fields)}`);
  t.like(refused.fields, { code: 'CB_CONTROL_SOCKET' });
  t.regex(String((refused.fields as { error: string }).error), /is a symbolic link; refusing to use it/);
  t.deepEqual(sockets(target), []);
  t.is((await request(linked.port, '/')).status, 200, 'the application serves regardless');
  const viaLink = await runCli(['status'], { runtimeDir: link });
  t.is(viaLink.code, 1);
  t.regex(viaLink.stderr, /is a symbolic link/);

  // A directory of this user's that others may enter is closed by the master.
  const open = tempDir();
  fs.chmodSync(open, 0o755);
  const m = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: open });
  await Promise.all([m.ready(), socketOf(m)]);
  t.is(fs.statSync(open).mode & 0o777, 0o700);

  if (process.getuid?.() === 0) {
    // Another user's directory (one made in /tmp before the master started, say).
    const foreign = tempDir();
    fs.chownSync(foreign, 65534, 65534);
    const f = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: foreign });
    await f.ready();
    const log = await f.next('log', (e) => typeof e.msg === 'string' && e.msg.startsWith('control socket disabled'));
    t.regex(String((log.fields as { error: string }).error), /belongs to uid 65534, not to this user \(uid 0\)/);
    t.deepEqual(sockets(foreign), []);
    const cli = await runCli(['status'], { runtimeDir: foreign });
    t.is(cli.code, 1);
    t.regex(cli.stderr, /belongs to uid 65534/);
    t.log(`another user's directory: ${cli.stderr.trim()}`);
  }
});

test.serial('cli - a killed master’s socket is not a running master, and the next master removes it', async (t) => {
  t.timeout(90_000);
  const dir = tempDir();
  const a = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: dir });
  await a.ready();
  const stale = await socketOf(a);
  await a.kill();
  t.true(fs.existsSync(stale), 'SIGKILL leaves the socket file behind');
  const none = await runCli(['status'], { runtimeDir: dir });
  t.is(none.code, 1);
  t.regex(none.stderr, /no clusterbus master is running for this user/);

  const b = await startMaster({ SUP_WORKERS: '1', CLUSTERBUS_RUNTIME_DIR: dir });
  await Promise.all([b.ready(), socketOf(b)]);
  for (let i = 0; i < 200 && fs.existsSync(stale); i++) await sleep(25);
  t.false(fs.existsSync(stale), 'the stale socket was removed');
  t.deepEqual(sockets(dir), [`app.${b.pid}.sock`]);
  t.log(`killed master's socket: "${none.stderr.trim()}"; removed once the next master started`);
  const found = await runCli(['status', '--json'], { runtimeDir: dir });
  t.is((JSON.parse(found.stdout) as StatusReport).master.pid, b.pid);
});

/** Leaves a socket file at `file` that nobody listens on: a process that listened there, killed. */
async function staleSocket(file: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", file],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the listener exited with ${code}`)));
    });
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve),
    );
  }
}

test.serial(
  'cli - a stale socket file on the path is replaced; a plain file or a live master’s socket is not',
  async (t) => {
    t.timeout(90_000);
    const dir = tempDir();
    const file = path.join(dir, 'shop.sock');
    await staleSocket(file);
    t.true(fs.lstatSync(file).isSocket(), 'a socket file nobody listens on');
    const m = await startMaster({ SUP_WORKERS: '1', SUP_OPTS: JSON.stringify({ controlSocket: file }) });
    await m.ready();
    await m.next('log', (e) => e.msg === 'control socket listening');
    const run = await runCli(['status', '--json', '--socket', file], { runtimeDir: dir });
    t.is(run.code, 0, run.stderr);
    t.is((JSON.parse(run.stdout) as StatusReport).master.pid, m.pid);

    const plain = path.join(dir, 'notes.txt');
    fs.writeFileSync(plain, 'keep me');
    const other = await startMaster({ SUP_WORKERS: '1', SUP_OPTS: JSON.stringify({ controlSocket: plain }) });
    await other.ready();
    const refused = await other.next(
      'log',
      (e) => typeof e.msg === 'string' && e.msg.startsWith('control socket disabled'),
    );
    t.regex(String((refused.fields as { error: string }).error), /exists and is not a control socket of this user/);
    t.is(fs.readFileSync(plain, 'utf8'), 'keep me');

    const taken = await startMaster({ SUP_WORKERS: '1', SUP_OPTS: JSON.stringify({ controlSocket: file }) });
    await taken.ready();
    const live = await taken.next(
      'log',
      (e) => typeof e.msg === 'string' && e.msg.startsWith('control socket disabled'),
    );
    t.regex(String((live.fields as { error: string }).error), /another process listens on the control socket/);
    t.log(`stale socket replaced; a plain file and a live master's socket refused`);
  },
);

test.serial('cli - controlSocket: false listens nowhere; a path listens there', async (t) => {
  t.timeout(90_000);
  const off = await startMaster({ SUP_WORKERS: '1', SUP_OPTS: JSON.stringify({ controlSocket: false }) });
  await off.ready();
  t.deepEqual(sockets(off.runtimeDir), []);
  t.is((await runCli(['status'], { runtimeDir: off.runtimeDir })).code, 1);

  const file = path.join(tempDir(), 'shop.sock');
  const on = await startMaster({ SUP_WORKERS: '1', SUP_OPTS: JSON.stringify({ controlSocket: file }) });
  await on.ready();
  const listening = await on.next('log', (e) => e.msg === 'control socket listening');
  t.like(listening.fields, { socket: file });
  t.is(fs.lstatSync(file).mode & 0o777, 0o600);
  const run = await runCli(['status', '--json', '--socket', file], { runtimeDir: on.runtimeDir });
  t.is(run.code, 0, run.stderr);
  t.is((JSON.parse(run.stdout) as StatusReport).master.socket, file);
  t.deepEqual(sockets(on.runtimeDir), [], 'nothing in the runtime directory');
  t.log(`controlSocket false: no socket; controlSocket '${file}': mode 600, status answered in ${run.ms} ms`);
});
