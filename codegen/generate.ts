/**
 * One generator run: expand the contract globs, read the contracts, emit their modules,
 * then write them (or, with `check`, only compare them with the files on disk).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Code, diagnostic, displayPath, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import {
  CONTRACT_SUFFIX,
  emitContract,
  emitDeclarations,
  emitJavaScript,
  outputPathsFor,
  type EmitLanguage,
  type OutputFlavor,
} from './emit.js';
import { expandGlobs } from './glob.js';
import { readContracts } from './read/index.js';
import {
  applyRemovals,
  applyWrites,
  planRemovals,
  planWrites,
  type Output,
  type PlannedWrite,
  type Superseded,
} from './write.js';

/** The contracts `gen` reads when neither the command line nor package.json name any. */
export const DEFAULT_CONTRACTS = ['contracts/**/*.contract.ts'];

/** What the generator produced for a set of contract files, before anything is written. */
export interface BuildResult {
  /**
   * The generated files of each contract without errors, in contract order: its `.bus.ts`
   * module, or its JavaScript module and then the declarations of it.
   */
  readonly outputs: readonly Output[];
  /** Every problem, sorted. */
  readonly diagnostics: readonly Diagnostic[];
  /** The local source files the contracts depend on (for `--watch`). */
  readonly dependencies: readonly string[];
  /**
   * The files each generated contract would have in the other flavors (`X.bus.ts` when this
   * run writes JavaScript, and the reverse): the run removes those an earlier run generated.
   */
  readonly superseded: readonly Superseded[];
}

const FLAVORS: readonly OutputFlavor[] = ['ts', 'js', 'mjs'];

/**
 * How JavaScript output is named in `dir`: `js` (`X.bus.js`, `X.bus.d.ts`) when the nearest
 * package.json says `"type": "module"`, else `mjs` (`X.bus.mjs`, `X.bus.d.mts`), because Node runs
 * a `.js` file of any other package as CommonJS and the generated module is an ES module.
 */
export function javaScriptFlavor(dir: string): 'js' | 'mjs' {
  for (let current = dir; ;) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(path.join(current, 'package.json'), 'utf8');
    } catch {
      // No package.json here (or the directory does not exist yet): Node looks further up too.
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module' ? 'js' : 'mjs';
      } catch {
        return 'mjs';
      }
    }
    const parent = path.dirname(current);
    if (parent === current) return 'mjs';
    current = parent;
  }
}

/**
 * Reads `files` (absolute contract paths) and emits their modules, in memory: the pure part
 * of a run, which the golden tests use too. `cwd` only shapes the paths inside messages.
 */
export function buildOutputs(
  files: readonly string[],
  outDir?: string,
  cwd = process.cwd(),
  emit: EmitLanguage = 'ts',
): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const contracts: string[] = [];
  const targets = new Map<string, string>();
  const flavors = new Map<string, OutputFlavor>();
  for (const file of files) {
    if (!file.endsWith(CONTRACT_SUFFIX)) {
      diagnostics.push({
        code: Code.NotAContract,
        message: `not a contract file: its name must end in ${CONTRACT_SUFFIX}`,
        file,
      });
      continue;
    }
    const flavor = emit === 'ts' ? 'ts' : javaScriptFlavor(outDir ?? path.dirname(file));
    const [target] = outputPathsFor(file, flavor, outDir);
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
    flavors.set(file, flavor);
    contracts.push(file);
  }
  const read = readContracts(contracts);
  diagnostics.push(...read.diagnostics);
  const outputs: Output[] = [];
  const superseded: Superseded[] = [];
  for (const model of read.contracts) {
    const flavor = flavors.get(model.file) ?? 'ts';
    const source = sourceId(model.file);
    const [module, declarations] = outputPathsFor(model.file, flavor, outDir);
    if (declarations === undefined) {
      outputs.push({ file: module, contract: model.file, content: emitContract(model, { outFile: module, source }) });
    } else {
      outputs.push(
        { file: module, contract: model.file, content: emitJavaScript(model, { outFile: module, source }) },
        {
          file: declarations,
          contract: model.file,
          content: emitDeclarations(model, { outFile: declarations, source }),
        },
      );
    }
    for (const other of FLAVORS) {
      if (other === flavor) continue;
      for (const file of outputPathsFor(model.file, other, outDir)) superseded.push({ file, contract: model.file });
    }
  }
  return { outputs, diagnostics: sortDiagnostics(diagnostics), dependencies: read.dependencies, superseded };
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
  /**
   * What to write: `ts`, the TypeScript module `X.bus.ts`; or `js`, the JavaScript module
   * `X.bus.js` with its declarations `X.bus.d.ts` (`X.bus.mjs` and `X.bus.d.mts` outside an ES
   * module package). The files an earlier run generated in the other language are removed.
   * Default `ts`.
   */
  readonly emit?: EmitLanguage | undefined;
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
  /** The files of another flavor an earlier run generated, which this run removed (none with `check`). */
  readonly removed: readonly string[];
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
  const built = buildOutputs(files, outDir, options.cwd, options.emit ?? 'ts');
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
  // A contract whose output is refused keeps its files of the other language: they are what works.
  const refused = new Set(plan.filter((p) => p.action === 'foreign').map((p) => p.contract));
  const removals = planRemovals(built.superseded.filter((s) => !refused.has(s.contract)));
  if (options.check === true) {
    for (const item of removals) {
      const replacement = plan.find((p) => p.contract === item.contract)?.file ?? item.contract;
      diagnostics.push({
        code: Code.Superseded,
        message: `is a generated file that ${displayPath(replacement, options.cwd)} now replaces: run \`clusterbus gen\` to remove it`,
        file: item.file,
      });
    }
  }
  const written = options.check === true ? [] : applyWrites(plan);
  const removed = options.check === true ? [] : applyRemovals(removals);
  return {
    diagnostics: sortDiagnostics(diagnostics),
    contracts: files,
    plan,
    written,
    removed,
    dependencies: built.dependencies,
    exitCode: diagnostics.length > 0 ? 1 : 0,
  };
}
