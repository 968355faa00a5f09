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
 * The table entry of `event` in a generated file, on one line and without its fingerprint
 * (`fp`, tested on its own), e.g. `{ kind: 'broadcast', plainPayload: true }`; `undefined`
 * when the file has no entry for it.
 */
export function entryOf(content: string, event: string): string | undefined {
  const key = `'${event}':`;
  const at = content.indexOf(`  ${key}`);
  if (at < 0) return undefined;
  const open = content.indexOf('{', at + key.length);
  const close = content.indexOf('}', open);
  const fields = content
    .slice(open + 1, close)
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '' && !f.startsWith('fp:'));
  return `{ ${fields.join(', ')} }`;
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
