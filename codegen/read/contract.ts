/**
 * Reading one contract file: its syntax, its event interfaces (the top-level interfaces with
 * a marker property) and the names they are exported under, then each of their events. A
 * contract with any error yields no model, so the generator never writes a messenger that
 * half matches its contract.
 */
import path from 'node:path';
import ts from './typescript.cjs';
import { Code, type Diagnostic } from '../diagnostics.js';
import { compareNames, CONTRACT_MODULE, type ContractModel, type EventModel, type InterfaceModel } from '../model.js';
import { CrossableCheck } from './crossable.js';
import { readEvent, type EventChecks } from './events.js';
import { FileContext } from './file-context.js';
import { MarkerReader } from './markers.js';
import { checksNullStrictly, PlainnessCheck } from './plainness.js';
import { FingerprintCheck } from './fingerprint.js';
import { TypeWalker } from './type-walker.js';

/** What reading one contract file produced: a model, or the diagnostics that prevent one. */
export interface ContractRead {
  readonly model?: ContractModel;
  readonly diagnostics: readonly Diagnostic[];
}

/** Reads the contracts of one program. */
export class ContractReader {
  private readonly checker: ts.TypeChecker;
  private readonly markers: MarkerReader;
  private readonly strictNullChecks: boolean;

  constructor(
    private readonly program: ts.Program,
    options: ts.CompilerOptions,
  ) {
    this.checker = program.getTypeChecker();
    this.markers = new MarkerReader(this.checker, options);
    this.strictNullChecks = checksNullStrictly(this.checker);
  }

  /** Reads and checks one contract file of the program. */
  readContract(sf: ts.SourceFile): ContractRead {
    const file = path.resolve(sf.fileName);
    const ctx = new FileContext(sf, file);
    const syntax = this.program.getSyntacticDiagnostics(sf);
    if (syntax.length > 0) {
      for (const d of syntax) {
        ctx.report(
          Code.Syntax,
          `syntax error: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
          ctx.locAt(d.start ?? 0),
        );
      }
      return { diagnostics: ctx.diagnostics };
    }

    const walker = new TypeWalker(this.checker, sf);
    const checks: EventChecks = {
      checker: this.checker,
      markers: this.markers,
      crossable: new CrossableCheck(walker, this.checker, ctx),
      plainness: new PlainnessCheck(walker, this.strictNullChecks),
      fingerprints: new FingerprintCheck(walker, this.checker),
      ctx,
      seen: new Map(),
    };
    const exportNames = this.exportNames(sf);
    const interfaces: InterfaceModel[] = [];
    const events: EventModel[] = [];
    for (const statement of sf.statements) {
      if (!ts.isInterfaceDeclaration(statement)) continue;
      const markers = statement.members.map((member) =>
        ts.isPropertySignature(member) && member.type !== undefined
          ? this.markers.markerOf(member.type, sf)
          : undefined,
      );
      if (!markers.some((m) => m !== undefined)) continue;
      const declaredIn = statement.name.text;
      const symbol = this.checker.getSymbolAtLocation(statement.name);
      const exportName = symbol === undefined ? undefined : exportNames.get(symbol);
      if (exportName === undefined) {
        const isDefault = statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) === true;
        ctx.report(
          Code.NotExported,
          isDefault
            ? `event interface ${declaredIn} is a default export: export it by name (export interface ${declaredIn})`
            : `event interface ${declaredIn} is not exported: the generated messenger imports it (export interface ${declaredIn})`,
          ctx.loc(statement.name),
        );
      } else if (!interfaces.some((i) => i.name === exportName)) {
        interfaces.push({ name: exportName, loc: ctx.loc(statement.name) });
      }
      this.checkInterfaceShape(statement, ctx);
      const owner = { declaredIn, interfaceName: exportName ?? declaredIn };
      statement.members.forEach((member, index) => {
        const event = readEvent(member, markers[index], owner, checks);
        if (event !== undefined) events.push(event);
      });
    }
    if (interfaces.length === 0 && ctx.diagnostics.length === 0) {
      ctx.report(
        Code.NoEvents,
        `no event interface: a contract exports at least one interface whose properties are Broadcast, Consume or MapCall events (imported from '${CONTRACT_MODULE}')`,
        { file, line: 1, col: 1 },
      );
    }
    if (ctx.diagnostics.length > 0) return { diagnostics: ctx.diagnostics };
    return {
      model: {
        file,
        interfaces: interfaces.sort((a, b) => compareNames(a.name, b.name)),
        events: events.sort((a, b) => compareNames(a.name, b.name)),
      },
      diagnostics: [],
    };
  }

  /** Reports an event interface the generated module could not name or list (generic, or inheriting events). */
  private checkInterfaceShape(statement: ts.InterfaceDeclaration, ctx: FileContext): void {
    const name = statement.name.text;
    const firstTypeParameter = statement.typeParameters?.[0];
    if (firstTypeParameter !== undefined) {
      ctx.report(
        Code.GenericInterface,
        `event interface ${name} has type parameters: an event interface must be a plain interface`,
        ctx.loc(firstTypeParameter),
      );
    }
    const heritage = statement.heritageClauses?.[0];
    if (heritage !== undefined) {
      ctx.report(
        Code.ExtendsInterface,
        `event interface ${name} extends ${heritage.types.map((t) => t.getText(ctx.sf)).join(', ')}: declare its events in the interface itself (a contract may export several event interfaces)`,
        ctx.loc(heritage),
      );
    }
  }

  /** The names under which the file exports each of its symbols (the plain name first). */
  private exportNames(sf: ts.SourceFile): Map<ts.Symbol, string> {
    const result = new Map<ts.Symbol, string>();
    const moduleSymbol = this.checker.getSymbolAtLocation(sf);
    if (moduleSymbol === undefined) return result;
    const exports = [...this.checker.getExportsOfModule(moduleSymbol)].sort((a, b) =>
      compareNames(a.getName(), b.getName()),
    );
    for (const exported of exports) {
      if (exported.getName() === 'default') continue;
      const target = exported.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(exported) : exported;
      const previous = result.get(target);
      if (previous === undefined || exported.getName() === target.getName()) result.set(target, exported.getName());
    }
    return result;
  }
}
