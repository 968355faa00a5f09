/**
 * The one small logger the bus and the supervisor write to. Default: one line per entry on
 * stderr, silent under a test runner (`NODE_ENV=test`) unless `CLUSTERBUS_LOG` says otherwise,
 * as text for people or as JSON for log shippers (`CLUSTERBUS_LOG_FORMAT=json`).
 */

/** Where the bus reports what it is doing. Replace it with `configureBus({ logger })`. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const levels = { silent: 0, error: 1, warn: 2, info: 3 } as const;

/** How much the default logger writes: `info` everything, `silent` nothing. */
export type LogLevel = keyof typeof levels;

/**
 * How the default logger writes an entry:
 * - `text`: `2025-01-31T12:00:00.000Z info  clusterbus[4242] worker ready worker=1 slot=1`;
 *   a value with a space, a quote, `=`, a backslash or a control character, or an empty
 *   one, is written as a JSON string (`reason="exit code 1"`).
 * - `json`: one JSON object per line, `{"time":…,"level":…,"pid":…,"msg":…, …fields}`.
 */
export type LogFormat = 'text' | 'json';

/** Options of `stderrLogger`. */
export interface StderrLoggerOptions {
  /** Default: `CLUSTERBUS_LOG`, else `silent` when `NODE_ENV=test`, else `info`. */
  level?: LogLevel;
  /** Default: `CLUSTERBUS_LOG_FORMAT` (`text` or `json`), else `text`. */
  format?: LogFormat;
  /** Where the lines go. Default: `process.stderr`. */
  stream?: { write(text: string): unknown };
}

/**
 * Keys every entry has. A field of the caller's with one of these names is written as
 * `fields.<name>` instead, so that it can never be mistaken for the logger's own.
 */
export const RESERVED_LOG_KEYS: readonly string[] = ['time', 'level', 'pid', 'msg'];

function levelFromEnv(): LogLevel {
  const wanted = process.env.CLUSTERBUS_LOG;
  if (wanted !== undefined && wanted in levels) return wanted as LogLevel;
  return process.env.NODE_ENV === 'test' ? 'silent' : 'info';
}

function formatFromEnv(): LogFormat {
  return process.env.CLUSTERBUS_LOG_FORMAT === 'json' ? 'json' : 'text';
}

function fieldKey(key: string): string {
  return RESERVED_LOG_KEYS.includes(key) ? `fields.${key}` : key;
}

/** JSON of any value: never throws (a bigint is its digits, a cycle `"[Circular]"`, an Error its name, message and stack). */
function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) {
        const plain: Record<string, unknown> = { name: v.name, message: v.message };
        if (typeof v.stack === 'string') plain.stack = v.stack;
        return plain;
      }
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    });
    // `undefined`, a function or a symbol has no JSON of its own.
    return text === undefined ? JSON.stringify(String(value)) : text;
  } catch (err) {
    return JSON.stringify(`[unserializable: ${err instanceof Error ? err.message : String(err)}]`);
  }
}

/** A value that would break a `key=value` line apart, or be read as something else, is quoted. */
const NEEDS_QUOTES = /[\s"=\\\p{Cc}]/u;

function textValue(value: unknown): string {
  const raw =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
        ? String(value)
        : value === undefined
          ? 'undefined'
          : safeJson(value);
  return raw === '' || NEEDS_QUOTES.test(raw) ? JSON.stringify(raw) : raw;
}

/** A key as a `key=value` pair can carry it: anything but letters, digits, `_`, `.` and `-` becomes `_`. */
function textKey(key: string): string {
  const clean = key.replace(/[^\w.-]/g, '_');
  return clean === '' ? '_' : clean;
}

/** One entry as a line of text (see `LogFormat`). */
export function formatTextLine(
  time: Date,
  level: string,
  message: string,
  fields?: Record<string, unknown>,
  pid: number = process.pid,
): string {
  // A message always ends up on one line: a newline inside it is written as `\n`.
  const msg = /[\r\n]/.test(message) ? JSON.stringify(message).slice(1, -1) : message;
  let line = `${time.toISOString()} ${level.padEnd(5)} clusterbus[${pid}] ${msg}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) line += ` ${textKey(fieldKey(k))}=${textValue(v)}`;
  }
  return line + '\n';
}

/** One entry as a line of JSON (see `LogFormat`). */
export function formatJsonLine(
  time: Date,
  level: string,
  message: string,
  fields?: Record<string, unknown>,
  pid: number = process.pid,
): string {
  let line = `{"time":"${time.toISOString()}","level":${JSON.stringify(level)},"pid":${pid},"msg":${JSON.stringify(message)}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line += `,${JSON.stringify(fieldKey(k))}:${safeJson(v)}`;
    }
  }
  return line + '}\n';
}

/**
 * The default logger: one line per entry (see `LogFormat`), filtered by level.
 * @param options a level (`'info'`, as before), or `{ level, format, stream }`.
 */
export function stderrLogger(options: LogLevel | StderrLoggerOptions = {}): Logger {
  const resolved: StderrLoggerOptions = typeof options === 'string' ? { level: options } : options;
  const at = levels[resolved.level ?? levelFromEnv()];
  const format = (resolved.format ?? formatFromEnv()) === 'json' ? formatJsonLine : formatTextLine;
  const write = (l: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>): void => {
    if (levels[l] > at) return;
    (resolved.stream ?? process.stderr).write(format(new Date(), l, message, fields));
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
