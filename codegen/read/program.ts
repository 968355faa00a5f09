/**
 * Loading contracts into TypeScript programs: the only place that creates one. Contracts are
 * grouped by their nearest tsconfig.json so that the checker resolves their imports and the
 * markers' module exactly as `tsc` does for them.
 *
 * The program is built with TypeScript's own compiler host rather than through a ts-morph
 * project: the read stage needs only the program and its checker, and a project wraps every
 * file it loads and lists every file the tsconfig includes, which the generator never reads.
 * The lib files come from ts-morph, whose bundled TypeScript has them in memory, not on disk.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Code, diagnostic, type Diagnostic } from '../diagnostics.js';
import ts from './typescript.cjs';

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
    let options: ts.CompilerOptions;
    try {
      options = config === '' ? DEFAULT_COMPILER_OPTIONS : { ...readCompilerOptions(config), noEmit: true };
    } catch (error) {
      diagnostics.push(
        diagnostic(Code.Usage, `cannot load ${config}: ${error instanceof Error ? error.message : String(error)}`),
      );
      continue;
    }
    const present: string[] = [];
    for (const file of groupFiles) {
      if (isReadableFile(file)) present.push(file);
      else diagnostics.push({ code: Code.NoContracts, message: 'cannot read the contract file', file });
    }
    // The program resolves the contracts' imports itself, from the contracts as roots.
    const program = ts.createProgram({ rootNames: present, options, host: compilerHost(options) });
    yield { program, options, files: present };
  }
}

/** The compiler options of a tsconfig.json (its `extends` followed); its file list is not used. */
function readCompilerOptions(config: string): ts.CompilerOptions {
  const read = ts.readConfigFile(config, (file) => ts.sys.readFile(file));
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  // No directory listing: `include` may cover the whole repository, and only the options are used.
  const host: ts.ParseConfigHost = {
    useCaseSensitiveFileNames: ts.sys.useCaseSensitiveFileNames,
    readDirectory: () => [],
    fileExists: (file) => ts.sys.fileExists(file),
    readFile: (file) => ts.sys.readFile(file),
  };
  return ts.parseJsonConfigFileContent(read.config, host, path.dirname(config), undefined, config).options;
}

function isReadableFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** TypeScript's compiler host for `options`, with the lib files ts-morph carries in memory. */
function compilerHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options, true);
  const libDir = host.getDefaultLibLocation?.() ?? path.dirname(host.getDefaultLibFileName(options));
  const libText = (file: string): string | undefined =>
    path.dirname(file) === libDir ? libFiles().get(path.basename(file)) : undefined;
  const { fileExists, readFile, getSourceFile } = host;
  return {
    ...host,
    fileExists: (file) => libText(file) !== undefined || fileExists(file),
    readFile: (file) => libText(file) ?? readFile(file),
    getSourceFile: (file, languageVersion, onError, shouldCreate) => {
      const text = libText(file);
      return text === undefined
        ? getSourceFile(file, languageVersion, onError, shouldCreate)
        : ts.createSourceFile(file, text, languageVersion, false);
    },
  };
}

let libs: ReadonlyMap<string, string> | undefined;

/** The lib files (`lib.es2023.d.ts`…) by name, from ts-morph's @ts-morph/common, which the bundled TypeScript belongs to. */
function libFiles(): ReadonlyMap<string, string> {
  if (libs === undefined) {
    const fromTsMorph = createRequire(createRequire(import.meta.url).resolve('ts-morph'));
    const common = fromTsMorph('@ts-morph/common') as {
      getLibFiles(): readonly { readonly fileName: string; readonly text: string }[];
    };
    libs = new Map(common.getLibFiles().map((lib) => [lib.fileName, lib.text]));
  }
  return libs;
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
