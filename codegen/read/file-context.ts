/**
 * The diagnostics and source positions of one contract file. Every check of the read stage
 * reports through it, so that positions are computed one way (1-based, from a node's first
 * token) and a contract with any error can be told apart from a clean one.
 */
import type ts from './typescript.cjs';
import { diagnostic, type Diagnostic, type DiagnosticCode } from '../diagnostics.js';
import type { SourceLocation } from '../model.js';

/** The diagnostics and locations of one contract file. */
export class FileContext {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly sf: ts.SourceFile,
    readonly file: string,
  ) {}

  /** Records a problem of this file. */
  report(code: DiagnosticCode, message: string, loc: SourceLocation): void {
    this.diagnostics.push(diagnostic(code, message, loc));
  }

  /** Where `node` starts (its first token, not its leading trivia). */
  loc(node: ts.Node): SourceLocation {
    return this.locAt(node.getStart(this.sf));
  }

  /** The line and column of a character offset of the file. */
  locAt(pos: number): SourceLocation {
    const { line, character } = this.sf.getLineAndCharacterOfPosition(pos);
    return { file: this.file, line: line + 1, col: character + 1 };
  }

  /** Where `symbol` is declared when that is in this file, else where `fallback` is. */
  locOfDeclaration(symbol: ts.Symbol, fallback: ts.Node): SourceLocation {
    const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
    return declaration !== undefined && declaration.getSourceFile() === this.sf
      ? this.loc(declaration)
      : this.loc(fallback);
  }

  /** `node` when it is declared in this file, else `fallback`: a message points at the contract, not at a library. */
  inThisFile(node: ts.Node | undefined, fallback: ts.Node): ts.Node {
    return node !== undefined && node.getSourceFile() === this.sf ? node : fallback;
  }
}
