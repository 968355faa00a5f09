/** Shared helpers of the codegen tests (not a test file: AVA only runs `*.test.ts`). */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.join(repoRoot, 'test/fixtures/codegen');
export const brokenDir = path.join(fixturesDir, 'broken');
export const cliPath = path.join(repoRoot, 'codegen/cli.ts');

/** The prettier options of the repository (`.prettierrc`). */
export const prettierOptions: prettier.Options = {
  parser: 'typescript',
  printWidth: 120,
  singleQuote: true,
  trailingComma: 'all',
};

/** Formats TypeScript source the way `prettier --check` expects it. */
export function format(source: string): Promise<string> {
  return prettier.format(source, prettierOptions);
}

const tempDirs: string[] = [];

/** A new empty directory under the OS temp dir, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'clusterbus-codegen-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory {@link tempDir} created. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `files` (relative path → content) under `dir`. */
export function writeFiles(dir: string, files: Readonly<Record<string, string>>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** The node arguments that run the CLI from source. */
export function cliArgs(args: readonly string[]): string[] {
  return ['--import', import.meta.resolve('tsx'), '--conditions=clusterbus-source', cliPath, ...args];
}

/** The outcome of one CLI run. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `clusterbus <args>` in `cwd` as a child process. */
export function runCli(cwd: string, args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, cliArgs(args), { cwd, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

/** Starts `clusterbus <args>` in `cwd` without waiting for it. */
export function startCli(cwd: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, cliArgs(args), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A minimal contract. */
export function contractSource(iface: string, events: Readonly<Record<string, string>>): string {
  const lines = Object.entries(events).map(([name, type]) => `  '${name}': ${type};`);
  return [
    "import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';",
    '',
    `export interface ${iface} {`,
    ...lines,
    '}',
    '',
  ].join('\n');
}

/**
 * The run-time table of a generated module, read as JavaScript reads it: in a `.bus.ts`
 * module, the template literal given to `JSON.parse`, evaluated and parsed; in a JavaScript
 * module, its object literal, evaluated.
 */
export function runTimeTable(content: string): Record<string, Record<string, unknown>> {
  const json = /JSON\.parse\((`(?:[^`\\]|\\.)*`)\);/s.exec(content);
  if (json?.[1]) {
    return JSON.parse((0, eval)(json[1]) as string) as Record<string, Record<string, unknown>>;
  }
  const object = /const events = \/\*\* @type \{const\} \*\/ \((\{.*?\n\})\);/s.exec(content);
  if (object?.[1]) {
    return (0, eval)(`(${object[1]})`) as Record<string, Record<string, unknown>>;
  }
  throw new Error(`no run-time table in:\n${content}`);
}

/**
 * The entry of `event` in a generated module's run-time table without its fingerprint, written
 * `{ kind: 'consume', timeoutMs: 5000 }`; `undefined` if the table has no such event.
 */
export function entryOf(content: string, event: string): string | undefined {
  const entry = runTimeTable(content)[event];
  if (entry === undefined) return undefined;
  const fields = Object.entries(entry)
    .filter(([key]) => key !== 'fp')
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  return `{ ${fields.join(', ')} }`;
}

/** The fingerprint of `event` in a generated module's run-time table. */
export function fingerprintOf(content: string, event: string): string | undefined {
  const fp = runTimeTable(content)[event]?.['fp'];
  return typeof fp === 'string' ? fp : undefined;
}

/**
 * Makes `dir` a strict nodenext project that imports `clusterbus` as a user's does, from this
 * checkout's source (`node_modules/clusterbus` links to it, `customConditions` picks src/), so
 * that `tsc -p dir` and a language service can compile generated files without a build.
 */
export function linkConsumerProject(dir: string): void {
  writeFiles(dir, {
    'package.json': `${JSON.stringify({ name: 'consumer', private: true, type: 'module' })}\n`,
    'tsconfig.json': `${JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
        customConditions: ['clusterbus-source'],
      },
    })}\n`,
  });
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'clusterbus'), 'dir');
  fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir');
}
