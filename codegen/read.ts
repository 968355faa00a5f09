/**
 * The read stage: loads contract files with ts-morph, finds their event interfaces, checks
 * them and builds the plain-data model. This is the only module of the generator that
 * touches ts-morph (and the TypeScript it bundles); the stages after it work on the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Project, ts } from 'ts-morph';
import { Code, diagnostic, type Diagnostic, type DiagnosticCode } from './diagnostics.js';
import {
  compareNames,
  CONTRACT_MODULE,
  EVENT_OPTIONS,
  KIND_OF_MARKER,
  MARKER_NAMES,
  type ContractModel,
  type EventKind,
  type EventModel,
  type EventOption,
  type InterfaceModel,
  type OptionName,
  type Plainness,
  type SourceLocation,
} from './model.js';

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

/**
 * Reads and checks contract files (absolute paths). Files are grouped by their nearest
 * tsconfig.json; each group is loaded in one ts-morph project so the checker resolves
 * imported payload types and the markers exactly as `tsc` does.
 */
export function readContracts(files: readonly string[]): ReadResult {
  const diagnostics: Diagnostic[] = [];
  const groups = new Map<string, string[]>();
  for (const file of files) {
    const config = findTsconfig(path.dirname(file)) ?? '';
    const group = groups.get(config);
    if (group === undefined) groups.set(config, [file]);
    else group.push(file);
  }
  const models = new Map<string, ContractModel>();
  const dependencies = new Set<string>();
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
    const program = project.getProgram().compilerObject;
    const reader = new ProgramReader(program, project.getCompilerOptions());
    for (const file of present) {
      const sourceFile = program.getSourceFile(file);
      if (sourceFile === undefined) continue;
      const result = reader.readContract(sourceFile);
      diagnostics.push(...result.diagnostics);
      if (result.model !== undefined) models.set(file, result.model);
    }
    for (const sf of program.getSourceFiles()) {
      if (
        !program.isSourceFileDefaultLibrary(sf) &&
        !program.isSourceFileFromExternalLibrary(sf) &&
        !sf.fileName.split('/').includes('node_modules')
      ) {
        dependencies.add(path.resolve(sf.fileName));
      }
    }
  }
  const contracts = files.flatMap((file) => {
    const model = models.get(file);
    return model === undefined ? [] : [model];
  });
  return { contracts, diagnostics, dependencies: [...dependencies].sort(compareNames) };
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

/** A marker found on an event property. */
interface MarkerUse {
  readonly kind: EventKind;
  /** The marker type itself (for markers reached through an alias). */
  readonly type: ts.Type | undefined;
  /** The type arguments as written, when the property names the marker directly. */
  readonly args: readonly ts.TypeNode[] | undefined;
}

/** How many type arguments each marker takes: payload (+ result) (+ options). */
const ARITY: Record<EventKind, { readonly min: number; readonly max: number }> = {
  broadcast: { min: 1, max: 2 },
  consume: { min: 1, max: 2 },
  map: { min: 2, max: 3 },
};

/** Lib and library types superjson carries as they are. */
const CARRIED_LEAVES = new Set([
  'Date',
  'RegExp',
  'URL',
  'Error',
  'EvalError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'TypeError',
  'URIError',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
]);

/** A hint for library types that do not cross, after the generic message. */
function hint(name: string, at: string): string {
  if (name === 'Buffer') return ': send a Uint8Array instead';
  if (name === 'Promise' || name === 'PromiseLike') {
    return at === 'result'
      ? ': declare the resolved type, a handler may return a promise of it'
      : ': send the resolved value instead';
  }
  return '';
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Primitive types whose values are plain JSON data: strings (literals, template literal
 * types and `Uppercase<string>`… included), numbers, booleans, enums, `null`. `number` counts
 * although NaN, the infinities and -0 are not plain: the run time checks every value.
 */
const PLAIN_PRIMITIVES =
  ts.TypeFlags.String |
  ts.TypeFlags.StringLiteral |
  ts.TypeFlags.TemplateLiteral |
  ts.TypeFlags.StringMapping |
  ts.TypeFlags.Number |
  ts.TypeFlags.NumberLiteral |
  ts.TypeFlags.Boolean |
  ts.TypeFlags.BooleanLiteral |
  ts.TypeFlags.Enum |
  ts.TypeFlags.EnumLiteral |
  ts.TypeFlags.Null;

/** Deepest nesting of a type the plain and the rich checks follow: deeper, a type is neither. */
const MAX_PLAIN_DEPTH = 64;

/**
 * Library objects of which no value is plain JSON data (the lib's interfaces, declared in a
 * `.d.ts` file): superjson records each of them. Their subclasses and subinterfaces count too.
 */
const RICH_OBJECTS = new Set([...CARRIED_LEAVES, 'Map', 'ReadonlyMap', 'Set', 'ReadonlySet']);

/**
 * Most object types {@link ProgramReader.isCertainlyRich} visits for one payload or result
 * type; beyond, the type is not certainly rich. Bounds the walk of generic types that expand
 * at every level.
 */
const MAX_RICH_STEPS = 10_000;

/** Whether a property is not written by either encoder: symbol-keyed (`__@…`) or an ES private field (`#…`). */
function isHiddenKey(name: string): boolean {
  return name.startsWith('__@') || name.startsWith('#');
}

/** Reads the contracts of one program. */
class ProgramReader {
  private readonly checker: ts.TypeChecker;
  private readonly markerModuleCache = new Map<string, boolean>();
  private readonly resolvedContractModule = new Map<string, string | undefined>();
  /**
   * Whether the program checks null and undefined strictly. Without `strictNullChecks` a
   * property typed `Date` may hold `null` or be left `undefined`, so no type is certainly rich.
   */
  private readonly strictNullChecks: boolean;

  constructor(
    private readonly program: ts.Program,
    private readonly options: ts.CompilerOptions,
  ) {
    this.checker = program.getTypeChecker();
    // `string | undefined` collapses to `string` when null and undefined are in every type.
    const string = this.checker.getStringType();
    this.strictNullChecks = this.checker.getNullableType(string, ts.TypeFlags.Undefined) !== string;
  }

  readContract(sf: ts.SourceFile): { model?: ContractModel; diagnostics: Diagnostic[] } {
    const file = path.resolve(sf.fileName);
    const ctx = new FileContext(sf, file);
    const syntax = this.program.getSyntacticDiagnostics(sf);
    if (syntax.length > 0) {
      for (const d of syntax) {
        const start = d.start ?? 0;
        ctx.report(
          Code.Syntax,
          `syntax error: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
          ctx.locAt(start),
        );
      }
      return { diagnostics: ctx.diagnostics };
    }

    const exportNames = this.exportNames(sf);
    const interfaces: InterfaceModel[] = [];
    const events: EventModel[] = [];
    const seen = new Map<string, SourceLocation>();
    for (const statement of sf.statements) {
      if (!ts.isInterfaceDeclaration(statement)) continue;
      const markers = statement.members.map((member) =>
        ts.isPropertySignature(member) && member.type !== undefined ? this.markerOf(member.type, sf) : undefined,
      );
      if (!markers.some((m) => m !== undefined)) continue;
      const interfaceName = statement.name.text;

      const symbol = this.checker.getSymbolAtLocation(statement.name);
      const exportName = symbol === undefined ? undefined : exportNames.get(symbol);
      if (exportName === undefined) {
        const isDefault = statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword) === true;
        ctx.report(
          Code.NotExported,
          isDefault
            ? `event interface ${interfaceName} is a default export: export it by name (export interface ${interfaceName})`
            : `event interface ${interfaceName} is not exported: the generated messenger imports it (export interface ${interfaceName})`,
          ctx.loc(statement.name),
        );
      } else if (!interfaces.some((i) => i.name === exportName)) {
        interfaces.push({ name: exportName, loc: ctx.loc(statement.name) });
      }
      const firstTypeParameter = statement.typeParameters?.[0];
      if (firstTypeParameter !== undefined) {
        ctx.report(
          Code.GenericInterface,
          `event interface ${interfaceName} has type parameters: an event interface must be a plain interface`,
          ctx.loc(firstTypeParameter),
        );
      }
      const heritage = statement.heritageClauses?.[0];
      if (heritage !== undefined) {
        ctx.report(
          Code.ExtendsInterface,
          `event interface ${interfaceName} extends ${heritage.types.map((t) => t.getText(sf)).join(', ')}: declare its events in the interface itself (a contract may export several event interfaces)`,
          ctx.loc(heritage),
        );
      }

      statement.members.forEach((member, index) => {
        const event = this.readMember(member, markers[index], interfaceName, exportName ?? interfaceName, seen, ctx);
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

  /** Reads one member of an event interface; `undefined` (and a diagnostic) when it is not a valid event. */
  private readMember(
    member: ts.TypeElement,
    marker: MarkerUse | undefined,
    declaredIn: string,
    interfaceName: string,
    seen: Map<string, SourceLocation>,
    ctx: FileContext,
  ): EventModel | undefined {
    if (ts.isIndexSignatureDeclaration(member)) {
      ctx.report(
        Code.EventName,
        `an index signature cannot declare events in event interface ${declaredIn}: name each event with a string literal`,
        ctx.loc(member),
      );
      return undefined;
    }
    const name = member.name === undefined ? undefined : this.eventName(member.name);
    const shown = name === undefined ? (member.name?.getText(ctx.sf) ?? member.getText(ctx.sf)) : `'${name}'`;
    if (!ts.isPropertySignature(member) || marker === undefined) {
      const what = ts.isPropertySignature(member)
        ? member.type === undefined
          ? 'has no type'
          : `has type ${shorten(member.type.getText(ctx.sf))}`
        : 'is not a property';
      ctx.report(
        Code.UnknownMarker,
        `${shown} in event interface ${declaredIn} ${what}: every property of an event interface must be a Broadcast, Consume or MapCall event`,
        ctx.loc(ts.isPropertySignature(member) && member.type !== undefined ? member.type : member),
      );
      return undefined;
    }
    if (name === undefined || name === '' || name === '__proto__') {
      ctx.report(
        Code.EventName,
        name === ''
          ? 'an event name must not be empty'
          : name === '__proto__'
            ? "'__proto__' cannot be an event name: it is not an own property of an object literal"
            : `event name ${shown} is not a string literal: write the name as a string literal ('a.b') or an identifier`,
        ctx.loc(member.name),
      );
      return undefined;
    }
    const loc = ctx.loc(member.name);
    const first = seen.get(name);
    if (first !== undefined) {
      ctx.report(
        Code.DuplicateEvent,
        `duplicate event '${name}': it is already declared at line ${first.line}, column ${first.col}`,
        loc,
      );
      return undefined;
    }
    seen.set(name, loc);
    if (member.questionToken !== undefined) {
      ctx.report(
        Code.OptionalEvent,
        `event '${name}' is optional: remove the '?', every declared event exists`,
        ctx.loc(member.questionToken),
      );
      return undefined;
    }
    const before = ctx.diagnostics.length;
    const parts = this.markerParts(marker, member, name, ctx);
    if (parts === undefined) {
      if (ctx.diagnostics.length === before) {
        ctx.report(
          Code.UnknownMarker,
          `event '${name}': cannot read the payload of its marker`,
          ctx.loc(member.type ?? member),
        );
      }
      return undefined;
    }
    this.checkCrossable(parts.payload.type, 'payload', parts.payload.node, name, ctx);
    if (parts.result !== undefined) this.checkCrossable(parts.result.type, 'result', parts.result.node, name, ctx);
    const options =
      parts.options === undefined
        ? []
        : this.readOptions(marker.kind, parts.options.type, parts.options.node, name, ctx);
    if (ctx.diagnostics.length > before) return undefined;
    return {
      name,
      kind: marker.kind,
      options,
      plainPayload: this.plainness(parts.payload.type, parts.payload.node),
      plainResult: parts.result === undefined ? 'unknown' : this.plainness(parts.result.type, parts.result.node),
      doc: readJsDoc(member, ctx.sf),
      interfaceName,
      loc,
    };
  }

  /** The name of an event property, or `undefined` when it is not a string literal or an identifier. */
  private eventName(name: ts.PropertyName): string | undefined {
    if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
    if (ts.isComputedPropertyName(name)) {
      const expression = name.expression;
      if (ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression)) return expression.text;
    }
    return undefined;
  }

  /** The payload, result and options of a marker, each with the node to point diagnostics at. */
  private markerParts(
    marker: MarkerUse,
    member: ts.PropertySignature,
    name: string,
    ctx: FileContext,
  ):
    | {
        payload: { type: ts.Type; node: ts.Node };
        result: { type: ts.Type; node: ts.Node } | undefined;
        options: { type: ts.Type; node: ts.Node } | undefined;
      }
    | undefined {
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
      const part = (node: ts.TypeNode | undefined): { type: ts.Type; node: ts.Node } | undefined =>
        node === undefined ? undefined : { type: this.checker.getTypeFromTypeNode(node), node };
      const payloadNode = args[0];
      if (payloadNode === undefined) return undefined;
      return {
        payload: { type: this.checker.getTypeFromTypeNode(payloadNode), node: payloadNode },
        result: marker.kind === 'map' ? part(args[1]) : undefined,
        options: part(args[marker.kind === 'map' ? 2 : 1]),
      };
    }
    const type = marker.type;
    if (type === undefined) return undefined;
    const property = (key: string): { type: ts.Type; node: ts.Node } | undefined => {
      const symbol = this.checker.getPropertyOfType(type, key);
      return symbol === undefined
        ? undefined
        : { type: this.checker.getTypeOfSymbolAtLocation(symbol, fallbackNode), node: fallbackNode };
    };
    const payload = property('payload');
    if (payload === undefined) return undefined;
    return { payload, result: marker.kind === 'map' ? property('result') : undefined, options: property('options') };
  }

  /** The marker a property's type names, if any. */
  private markerOf(typeNode: ts.TypeNode, sf: ts.SourceFile): MarkerUse | undefined {
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

  /** Checks the options of an event and returns them in canonical order. */
  private readOptions(kind: EventKind, type: ts.Type, node: ts.Node, event: string, ctx: FileContext): EventOption[] {
    const allowed: Readonly<Record<string, 'number' | 'boolean'>> = EVENT_OPTIONS[kind];
    const marker = MARKER_NAMES[kind];
    if (
      type.flags & ts.TypeFlags.Any ||
      !(type.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) ||
      this.checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0
    ) {
      ctx.report(
        Code.NonLiteralOption,
        `event '${event}': the options of a ${marker} must be an object type with literal properties, such as { timeoutMs: 5000 }, not ${this.checker.typeToString(type)}`,
        ctx.loc(node),
      );
      return [];
    }
    if (this.checker.getIndexInfosOfType(type).length > 0) {
      ctx.report(
        Code.NonLiteralOption,
        `event '${event}': the options of a ${marker} must not have an index signature`,
        ctx.loc(node),
      );
      return [];
    }
    const values = new Map<OptionName, number | boolean>();
    for (const property of this.checker.getPropertiesOfType(type)) {
      const name = property.getName();
      const where = ctx.locOfDeclaration(property, node);
      const expected = allowed[name];
      if (expected === undefined) {
        const names = Object.keys(allowed);
        const near = names.find((n) => n.toLowerCase() === name.toLowerCase());
        ctx.report(
          Code.UnknownOption,
          `event '${event}': unknown option '${name}' for a ${marker}${near === undefined ? '' : ` (did you mean '${near}'?)`}; its options are ${names.join(', ')}`,
          where,
        );
        continue;
      }
      if (property.flags & ts.SymbolFlags.Optional) {
        ctx.report(
          Code.NonLiteralOption,
          `event '${event}': option '${name}' must not be optional: give it a literal value or leave it out`,
          where,
        );
        continue;
      }
      const valueType = this.checker.getTypeOfSymbolAtLocation(property, node);
      const shown = this.checker.typeToString(valueType);
      const example = expected === 'number' ? '5000' : 'true';
      if (expected === 'number' && valueType.flags & ts.TypeFlags.NumberLiteral) {
        const value = (valueType as ts.NumberLiteralType).value;
        if (!Number.isSafeInteger(value) || value <= 0) {
          ctx.report(
            Code.OptionValue,
            `event '${event}': option '${name}' must be a positive integer, not ${shown}`,
            where,
          );
          continue;
        }
        values.set(name as OptionName, value);
        continue;
      }
      if (expected === 'boolean' && valueType.flags & ts.TypeFlags.BooleanLiteral) {
        values.set(name as OptionName, shown === 'true');
        continue;
      }
      const sameFamily =
        expected === 'number'
          ? this.isOnly(valueType, ts.TypeFlags.NumberLike)
          : this.isOnly(valueType, ts.TypeFlags.BooleanLike);
      if (sameFamily || valueType.flags & ts.TypeFlags.Any) {
        ctx.report(
          Code.NonLiteralOption,
          `event '${event}': option '${name}' must be a ${expected} literal such as ${example}, not ${shown}: the generator reads its value from the contract`,
          where,
        );
      } else {
        ctx.report(
          Code.OptionType,
          `event '${event}': option '${name}' must be a ${expected} literal such as ${example}, not ${shown}`,
          where,
        );
      }
    }
    return Object.keys(allowed).flatMap((name) => {
      const value = values.get(name as OptionName);
      return value === undefined ? [] : [{ name: name as OptionName, value }];
    });
  }

  /** Whether `type` (or every member of a union) has one of `flags`. */
  private isOnly(type: ts.Type, flags: ts.TypeFlags): boolean {
    if (type.isUnion()) return type.types.every((t) => this.isOnly(t, flags));
    return (type.flags & flags) !== 0;
  }

  /** What the generator knows of a payload or result type (see {@link Plainness}). */
  private plainness(type: ts.Type, node: ts.Node): Plainness {
    if (this.isPlainJson(type, node)) return 'plain';
    return this.isCertainlyRich(type, node) ? 'rich' : 'unknown';
  }

  /**
   * Whether every value of `type` is plain JSON data, as `encodePlain` (src/plain-json.ts)
   * accepts it: strings, numbers, booleans, `null`, their literal types and enums, unions of
   * plain types, arrays and tuples of plain types, and object types whose properties are all
   * required and plain, with string index signatures of plain types. Anything else is not
   * plain: `undefined`, `void`, `unknown`, `any`, `never`, `bigint`, `object`, `{}`, optional
   * properties or tuple elements, methods and accessors, classes, interfaces declared in
   * declaration files (the lib's `Date`, `Map`, `Set`, `RegExp`, `URL`, `Error`, typed
   * arrays…), number or symbol index signatures, type parameters, and recursive types (a type
   * met again while it is being visited). It is only a hint: the run time still checks each
   * value, so when in doubt the answer is `false`.
   */
  private isPlainJson(type: ts.Type, node: ts.Node): boolean {
    const visiting = new Set<ts.Type>();
    const plainMembers = (t: ts.Type, depth: number): boolean => {
      if (
        this.checker.getSignaturesOfType(t, ts.SignatureKind.Call).length > 0 ||
        this.checker.getSignaturesOfType(t, ts.SignatureKind.Construct).length > 0
      ) {
        return false;
      }
      const properties = this.checker.getPropertiesOfType(t);
      const indexInfos = this.checker.getIndexInfosOfType(t);
      // `{}` (or an empty interface) accepts any value but null and undefined.
      if (properties.length === 0 && indexInfos.length === 0) return false;
      for (const property of properties) {
        if (property.getName().startsWith('__@')) continue; // symbol-keyed: dropped by both encoders
        if (property.flags & (ts.SymbolFlags.Optional | ts.SymbolFlags.Method | ts.SymbolFlags.Accessor)) return false;
        if (!walk(this.checker.getTypeOfSymbolAtLocation(property, node), depth + 1)) return false;
      }
      return indexInfos.every((info) => info.keyType.flags & ts.TypeFlags.String && walk(info.type, depth + 1));
    };
    const walk = (t: ts.Type, depth: number): boolean => {
      if (t.isUnion()) return t.types.every((member) => walk(member, depth));
      if (t.flags & PLAIN_PRIMITIVES) return true;
      if (!(t.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection))) return false;
      if (depth > MAX_PLAIN_DEPTH || visiting.has(t)) return false;
      visiting.add(t);
      try {
        if (t.isIntersection()) {
          return (
            t.types.every((member) => member.flags & ts.TypeFlags.Object && walk(member, depth)) &&
            plainMembers(t, depth)
          );
        }
        if (this.checker.isTupleType(t)) {
          const flags = (t as ts.TupleTypeReference).target.elementFlags;
          if (flags.some((f) => f & (ts.ElementFlags.Optional | ts.ElementFlags.Variadic))) return false;
          const elements = this.checker.getTypeArguments(t as ts.TypeReference).slice(0, flags.length);
          return elements.every((element) => walk(element, depth + 1));
        }
        if (this.checker.isArrayType(t)) {
          const element = this.checker.getTypeArguments(t as ts.TypeReference)[0];
          return element !== undefined && walk(element, depth + 1);
        }
        const symbol = t.getSymbol();
        if (symbol !== undefined) {
          if (symbol.flags & ts.SymbolFlags.Class) return false;
          if (
            symbol.flags & ts.SymbolFlags.Interface &&
            (symbol.declarations ?? []).some((d) => d.getSourceFile().isDeclarationFile)
          ) {
            return false;
          }
        }
        return plainMembers(t, depth);
      } finally {
        visiting.delete(t);
      }
    };
    return walk(type, 0);
  }

  /**
   * Whether no value of `type` is plain JSON data, because every value holds one that JSON
   * cannot carry: `type` itself, a required property (followed through the required
   * properties of object types, class instances included) or an element at a required
   * position of a tuple is a `bigint` (or a bigint literal), or one of the library objects of
   * {@link RICH_OBJECTS} (`Date`, `Map`, `ReadonlyMap`, `Set`, `ReadonlySet`, `RegExp`, `URL`,
   * `Error`, typed arrays) or of their subclasses; or a required property is typed `undefined`
   * (superjson records it, JSON drops it). A union is rich when every member is; an
   * intersection when one member is, or when one of its properties is. Anything else is not
   * certainly rich: optional properties and tuple elements, arrays and index signatures
   * (they may be empty), `unknown`, `any`, `never`, `void`, type parameters, a branded
   * primitive (`string & { __brand: Date }`: the brand is a phantom), a type met again while
   * it is visited, and every type when the program does not check null strictly.
   */
  private isCertainlyRich(type: ts.Type, node: ts.Node): boolean {
    if (!this.strictNullChecks) return false;
    const visiting = new Set<ts.Type>();
    // Answers for object types, so that a type reached along many paths is walked once. A
    // `false` found while a cycle, the depth or the budget cut the walk short is not kept.
    const known = new Map<ts.Type, boolean>();
    let steps = 0;
    let cuts = 0;
    const richProperties = (t: ts.Type, depth: number): boolean => {
      for (const property of this.checker.getPropertiesOfType(t)) {
        if (isHiddenKey(property.getName())) continue; // neither encoder writes it
        // A method is a function; an accessor may live on a prototype.
        if (property.flags & (ts.SymbolFlags.Optional | ts.SymbolFlags.Method | ts.SymbolFlags.Accessor)) continue;
        if (walk(this.checker.getTypeOfSymbolAtLocation(property, node), depth + 1, true)) return true;
      }
      return false;
    };
    const walkObject = (t: ts.Type, depth: number): boolean => {
      if (t.isIntersection()) {
        // With a primitive member, the object members are brands no value carries.
        const branded = t.types.some((member) => !(member.flags & ts.TypeFlags.Object));
        return branded
          ? t.types.some((member) => !(member.flags & ts.TypeFlags.Object) && walk(member, depth, false))
          : t.types.some((member) => walk(member, depth, false)) || richProperties(t, depth);
      }
      if (this.isRichObject(t, 0)) return true;
      if (this.checker.isTupleType(t)) {
        const flags = (t as ts.TupleTypeReference).target.elementFlags;
        const elements = this.checker.getTypeArguments(t as ts.TypeReference).slice(0, flags.length);
        return elements.some(
          (element, i) => ((flags[i] ?? 0) & ts.ElementFlags.Required) !== 0 && walk(element, depth + 1, false),
        );
      }
      if (this.checker.isArrayType(t)) return false;
      if (
        this.checker.getSignaturesOfType(t, ts.SignatureKind.Call).length > 0 ||
        this.checker.getSignaturesOfType(t, ts.SignatureKind.Construct).length > 0
      ) {
        return false;
      }
      return richProperties(t, depth);
    };
    // `inProperty`: `t` is the type of a required property, where superjson records `undefined`.
    const walk = (t: ts.Type, depth: number, inProperty: boolean): boolean => {
      if (t.isUnion()) return t.types.every((member) => walk(member, depth, inProperty));
      if (t.flags & (ts.TypeFlags.BigInt | ts.TypeFlags.BigIntLiteral)) return true;
      if (t.flags & ts.TypeFlags.Undefined) return inProperty;
      if (!(t.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection))) return false;
      const answer = known.get(t);
      if (answer !== undefined) return answer;
      if (depth > MAX_PLAIN_DEPTH || visiting.has(t) || ++steps > MAX_RICH_STEPS) {
        cuts++;
        return false;
      }
      const cutsBefore = cuts;
      visiting.add(t);
      let rich: boolean;
      try {
        rich = walkObject(t, depth);
      } finally {
        visiting.delete(t);
      }
      if (rich || cuts === cutsBefore) known.set(t, rich);
      return rich;
    };
    return walk(type, 0, false);
  }

  /** Whether `type` is one of {@link RICH_OBJECTS}, or a class or interface that extends one. */
  private isRichObject(type: ts.Type, depth: number): boolean {
    if (depth > MAX_PLAIN_DEPTH || !(type.flags & ts.TypeFlags.Object)) return false;
    const symbol = type.getSymbol();
    if (
      symbol !== undefined &&
      RICH_OBJECTS.has(symbol.getName()) &&
      (symbol.declarations ?? []).some((d) => d.getSourceFile().isDeclarationFile)
    ) {
      return true;
    }
    const target =
      (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference ? (type as ts.TypeReference).target : type;
    if (!((target as ts.ObjectType).objectFlags & ts.ObjectFlags.ClassOrInterface)) return false;
    return (this.checker.getBaseTypes(target as ts.InterfaceType) ?? []).some((base) =>
      this.isRichObject(base, depth + 1),
    );
  }

  /** Reports every part of `type` that cannot cross a process boundary. */
  private checkCrossable(type: ts.Type, root: string, node: ts.Node, event: string, ctx: FileContext): void {
    const visited = new Set<ts.Type>();
    const report = (where: ts.Node, at: string, what: string, hint = ''): void => {
      ctx.report(
        Code.NotSerializable,
        `event '${event}': ${at} ${what}, which cannot cross a process boundary${hint}`,
        ctx.loc(where),
      );
    };
    const walk = (t: ts.Type, at: string, where: ts.Node, depth: number): void => {
      if (depth > 100) return;
      const f = t.flags;
      if (f & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) {
        report(where, at, 'is a symbol');
        return;
      }
      if (!(f & (ts.TypeFlags.Object | ts.TypeFlags.UnionOrIntersection))) return; // primitives, literals, any, unknown…
      if (visited.has(t)) return;
      visited.add(t);
      if (t.isUnionOrIntersection()) {
        for (const member of t.types) walk(member, at, where, depth + 1);
        return;
      }
      if (this.checker.getSignaturesOfType(t, ts.SignatureKind.Call).length > 0) {
        report(where, at, 'is a function');
        return;
      }
      if (this.checker.getSignaturesOfType(t, ts.SignatureKind.Construct).length > 0) {
        report(where, at, 'is a class or constructor');
        return;
      }
      if (this.checker.isTupleType(t)) {
        this.checker.getTypeArguments(t as ts.TypeReference).forEach((element, i) => {
          walk(element, `${at}[${i}]`, where, depth + 1);
        });
        return;
      }
      if (this.checker.isArrayType(t)) {
        const element = this.checker.getTypeArguments(t as ts.TypeReference)[0];
        if (element !== undefined) walk(element, `${at}[]`, where, depth + 1);
        return;
      }
      const symbol = t.getSymbol();
      const name = symbol?.getName() ?? '';
      const fromDeclarationFile = (symbol?.declarations ?? []).some((d) => d.getSourceFile().isDeclarationFile);
      if (fromDeclarationFile && CARRIED_LEAVES.has(name)) return;
      if (
        fromDeclarationFile &&
        (name === 'Map' || name === 'ReadonlyMap' || name === 'Set' || name === 'ReadonlySet')
      ) {
        const args = this.checker.getTypeArguments(t as ts.TypeReference);
        const labels = name.endsWith('Map') ? ['<key>', '<value>'] : ['<item>'];
        args.forEach((arg, i) => {
          walk(arg, `${at}${labels[i] ?? `<${i}>`}`, where, depth + 1);
        });
        return;
      }
      const properties = this.checker.getPropertiesOfType(t);
      const methods = properties
        .filter((p) => p.flags & (ts.SymbolFlags.Method | ts.SymbolFlags.GetAccessor | ts.SymbolFlags.SetAccessor))
        .map((p) => p.getName())
        .filter((n) => !n.startsWith('__@'));
      if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Class && methods.length > 0) {
        report(where, at, `is an instance of class ${name} with methods (${methods.slice(0, 3).join(', ')})`);
        return;
      }
      if (fromDeclarationFile && methods.length > 0 && !name.startsWith('__')) {
        report(where, at, `is a ${name}`, hint(name, at));
        return;
      }
      for (const property of properties) {
        const key = property.getName();
        if (key.startsWith('__@')) continue; // symbol-keyed: not serialised
        const declaration = property.valueDeclaration;
        const next = declaration !== undefined && declaration.getSourceFile() === ctx.sf ? declaration : where;
        const propertyType = this.checker.getTypeOfSymbolAtLocation(property, next);
        walk(propertyType, IDENTIFIER.test(key) ? `${at}.${key}` : `${at}[${JSON.stringify(key)}]`, next, depth + 1);
      }
      for (const info of this.checker.getIndexInfosOfType(t)) {
        const declaration = info.declaration;
        const next = declaration !== undefined && declaration.getSourceFile() === ctx.sf ? declaration : where;
        walk(info.type, `${at}[${this.checker.typeToString(info.keyType)}]`, next, depth + 1);
      }
    };
    walk(type, root, node, 0);
  }
}

/** The diagnostics and locations of one contract file. */
class FileContext {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly sf: ts.SourceFile,
    readonly file: string,
  ) {}

  report(code: DiagnosticCode, message: string, loc: SourceLocation): void {
    this.diagnostics.push(diagnostic(code, message, loc));
  }

  loc(node: ts.Node): SourceLocation {
    return this.locAt(node.getStart(this.sf));
  }

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

/**
 * The JSDoc of a node as lines without delimiters or leading `*`: the last `/** … *\/`
 * comment before it. Blank lines at both ends and trailing spaces are dropped.
 */
function readJsDoc(node: ts.Node, sf: ts.SourceFile): readonly string[] | undefined {
  const text = sf.getFullText();
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const last = [...ranges]
    .reverse()
    .find((r) => r.kind === ts.SyntaxKind.MultiLineCommentTrivia && text.startsWith('/**', r.pos) && r.end - r.pos > 4);
  if (last === undefined) return undefined;
  const body = text.slice(last.pos + 3, last.end - 2);
  const lines = body.split(/\r?\n/).map((line, i) => {
    if (i === 0) return line.trim();
    const star = /^\s*\* ?/.exec(line);
    return (star === null ? line.trimStart() : line.slice(star[0].length)).trimEnd();
  });
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.length === 0 ? undefined : lines;
}

/** Source text on one line, cut to a readable length for a message. */
function shorten(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= 80 ? flat : `${flat.slice(0, 77)}...`;
}
