// The default logger of a real master and its workers (test/fixtures/supervision/app.ts without
// its own logger), in both formats, as a log shipper or a person would read stderr.
import test from 'ava';
import { killAll, pidsOf, startMaster } from './harness.js';

test.afterEach.always(async (t) => {
  t.deepEqual(await killAll(), [], 'no master or worker outlives the test');
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

test.serial(
  'logs - with CLUSTERBUS_LOG_FORMAT=json every line of the master and its workers is a JSON object',
  async (t) => {
    t.timeout(60_000);
    const m = await startMaster({
      SUP_WORKERS: '2',
      SUP_DEFAULT_LOGGER: '1',
      CLUSTERBUS_LOG: 'info',
      CLUSTERBUS_LOG_FORMAT: 'json',
    });
    const workers = pidsOf(await m.ready());
    process.kill(m.pid, 'SIGTERM');
    t.deepEqual(await m.exited, { code: 0, signal: null });
    const lines = m.stderrText.split('\n').filter((l) => l !== '');
    const entries = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { unparsed: line };
      }
    });
    t.log(`${lines.length} lines, e.g.\n${lines.slice(0, 4).join('\n')}`);
    t.deepEqual(
      entries.filter((e) => 'unparsed' in e),
      [],
      'every line parses',
    );
    for (const e of entries) {
      t.deepEqual(Object.keys(e).slice(0, 4), ['time', 'level', 'pid', 'msg']);
      t.regex(String(e.time), ISO);
      t.true(['info', 'warn', 'error'].includes(String(e.level)));
    }
    const fromMaster = entries.filter((e) => e.pid === m.pid).map((e) => e.msg);
    for (const msg of [
      'starting workers',
      'control socket listening',
      'worker ready',
      'shutting down',
      'shutdown complete',
    ]) {
      t.true(fromMaster.includes(msg), `the master logged "${msg}"`);
    }
    const ready = entries.filter((e) => e.msg === 'worker ready');
    t.deepEqual(
      ready.map((e) => e.pid),
      [m.pid, m.pid],
    );
    t.deepEqual(ready.map((e) => e.workerPid).sort(), [...workers].sort());
    t.true(
      entries.some((e) => workers.includes(e.pid as number) && e.msg === 'worker draining'),
      'the workers log in JSON too',
    );
  },
);

test.serial('logs - by default a line is text: ISO time, level, pid, message, then key=value fields', async (t) => {
  t.timeout(60_000);
  const m = await startMaster({ SUP_WORKERS: '1', SUP_DEFAULT_LOGGER: '1', CLUSTERBUS_LOG: 'info' });
  const [worker] = pidsOf(await m.ready());
  process.kill(m.pid, 'SIGTERM');
  t.deepEqual(await m.exited, { code: 0, signal: null });
  const lines = m.stderrText.split('\n').filter((l) => l !== '');
  t.log(lines.join('\n'));
  const shape = /^(\S+) (info |warn |error) clusterbus\[(\d+)\] (.+)$/;
  for (const line of lines) {
    const match = shape.exec(line);
    t.truthy(match, line);
    t.regex(match?.[1] ?? '', ISO);
  }
  t.true(lines.some((l) => l.includes(`clusterbus[${m.pid}] worker ready worker=1 slot=1 workerPid=${worker}`)));
  t.true(
    lines.some((l) => l.includes(`clusterbus[${m.pid}] drained worker exited worker=1 slot=1 reason="exit code 0"`)),
  );
});
