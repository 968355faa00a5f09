/**
 * Loading contracts into TypeScript programs: the only place that creates a ts-morph
 * project. Contracts are grouped by their nearest tsconfig.json so that the checker resolves
 * their imports and the markers' module exactly as `tsc` does for them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Project, ts } from 'ts-morph';
import { Code, diagnostic, type Diagnostic } from '../diagnostics.js';

/** Compiler options used when a contract has no tsconfig.json above it. */
const DEFAULT_COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  // No DOM: parsing lib.dom.d.ts would double the time of a run, and a bus carries Node values.
  lib: ['lib.es2023.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
};

/** One program and the contracts it holds. */
export interface LoadedProgram {
  readonly program: ts.Program;
  /** The program's compiler options (the markers' module is resolved with them). */
  readonly options: ts.CompilerOptions;
  /** The contract files of the group that exist, absolute, in input order. */
  readonly files: readonly string[];
}

/**
 * Loads contract files (absolute paths), one program per tsconfig.json they fall under.
 * Lazy: a program is created when the caller asks for it, so only one is alive at a time. A
 * tsconfig that cannot be loaded and a contract that cannot be read are reported to
 * `diagnostics`.
 */
export function* loadPrograms(files: readonly string[], diagnostics: Diagnostic[]): Generator<LoadedProgram> {
  const groups = new Map<string, string[]>();
  for (const file of files) {
    const config = findTsconfig(path.dirname(file)) ?? '';
    const group = groups.get(config);
    if (group === undefined) groups.set(config, [file]);
    else group.push(file);
  }
  for (const [config, groupFiles] of groups) {
    let project: Project;
    try {
      // The program resolves the contracts' imports itself: ts-morph need not do it first.
      project =
        config === ''
          ? new Project({ compilerOptions: DEFAULT_COMPILER_OPTIONS, skipFileDependencyResolution: true })
          : new Project({
              tsConfigFilePath: config,
              skipAddingFilesFromTsConfig: true,
              skipFileDependencyResolution: true,
              compilerOptions: { noEmit: true },
            });
    } catch (error) {
      diagnostics.push(
        diagnostic(Code.Usage, `cannot load ${config}: ${error instanceof Error ? error.message : String(error)}`),
      );
      continue;
    }
    const present: string[] = [];
    for (const file of groupFiles) {
      if (project.addSourceFileAtPathIfExists(file) === undefined) {
        diagnostics.push({ code: Code.NoContracts, message: 'cannot read the contract file', file });
      } else {
        present.push(file);
      }
    }
    yield { program: project.getProgram().compilerObject, options: project.getCompilerOptions(), files: present };
  }
}

/**
 * The project's own source files a program holds (the contracts, the files they import, the
 * marker module), absolute: what `--watch` watches. Libraries are left out: they do not
 * change while one works on a contract.
 */
export function localSourceFiles(program: ts.Program): string[] {
  return program
    .getSourceFiles()
    .filter(
      (sf) =>
        !program.isSourceFileDefaultLibrary(sf) &&
        !program.isSourceFileFromExternalLibrary(sf) &&
        !sf.fileName.split('/').includes('node_modules'),
    )
    .map((sf) => path.resolve(sf.fileName));
}

/** The nearest tsconfig.json in `dir` or above it. */
function findTsconfig(dir: string): string | undefined {
  for (let current = dir; ;) {
    const candidate = path.join(current, 'tsconfig.json');
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}
