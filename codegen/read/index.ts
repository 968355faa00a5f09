/**
 * The read stage: loads contract files with ts-morph's TypeScript, finds their event
 * interfaces, checks them and builds the plain-data model. This folder is the only part of the
 * generator that touches ts-morph (and the TypeScript it bundles, typescript.cts); the stages
 * after it work on the model.
 *
 * program.ts loads the programs; contract.ts reads a contract file and events.ts each of its
 * events, with markers.ts (the markers), options.ts (the options) and jsdoc.ts (doc
 * comments). crossable.ts and plainness.ts are the two verdicts on payload and result types,
 * both walks of type-walker.ts over the parts type-nodes.ts takes a type apart into; they
 * agree on library.ts's library objects. file-context.ts holds a contract's diagnostics.
 */
import type { Diagnostic } from '../diagnostics.js';
import { compareNames, type ContractModel } from '../model.js';
import { ContractReader } from './contract.js';
import { loadPrograms, localSourceFiles } from './program.js';

/** What reading a set of contract files produced. */
export interface ReadResult {
  /** One model per contract file that has no error, in the order of the input files. */
  readonly contracts: readonly ContractModel[];
  /** Every problem found, unsorted. A contract with an error has no model. */
  readonly diagnostics: readonly Diagnostic[];
  /**
   * The project's own source files the contracts depend on (the contracts, the files they
   * import, the marker module), absolute paths, sorted. `--watch` watches their directories.
   */
  readonly dependencies: readonly string[];
}

/**
 * Reads and checks contract files (absolute paths). Files are grouped by their nearest
 * tsconfig.json; each group is loaded in one program so the checker resolves imported
 * payload types and the markers exactly as `tsc` does.
 */
export function readContracts(files: readonly string[]): ReadResult {
  const diagnostics: Diagnostic[] = [];
  const models = new Map<string, ContractModel>();
  const dependencies = new Set<string>();
  for (const { program, options, files: present } of loadPrograms(files, diagnostics)) {
    const reader = new ContractReader(program, options);
    for (const file of present) {
      const sourceFile = program.getSourceFile(file);
      if (sourceFile === undefined) continue;
      const result = reader.readContract(sourceFile);
      diagnostics.push(...result.diagnostics);
      if (result.model !== undefined) models.set(file, result.model);
    }
    for (const file of localSourceFiles(program)) dependencies.add(file);
  }
  const contracts = files.flatMap((file) => {
    const model = models.get(file);
    return model === undefined ? [] : [model];
  });
  return { contracts, diagnostics, dependencies: [...dependencies].sort(compareNames) };
}
