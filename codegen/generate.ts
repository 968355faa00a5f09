/**
 * One generator run: expand the contract globs, read the contracts, emit their modules,
 * then write them (or, with `check`, only compare them with the files on disk).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Code, diagnostic, displayPath, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { CONTRACT_SUFFIX, emitContract, outputPathFor } from './emit.js';
import { expandGlobs } from './glob.js';
import { readContracts } from './read/index.js';
import { applyWrites, planWrites, type Output, type PlannedWrite } from './write.js';

/** The contracts `gen` reads when neither the command line nor package.json name any. */
export const DEFAULT_CONTRACTS = ['contracts/**/*.contract.ts'];

/** What the generator produced for a set of contract files, before anything is written. */
export interface BuildResult {
  /** The generated files, one per contract without errors, in contract order. */
  readonly outputs: readonly Output[];
  /** Every problem, sorted. */
  readonly diagnostics: readonly Diagnostic[];
  /** The local source files the contracts depend on (for `--watch`). */
  readonly dependencies: readonly string[];
}

/**
 * Reads `files` (absolute contract paths) and emits their modules, in memory: the pure part
 * of a run, which the golden tests use too. `cwd` only shapes the paths inside messages.
 */
export function buildOutputs(files: readonly string[], outDir?: string, cwd = process.cwd()): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const contracts: string[] = [];
  const targets = new Map<string, string>();
  for (const file of files) {
    if (!file.endsWith(CONTRACT_SUFFIX)) {
      diagnostics.push({
        code: Code.NotAContract,
        message: `not a contract file: its name must end in ${CONTRACT_SUFFIX}`,
        file,
      });
      continue;
    }
    const target = outputPathFor(file, outDir);
    const other = targets.get(target);
    if (other !== undefined) {
      diagnostics.push({
        code: Code.OutputCollision,
        message: `this contract and ${displayPath(other, cwd)} would both write ${displayPath(target, cwd)}: rename one or generate them into different directories`,
        file,
      });
      continue;
    }
    targets.set(target, file);
    contracts.push(file);
  }
  const read = readContracts(contracts);
  diagnostics.push(...read.diagnostics);
  const outputs = read.contracts.map((model) => {
    const file = outputPathFor(model.file, outDir);
    return {
      file,
      contract: model.file,
      content: emitContract(model, { outFile: file, source: sourceId(model.file) }),
    };
  });
  return { outputs, diagnostics: sortDiagnostics(diagnostics), dependencies: read.dependencies };
}

/** The identity of a contract: its path relative to its package (POSIX), else its file name. */
export function sourceId(contractFile: string): string {
  for (let dir = path.dirname(contractFile); ;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      return path.relative(dir, contractFile).split(path.sep).join('/');
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.basename(contractFile);
    dir = parent;
  }
}

/** Options of one run. */
export interface GenerateOptions {
  /** Directory the patterns and the printed paths are relative to. */
  readonly cwd: string;
  /** Contract files or globs. */
  readonly patterns: readonly string[];
  /** Write every output into this directory instead of next to its contract. */
  readonly outDir?: string | undefined;
  /** Compare only: report stale and missing outputs, write nothing. */
  readonly check?: boolean | undefined;
}

/** What one run did. */
export interface GenerateResult {
  /** Every problem, sorted; the run failed if there is any. */
  readonly diagnostics: readonly Diagnostic[];
  /** The contract files the patterns matched. */
  readonly contracts: readonly string[];
  /** Every output and what it took. */
  readonly plan: readonly PlannedWrite[];
  /** The outputs written (none with `check`). */
  readonly written: readonly PlannedWrite[];
  /** The local source files the contracts depend on. */
  readonly dependencies: readonly string[];
  /** 0 when everything is generated and up to date, 1 otherwise. */
  readonly exitCode: 0 | 1;
}

/** Runs the generator once. */
export function generate(options: GenerateOptions): GenerateResult {
  const diagnostics: Diagnostic[] = [];
  const { files, unmatched } = expandGlobs(options.patterns, options.cwd);
  for (const pattern of unmatched) {
    diagnostics.push(diagnostic(Code.NoContracts, `no contract file matches '${pattern}'`));
  }
  const outDir = options.outDir === undefined ? undefined : path.resolve(options.cwd, options.outDir);
  const built = buildOutputs(files, outDir, options.cwd);
  diagnostics.push(...built.diagnostics);
  const plan = planWrites(built.outputs);
  for (const item of plan) {
    if (item.action === 'foreign') {
      diagnostics.push({
        code: Code.NotGenerated,
        message: 'exists and was not generated by clusterbus: not overwritten (move it away or delete it)',
        file: item.file,
      });
    } else if (options.check === true && item.action === 'create') {
      diagnostics.push({ code: Code.Missing, message: 'is missing: run `clusterbus gen`', file: item.file });
    } else if (options.check === true && item.action === 'update') {
      diagnostics.push({ code: Code.Stale, message: 'is out of date: run `clusterbus gen`', file: item.file });
    }
  }
  const written = options.check === true ? [] : applyWrites(plan);
  return {
    diagnostics: sortDiagnostics(diagnostics),
    contracts: files,
    plan,
    written,
    dependencies: built.dependencies,
    exitCode: diagnostics.length > 0 ? 1 : 0,
  };
}
