/**
 * The `clusterbus` command line.
 *
 *     clusterbus gen [files or globs…] [--out DIR] [--check] [--watch] [--js]
 *
 * Without files, `gen` reads the `clusterbus` section of ./package.json
 * (`{ "contracts": [globs…], "out": "dir" }`), else `contracts/**\/*.contract.ts`. Its `"emit"`
 * (`"ts"` or `"js"`) applies with files too.
 * Exit status: 0 success, 1 contract errors or (with `--check`) stale outputs, 2 usage error.
 */
// First, so that the compile cache is on before TypeScript loads.
import './compile-cache.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Code, diagnostic, displayPath, formatDiagnostic, type Diagnostic } from './diagnostics.js';
import type { EmitLanguage } from './emit.js';
import { DEFAULT_CONTRACTS, generate, type GenerateOptions, type GenerateResult } from './generate.js';
import { watch } from './watch.js';

/** Where the CLI prints, and which directory it works in. */
export interface CliIo {
  readonly cwd: string;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const USAGE = `Usage: clusterbus gen [files or globs...] [--out DIR] [--check] [--watch] [--js]

Generates X.bus.ts, the typed messenger, from each X.contract.ts.

Options:
  --out DIR   write the generated files into DIR instead of next to their contracts
  --check     write nothing; exit 1 and list the generated files that are stale or missing
  --watch     regenerate whenever a contract or a file it imports changes
  --js        write JavaScript and its declarations, X.bus.js and X.bus.d.ts, instead of
              X.bus.ts (X.bus.mjs and X.bus.d.mts in a package without "type": "module")
  -h, --help  print this help

Without files, the contracts are the "contracts" globs of the "clusterbus" section of
package.json (its "out" is the default of --out), else ${DEFAULT_CONTRACTS.join(' ')}.
Its "emit": "js" makes --js the default. Generated files of the language not written
(X.bus.ts with --js, X.bus.js and X.bus.d.ts without) are removed.
`;

/** A parsed command line. */
interface Command {
  readonly patterns: readonly string[];
  readonly out: string | undefined;
  readonly check: boolean;
  readonly watch: boolean;
  /** `--js`: JavaScript output, whatever package.json says. */
  readonly js: boolean;
}

class UsageError extends Error {}

function parse(argv: readonly string[]): Command | 'help' {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === 'help') return 'help';
  if (command === undefined) throw new UsageError('missing command: clusterbus gen');
  if (command !== 'gen') throw new UsageError(`unknown command '${command}': the only command is gen`);
  const patterns: string[] = [];
  let out: string | undefined;
  let check = false;
  let watching = false;
  let js = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--check') check = true;
    else if (arg === '--watch') watching = true;
    else if (arg === '--js') js = true;
    else if (arg === '--out' || arg.startsWith('--out=')) {
      const value = arg === '--out' ? rest[++i] : arg.slice('--out='.length);
      if (value === undefined || value === '') throw new UsageError('--out needs a directory');
      out = value;
    } else if (arg === '--') {
      patterns.push(...rest.slice(i + 1));
      break;
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else patterns.push(arg);
  }
  if (check && watching) throw new UsageError('--check and --watch cannot be combined');
  return { patterns, out, check, watch: watching, js };
}

/** The `clusterbus` section of a package.json. */
interface Config {
  contracts?: string[];
  out?: string;
  /** What `gen` writes: `ts` (`X.bus.ts`) or `js` (`X.bus.js` and `X.bus.d.ts`). Default `ts`. */
  emit?: EmitLanguage;
}

/** The `clusterbus` section of `cwd`/package.json, validated. */
function readConfig(cwd: string): Config {
  const file = path.join(cwd, 'package.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`cannot parse package.json: ${error instanceof Error ? error.message : String(error)}`);
  }
  const section =
    typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['clusterbus'] : undefined;
  if (section === undefined) return {};
  if (typeof section !== 'object' || section === null || Array.isArray(section)) {
    throw new UsageError(
      'package.json: "clusterbus" must be an object such as { "contracts": ["contracts/**/*.contract.ts"] }',
    );
  }
  const { contracts, out, emit } = section as Record<string, unknown>;
  const config: Config = {};
  if (contracts !== undefined) {
    const list = typeof contracts === 'string' ? [contracts] : contracts;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((p): p is string => typeof p === 'string' && p !== '')
    ) {
      throw new UsageError('package.json: "clusterbus.contracts" must be a glob or a non-empty array of globs');
    }
    config.contracts = list;
  }
  if (out !== undefined) {
    if (typeof out !== 'string' || out === '')
      throw new UsageError('package.json: "clusterbus.out" must be a directory');
    config.out = out;
  }
  if (emit !== undefined) {
    if (emit !== 'ts' && emit !== 'js') throw new UsageError('package.json: "clusterbus.emit" must be "ts" or "js"');
    config.emit = emit;
  }
  return config;
}

/** Prints the outcome of one run; returns its exit code. */
function printResult(result: GenerateResult, options: GenerateOptions, io: CliIo): 0 | 1 {
  for (const d of result.diagnostics) io.stderr.write(`${formatDiagnostic(d, io.cwd)}\n`);
  for (const item of result.written) {
    io.stdout.write(`${item.action === 'create' ? 'created' : 'updated'} ${displayPath(item.file, io.cwd)}\n`);
  }
  for (const file of result.removed) io.stdout.write(`removed ${displayPath(file, io.cwd)}\n`);
  const upToDate = result.plan.filter((p) => p.action === 'unchanged').length;
  const errors = result.diagnostics.length;
  if (options.check === true) {
    io.stdout.write(
      errors === 0
        ? `clusterbus gen --check: ${upToDate} generated file${upToDate === 1 ? '' : 's'} up to date\n`
        : `clusterbus gen --check: ${errors} problem${errors === 1 ? '' : 's'}\n`,
    );
  } else {
    io.stdout.write(
      `clusterbus gen: ${result.written.length} written, ${upToDate} unchanged` +
        (result.removed.length === 0 ? '' : `, ${result.removed.length} removed`) +
        (errors === 0 ? '\n' : `, ${errors} error${errors === 1 ? '' : 's'}\n`),
    );
  }
  return result.exitCode;
}

function printUsageError(error: UsageError, io: CliIo): 2 {
  const d: Diagnostic = diagnostic(Code.Usage, error.message);
  io.stderr.write(`${formatDiagnostic(d, io.cwd)}\n\n${USAGE}`);
  return 2;
}

/**
 * Runs the command line `argv` (without `node` and the script) and resolves to the exit
 * status. With `--watch` it resolves only once `signal` aborts, or on SIGINT / SIGTERM.
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr },
  signal?: AbortSignal,
): Promise<number> {
  let command: Command | 'help';
  let options: GenerateOptions;
  try {
    command = parse(argv);
    if (command === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    // Read with files on the command line too, for "emit": a run naming one contract must not
    // switch a JavaScript project's output back to TypeScript (and remove its JavaScript).
    const config = readConfig(io.cwd);
    const fromConfig = command.patterns.length === 0;
    options = {
      cwd: io.cwd,
      patterns: fromConfig ? (config.contracts ?? DEFAULT_CONTRACTS) : command.patterns,
      outDir: command.out ?? (fromConfig ? config.out : undefined),
      check: command.check,
      emit: command.js ? 'js' : (config.emit ?? 'ts'),
    };
  } catch (error) {
    if (error instanceof UsageError) return printUsageError(error, io);
    throw error;
  }
  if (!command.watch) return printResult(generate(options), options, io);

  return new Promise<number>((resolve) => {
    let first = true;
    const watcher = watch(options, (result) => {
      if (result instanceof Error) io.stderr.write(`clusterbus gen --watch: ${result.stack ?? result.message}\n`);
      else printResult(result, options, io);
      if (first) io.stdout.write('clusterbus gen --watch: watching for changes (Ctrl-C to stop)\n');
      first = false;
    });
    const stop = (): void => {
      watcher.close();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    signal?.addEventListener('abort', stop);
  });
}

/** Whether this module is the program node was started with (not imported by bin/ or a test). */
function isEntryModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return fs.realpathSync(entry) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryModule()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`clusterbus: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
