/**
 * Runs the project's `tsc` (TypeScript 7, native: no JS API, so only its CLI) and parses its
 * `--pretty false` output. Shared by the type tests and the README quick-start test.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The root of the checkout. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One diagnostic printed by `tsc --pretty false`. */
export interface Diagnostic {
  /** Absolute path of the file, or `undefined` for a global diagnostic (e.g. a tsconfig error). */
  readonly file: string | undefined;
  /** 1-based line; 0 for a global diagnostic. */
  readonly line: number;
  /** 1-based column; 0 for a global diagnostic. */
  readonly column: number;
  /** `TS2322`, or `RAW` for an output line that is not a diagnostic. */
  readonly code: string;
  /** The first line of the message. */
  readonly headline: string;
  /** The headline followed by its elaboration lines ("Types of property 'x' are incompatible."), one per line. */
  readonly text: string;
}

const located = /^(.+)\((\d+),(\d+)\): error (TS\d+): (.*)$/;
const global = /^error (TS\d+): (.*)$/;

/**
 * Parses `tsc --pretty false` output. Paths are resolved against `cwd`, the directory tsc ran in.
 * A line that is neither a diagnostic nor an indented elaboration becomes a `RAW` diagnostic,
 * so that nothing tsc says goes unnoticed.
 */
export function parseTscOutput(output: string, cwd: string): Diagnostic[] {
  const diagnostics: { -readonly [K in keyof Diagnostic]: Diagnostic[K] }[] = [];
  for (const raw of output.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    const last = diagnostics.at(-1);
    if (/^\s/.test(raw) && last !== undefined) {
      last.text += `\n${raw.trim()}`;
      continue;
    }
    const m = located.exec(raw);
    if (m) {
      const [, file = '', line = '0', column = '0', code = '', message = ''] = m;
      diagnostics.push({
        file: path.resolve(cwd, file),
        line: Number(line),
        column: Number(column),
        code,
        headline: message,
        text: message,
      });
      continue;
    }
    const g = global.exec(raw);
    const [code, message] = g ? [g[1] ?? '', g[2] ?? ''] : ['RAW', raw.trim()];
    diagnostics.push({ file: undefined, line: 0, column: 0, code, headline: message, text: message });
  }
  return diagnostics;
}

/** The result of one `tsc` run. */
export interface TscRun {
  readonly exitCode: number;
  readonly diagnostics: Diagnostic[];
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tsc -p <project> --noEmit --pretty false` with the checkout's compiler, in `cwd`. */
export function runTsc(
  cwd: string,
  project = 'tsconfig.json',
  tscBin = path.join(repoRoot, 'node_modules', '.bin', 'tsc'),
): Promise<TscRun> {
  return new Promise((resolve, reject) => {
    execFile(
      tscBin,
      ['-p', project, '--noEmit', '--pretty', 'false'],
      { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        // tsc exits 1 or 2 when it reports errors: that is an outcome, not a failure to run it.
        if (error && typeof error.code !== 'number') {
          reject(new Error(`could not run ${tscBin} in ${cwd}: ${error.message}\n${stderr}`));
          return;
        }
        const exitCode = typeof error?.code === 'number' ? error.code : 0;
        resolve({ exitCode, diagnostics: parseTscOutput(stdout, cwd), stdout, stderr });
      },
    );
  });
}

/** `file(line,col): error TSnnnn: message`, with the file relative to `base`. */
export function formatDiagnostic(d: Diagnostic, base = repoRoot): string {
  const where = d.file === undefined ? '' : `${path.relative(base, d.file)}(${d.line},${d.column}): `;
  return `${where}error ${d.code}: ${d.text.replaceAll('\n', '\n    ')}`;
}
