// The default logger's two formats, line by line: text for people, JSON for log shippers.
import test from 'ava';
import { stderrLogger } from 'clusterbus';

/** A logger writing into an array, one entry per line written. */
function capture(options: Parameters<typeof stderrLogger>[0]): {
  lines: string[];
  logger: ReturnType<typeof stderrLogger>;
} {
  const lines: string[] = [];
  const stream = { write: (text: string) => lines.push(text) };
  const logger = stderrLogger(typeof options === 'string' ? { level: options, stream } : { ...options, stream });
  return { lines, logger };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

test('logs - a text line starts with an ISO timestamp, the level and the pid, then the message and fields', (t) => {
  const { lines, logger } = capture({ level: 'info', format: 'text' });
  logger.info('worker ready', { worker: 1, slot: 2, ok: true });
  t.is(lines.length, 1);
  const line = lines[0] as string;
  t.log(line.trimEnd());
  t.true(line.endsWith('\n'));
  // The level is padded to five characters, so that messages line up.
  const [time, level, who, ...rest] = line.trimEnd().split(/ +/);
  t.regex(time ?? '', ISO);
  t.is(level, 'info');
  t.is(who, `clusterbus[${process.pid}]`);
  t.is(rest.join(' '), 'worker ready worker=1 slot=2 ok=true');
});

test('logs - text values with spaces, quotes, = or newlines are quoted as JSON strings; others are bare', (t) => {
  const { lines, logger } = capture({ level: 'info', format: 'text' });
  logger.warn('worker exited unexpectedly', {
    reason: 'crashed (boom), then exit code 1',
    quote: 'say "hi"',
    eq: 'a=b',
    stack: 'Error: x\n    at y',
    empty: '',
    plain: 'exit_code_1',
    list: [1, 'two'],
    nothing: undefined,
  });
  const line = (lines[0] as string).trimEnd();
  t.log(line);
  t.false(line.includes('\n'), 'one entry is one line');
  t.true(line.includes(' reason="crashed (boom), then exit code 1"'));
  t.true(line.includes(' quote="say \\"hi\\""'));
  t.true(line.includes(' eq="a=b"'));
  t.true(line.includes(' stack="Error: x\\n    at y"'));
  t.true(line.includes(' empty=""'));
  t.true(line.includes(' plain=exit_code_1'));
  t.true(line.includes(' list="[1,\\"two\\"]"'));
  t.true(line.includes(' nothing=undefined'));
  // Every quoted value reads back with JSON.parse.
  for (const m of line.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*")/g)) t.notThrows(() => JSON.parse(m[2] as string), m[1]);
});

test('logs - fields named time, level, pid or msg never overwrite the logger’s own: they become fields.<name>', (t) => {
  const text = capture({ level: 'info', format: 'text' });
  text.logger.info('worker ready', { pid: 4242, level: 'custom', time: 'later', msg: 'other', worker: 1 });
  const line = (text.lines[0] as string).trimEnd();
  t.log(line);
  t.true(line.includes(`clusterbus[${process.pid}] worker ready`));
  t.true(line.endsWith(' fields.pid=4242 fields.level=custom fields.time=later fields.msg=other worker=1'));

  const json = capture({ level: 'info', format: 'json' });
  json.logger.info('worker ready', { pid: 4242, level: 'custom', time: 'later', msg: 'other', worker: 1 });
  const entry = JSON.parse(json.lines[0] as string) as Record<string, unknown>;
  t.log(json.lines[0]?.trimEnd());
  t.is(entry.pid, process.pid);
  t.is(entry.level, 'info');
  t.is(entry.msg, 'worker ready');
  t.regex(String(entry.time), ISO);
  t.is(entry['fields.pid'], 4242);
  t.is(entry['fields.level'], 'custom');
  t.is(entry['fields.time'], 'later');
  t.is(entry['fields.msg'], 'other');
  t.is(entry.worker, 1);
});

test('logs - a JSON line is one object with time, level, pid, msg first, then the fields, whatever they hold', (t) => {
  const { lines, logger } = capture({ level: 'info', format: 'json' });
  const cycle: Record<string, unknown> = { name: 'a' };
  cycle.self = cycle;
  logger.error('worker crashed', {
    reason: 'uncaught exception: Error: boom "quoted"\nsecond line',
    big: 12345678901234567890n,
    err: new TypeError('bad'),
    cycle,
    skipped: undefined,
  });
  t.is(lines.length, 1);
  const line = lines[0] as string;
  t.log(line.trimEnd());
  t.is(line.indexOf('\n'), line.length - 1, 'one entry is one line');
  const entry = JSON.parse(line) as Record<string, unknown>;
  t.deepEqual(Object.keys(entry).slice(0, 4), ['time', 'level', 'pid', 'msg']);
  t.is(entry.level, 'error');
  t.is(entry.reason, 'uncaught exception: Error: boom "quoted"\nsecond line');
  t.is(entry.big, '12345678901234567890');
  t.like(entry.err, { name: 'TypeError', message: 'bad' });
  t.deepEqual(entry.cycle, { name: 'a', self: '[Circular]' });
  t.false('skipped' in entry);
});

test('logs - CLUSTERBUS_LOG levels filter, and a level string still works as before', (t) => {
  const warn = capture({ level: 'warn', format: 'text' });
  warn.logger.info('not shown');
  warn.logger.warn('shown');
  warn.logger.error('shown too');
  t.log(warn.lines.join('').trimEnd());
  t.deepEqual(
    warn.lines.map((l) => l.split(/ +/)[1]),
    ['warn', 'error'],
  );
  const silent = capture('silent');
  silent.logger.error('nothing');
  t.is(silent.lines.length, 0);
});

test('logs - CLUSTERBUS_LOG_FORMAT=json selects JSON when no format is given', (t) => {
  const before = process.env.CLUSTERBUS_LOG_FORMAT;
  process.env.CLUSTERBUS_LOG_FORMAT = 'json';
  try {
    const { lines, logger } = capture({ level: 'info' });
    logger.info('from the environment', { a: 1 });
    t.log(lines[0]?.trimEnd());
    t.like(JSON.parse(lines[0] as string), { level: 'info', msg: 'from the environment', a: 1 });
  } finally {
    if (before === undefined) delete process.env.CLUSTERBUS_LOG_FORMAT;
    else process.env.CLUSTERBUS_LOG_FORMAT = before;
  }
});
