/**
 * Recognising the contract markers (`Broadcast`, `Consume`, `MapCall` from
 * `clusterbus/contract`) and taking them apart into payload, result and options. Markers are
 * recognised by what the checker resolves them to, not by their name, so that renamed
 * imports, namespace imports and type aliases work and a user's own `Broadcast` does not.
 */
import path from 'node:path';
import ts from './typescript.cjs';
import { Code } from '../diagnostics.js';
import { CONTRACT_MODULE, KIND_OF_MARKER, MARKER_NAMES, type EventKind } from '../model.js';
import type { FileContext } from './file-context.js';

/** A marker found on an event property. */
export interface MarkerUse {
  readonly kind: EventKind;
  /** The marker type itself (for markers reached through an alias). */
  readonly type: ts.Type | undefined;
  /** The type arguments as written, when the property names the marker directly. */
  readonly args: readonly ts.TypeNode[] | undefined;
}

/** A type argument of a marker, with the node to point diagnostics at. */
export interface MarkerPart {
  readonly type: ts.Type;
  readonly node: ts.Node;
}

/** What a marker carries. */
export interface MarkerParts {
  readonly payload: MarkerPart;
  /** The result type of a `MapCall`; `undefined` for the other kinds. */
  readonly result: MarkerPart | undefined;
  readonly options: MarkerPart | undefined;
}

/** How many type arguments each marker takes: payload (+ result) (+ options). */
const ARITY: Record<EventKind, { readonly min: number; readonly max: number }> = {
  broadcast: { min: 1, max: 2 },
  consume: { min: 1, max: 2 },
  map: { min: 2, max: 3 },
};

/** Recognises the markers of the contracts of one program. */
export class MarkerReader {
  private readonly markerModuleCache = new Map<string, boolean>();
  private readonly resolvedContractModule = new Map<string, string | undefined>();

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly options: ts.CompilerOptions,
  ) {}

  /** The marker a property's type names, if any. */
  markerOf(typeNode: ts.TypeNode, sf: ts.SourceFile): MarkerUse | undefined {
    if (ts.isTypeReferenceNode(typeNode)) {
      let symbol = this.checker.getSymbolAtLocation(typeNode.typeName);
      if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
      const declarations = symbol?.declarations ?? [];
      if (declarations.length === 0) {
        // The markers' module could not be resolved: recognise the markers by their import.
        const kind = importedMarker(typeNode.typeName, sf);
        return kind === undefined ? undefined : { kind, type: undefined, args: typeNode.typeArguments ?? [] };
      }
      const kind = this.markerKindOfDeclarations(declarations, sf.fileName);
      if (kind !== undefined) return { kind, type: undefined, args: typeNode.typeArguments ?? [] };
    }
    // A marker reached through a type alias: look at the type itself.
    const type = this.checker.getTypeFromTypeNode(typeNode);
    const declarations = type.getSymbol()?.declarations ?? [];
    const kind = this.markerKindOfDeclarations(declarations, sf.fileName);
    return kind === undefined ? undefined : { kind, type, args: undefined };
  }

  /**
   * The payload, result and options of a marker; `undefined` when they cannot be read,
   * reported when the marker has the wrong number of type arguments.
   */
  markerParts(
    marker: MarkerUse,
    member: ts.PropertySignature,
    name: string,
    ctx: FileContext,
  ): MarkerParts | undefined {
    const fallbackNode = member.type ?? member;
    if (marker.args !== undefined) {
      const { min, max } = ARITY[marker.kind];
      const args = marker.args;
      if (args.length < min || args.length > max) {
        const expected =
          marker.kind === 'map'
            ? 'a payload type, a result type and optional options'
            : 'a payload type and optional options';
        ctx.report(
          Code.UnknownMarker,
          `event '${name}': ${MARKER_NAMES[marker.kind]} takes ${expected}, not ${args.length} type argument${args.length === 1 ? '' : 's'}`,
          ctx.loc(fallbackNode),
        );
        return undefined;
      }
      const part = (node: ts.TypeNode | undefined): MarkerPart | undefined =>
        node === undefined ? undefined : { type: this.checker.getTypeFromTypeNode(node), node };
      const payloadNode = args[0];
      if (payloadNode === undefined) return undefined;
      return {
        payload: { type: this.checker.getTypeFromTypeNode(payloadNode), node: payloadNode },
        result: marker.kind === 'map' ? part(args[1]) : undefined,
        options: part(args[marker.kind === 'map' ? 2 : 1]),
      };
    }
    // Through an alias the arguments are not written at the property: read the marker's members.
    const type = marker.type;
    if (type === undefined) return undefined;
    const property = (key: string): MarkerPart | undefined => {
      const symbol = this.checker.getPropertyOfType(type, key);
      return symbol === undefined
        ? undefined
        : { type: this.checker.getTypeOfSymbolAtLocation(symbol, fallbackNode), node: fallbackNode };
    };
    const payload = property('payload');
    if (payload === undefined) return undefined;
    return { payload, result: marker.kind === 'map' ? property('result') : undefined, options: property('options') };
  }

  /** The kind of the marker interface declared by `declarations`, if they declare one. */
  private markerKindOfDeclarations(declarations: readonly ts.Declaration[], from: string): EventKind | undefined {
    for (const declaration of declarations) {
      if (!ts.isInterfaceDeclaration(declaration)) continue;
      const kind = KIND_OF_MARKER[declaration.name.text];
      if (kind !== undefined && this.isMarkerModule(declaration.getSourceFile(), from)) return kind;
    }
    return undefined;
  }

  /**
   * Whether `sf` is clusterbus's marker module: the file `clusterbus/contract` resolves to
   * from the contract, or (when a contract imports the markers by another path, e.g. in
   * clusterbus's own repository) a module that exports the `eventKind` brand.
   */
  private isMarkerModule(sf: ts.SourceFile, from: string): boolean {
    if (!this.resolvedContractModule.has(from)) {
      const found = ts.resolveModuleName(CONTRACT_MODULE, from, this.options, ts.sys).resolvedModule?.resolvedFileName;
      this.resolvedContractModule.set(from, found === undefined ? undefined : path.resolve(found));
    }
    const resolved = this.resolvedContractModule.get(from);
    const file = path.resolve(sf.fileName);
    if (file === resolved) return true;
    const cached = this.markerModuleCache.get(file);
    if (cached !== undefined) return cached;
    const moduleSymbol = this.checker.getSymbolAtLocation(sf);
    const result =
      moduleSymbol !== undefined &&
      this.checker.getExportsOfModule(moduleSymbol).some((s) => s.getName() === 'eventKind');
    this.markerModuleCache.set(file, result);
    return result;
  }
}

/**
 * The marker a type name refers to through an import from `clusterbus/contract`, used when
 * that module cannot be resolved (no node_modules yet): `Broadcast`, `B` from
 * `import type { Broadcast as B }`, or `cb.Broadcast` from `import type * as cb`.
 */
function importedMarker(typeName: ts.EntityName, sf: ts.SourceFile): EventKind | undefined {
  for (const statement of sf.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    if (!ts.isStringLiteral(statement.moduleSpecifier) || statement.moduleSpecifier.text !== CONTRACT_MODULE) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings === undefined) continue;
    if (ts.isNamespaceImport(bindings)) {
      if (ts.isQualifiedName(typeName) && ts.isIdentifier(typeName.left) && typeName.left.text === bindings.name.text) {
        return KIND_OF_MARKER[typeName.right.text];
      }
      continue;
    }
    if (!ts.isIdentifier(typeName)) continue;
    for (const element of bindings.elements) {
      if (element.name.text === typeName.text) return KIND_OF_MARKER[(element.propertyName ?? element.name).text];
    }
  }
  return undefined;
}
