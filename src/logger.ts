/**
 * The one small logger the bus and the supervisor write to. Default: concise lines on
 * stderr, silent under a test runner (`NODE_ENV=test`) unless `CLUSTERBUS_LOG` says otherwise.
 */

/** Where the bus reports what it is doing. Replace it with `configureBus({ logger })`. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const levels = { silent: 0, error: 1, warn: 2, info: 3 } as const;
type Level = keyof typeof levels;

function levelFromEnv(): Level {
  const wanted = process.env.CLUSTERBUS_LOG;
  if (wanted !== undefined && wanted in levels) return wanted as Level;
  return process.env.NODE_ENV === 'test' ? 'silent' : 'info';
}

function format(level: string, message: string, fields?: Record<string, unknown>): string {
  let line = `clusterbus[${process.pid}] ${level} ${message}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) line += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  }
  return line + '\n';
}

/** The default logger: one line per entry on stderr, filtered by `CLUSTERBUS_LOG` (silent|error|warn|info). */
export function stderrLogger(level: Level = levelFromEnv()): Logger {
  const at = levels[level];
  const write = (l: Level, message: string, fields?: Record<string, unknown>): void => {
    if (levels[l] <= at) process.stderr.write(format(l, message, fields));
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
