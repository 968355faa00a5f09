/**
 * Whether a payload or result type can cross a process boundary (CBG007): a visitor of the
 * type walker that reports every part that would not arrive as it was sent. Checked at
 * generation time so that a contract which could never work fails where it is written, not
 * at its first send; the run time still checks each value (src/codec/sendable.ts), and the
 * two agree: what this check refuses, the sender refuses or superjson would drop or change.
 *
 * What crosses is what superjson rebuilds: primitives, plain objects and arrays, and the
 * library objects of library.ts. The class of an object does not cross (the sender refuses
 * an instance of any other class), and of a library object only what superjson writes of it
 * arrives: an Error's name, message and cause, a Date's time, a Map's entries…, so a type
 * that extends one with fields of its own is refused too.
 */
import ts from './typescript.cjs';
import { Code } from '../diagnostics.js';
import type { FileContext } from './file-context.js';
import { CARRIED_COLLECTIONS, CARRIED_ERRORS, CARRIED_LEAVES } from './library.js';
import { checksNullStrictly, PlainnessCheck } from './plainness.js';
import type { MembersPart, ObjectNode, PropertyPart } from './type-nodes.js';
import type { Descend, TypeVisitor, TypeWalker } from './type-walker.js';

/** Where a part of the type is: its path for the message and the node to point at. */
interface Place {
  /** `payload.a.b`, `result[0]`, `payload.byId<value>`… */
  readonly at: string;
  /** The innermost property declared in the contract file on the way, else the type argument. */
  readonly where: ts.Node;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const ACCESSOR_OR_METHOD = ts.SymbolFlags.Method | ts.SymbolFlags.GetAccessor | ts.SymbolFlags.SetAccessor;

/** The library objects superjson carries (library.ts). */
const CARRIED: ReadonlySet<string> = new Set([...CARRIED_LEAVES, ...CARRIED_COLLECTIONS]);

/** Node's Buffer: a Uint8Array to the type checker, but not to superjson. */
const BUFFER: ReadonlySet<string> = new Set(['Buffer']);
const ARRAYS: ReadonlySet<string> = new Set(['Array', 'ReadonlyArray']);

/** Whether a member is declared by the lib's `Array` or `ReadonlyArray` (not by an interface extending it). */
function isArrayMember(declaration: ts.Declaration | undefined): boolean {
  const owner = declaration?.parent;
  return (
    owner !== undefined &&
    ts.isInterfaceDeclaration(owner) &&
    ARRAYS.has(owner.name.text) &&
    owner.getSourceFile().isDeclarationFile
  );
}

/** The properties of an Error that are not fields of a subclass: what arrives of it, and its stack. */
const ERROR_PROPERTIES: ReadonlySet<string> = new Set(['name', 'message', 'stack', 'cause']);

/** Primitive types: an intersection with one is a branded primitive, whose object members are phantoms. */
const PRIMITIVE =
  ts.TypeFlags.StringLike |
  ts.TypeFlags.NumberLike |
  ts.TypeFlags.BigIntLike |
  ts.TypeFlags.BooleanLike |
  ts.TypeFlags.EnumLike |
  ts.TypeFlags.ESSymbolLike;

/** What a Buffer becomes, and what to send instead (src/codec/sendable.ts refuses it the same way). */
const BUFFER_PROBLEM =
  'is a Buffer, which cannot arrive as one (superjson writes it as a typed array that no receiver can decode, ' +
  'so the sender refuses it with a BadPayloadError): declare and send a Uint8Array (new Uint8Array(buf))';

/** A hint for library types that do not cross, after the generic message. */
function hint(name: string, at: string): string {
  switch (name) {
    case 'Promise':
    case 'PromiseLike':
      return at === 'result'
        ? ': declare the resolved type, a handler may return a promise of it'
        : ': send the resolved value instead';
    case 'ArrayBuffer':
    case 'SharedArrayBuffer':
      return ': declare and send a Uint8Array (new Uint8Array(buffer))';
    case 'DataView':
      return ': declare and send a Uint8Array (new Uint8Array(view.buffer, view.byteOffset, view.byteLength))';
    case 'BigInt64Array':
    case 'BigUint64Array':
      return ': of the typed arrays only Int8Array … Float64Array cross; send a bigint[]';
    case 'Float16Array':
      return ': of the typed arrays only Int8Array … Float64Array cross; send a Float32Array';
    default:
      return '';
  }
}

/** `a Date`, `an Error`. */
function article(name: string): string {
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** The first names of a list, for a message. */
function list(names: readonly string[], max = 4): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, …`;
}

/** What arrives of a library object superjson carries (not an Error: see {@link CrossableCheck}). */
function whatArrives(name: string): string {
  switch (name) {
    case 'Date':
      return 'only its time arrives';
    case 'RegExp':
      return 'only its source and flags arrive';
    case 'URL':
      return 'only its href arrives';
    case 'Map':
    case 'ReadonlyMap':
      return 'only its entries arrive';
    default:
      return 'only its items arrive'; // a Set or a typed array
  }
}

/** A property's name as a message shows it, and whether it is there at run time. */
interface Key {
  /** `status`, or `[tag]` for a symbol key. */
  readonly label: string;
  readonly symbolKeyed: boolean;
  /**
   * A symbol key that no value can have: a `declare const brand: unique symbol` (a brand of
   * the type checker's, which no code creates).
   */
  readonly phantom: boolean;
}

/** The own members of a type that extends a library object: what would not arrive. */
interface OwnMembers {
  /** Fields and accessors. */
  readonly fields: readonly string[];
  readonly methods: readonly string[];
}

/** Checks that the payload and result types of one contract file can cross a process boundary. */
export class CrossableCheck {
  private plainness: PlainnessCheck | undefined;

  constructor(
    private readonly walker: TypeWalker,
    private readonly checker: ts.TypeChecker,
    private readonly ctx: FileContext,
  ) {}

  /**
   * Reports every part of `type` (the `root` of event `event`, written at `node`) that
   * cannot cross a process boundary. Each type is looked at once: a type met again (shared
   * or recursive) was or is being reported where it was first met.
   */
  check(type: ts.Type, root: 'payload' | 'result', node: ts.Node, event: string): void {
    const report = ({ at, where }: Place, problem: string): void => {
      this.ctx.report(Code.NotSerializable, `event '${event}': ${at} ${problem}`, this.ctx.loc(where));
    };
    const cannotCross = (place: Place, what: string, extra = ''): void => {
      report(place, `${what}, which cannot cross a process boundary${extra}`);
    };
    /** `constructor` and `prototype` keys: superjson refuses them, JSON does not (see below). */
    const specialKeys: [Place, string][] = [];
    const walk: Walk = { report, cannotCross, specialKeys };
    const visitor: TypeVisitor<void, Place> = {
      leaf(leaf, place) {
        if (leaf.flags & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) cannotCross(place, 'is a symbol');
        // Other primitives, literals, `any`, `unknown`… all cross.
      },
      cut: undefined,
      // A type is reported once, from the first path that meets it.
      keepsAfterCut: () => true,
      visit: (node, place, descend) => {
        const { at, where } = place;
        switch (node.kind) {
          case 'union':
            for (const member of node.members) descend.member(member, place);
            return;
          case 'intersection':
            this.visitIntersection(node.type, node.members, node.body, place, descend, walk);
            return;
          case 'tuple':
            node.typeArguments.forEach((element, i) => {
              descend.nested(element, { at: `${at}[${i}]`, where });
            });
            return;
          case 'array':
            if (node.element !== undefined) descend.nested(node.element, { at: `${at}[]`, where });
            return;
          case 'object':
            this.visitObject(node, place, descend, walk);
        }
      },
    };
    this.walker.walk(type, { at: root, where: node }, visitor);
    // A value with a `constructor` or `prototype` key crosses as plain JSON data (JSON writes
    // the key), and is refused by the sender when it needs superjson (which refuses the key):
    // only a type whose every value is plain JSON data may have one.
    if (specialKeys.length > 0 && this.plainnessOf(type) !== 'plain') {
      for (const [place, key] of specialKeys) {
        report(
          place,
          `is a "${key}" key, which superjson refuses: only plain JSON data may have one, and not every ${root} ` +
            `of this type is (the sender refuses those that are not); rename it`,
        );
      }
    }
  }

  private plainnessOf(type: ts.Type): ReturnType<PlainnessCheck['of']> {
    this.plainness ??= new PlainnessCheck(this.walker, checksNullStrictly(this.checker));
    return this.plainness.of(type);
  }

  /** An object type: refused, walked as a library object superjson carries, or walked property by property. */
  private visitObject(node: ObjectNode, place: Place, descend: Descend<void, Place>, walk: Walk): void {
    const { body, symbol } = node;
    if (body.callable) return walk.cannotCross(place, 'is a function');
    if (body.constructable) return walk.cannotCross(place, 'is a class or constructor');
    if (symbol === undefined) return this.descendMembers(body, place, descend, walk);
    // A library object superjson carries is judged by its name: its members are the lib's.
    if (symbol.fromDeclarationFile && CARRIED.has(symbol.name)) return this.descendCarried(node, place, descend);
    if (this.walker.isOrExtends(node.type, BUFFER)) return walk.report(place, BUFFER_PROBLEM);
    // An interface that extends Array is an array, the way recursive array types were written
    // before type aliases could refer to themselves (superjson's own
    // `interface JSONArray extends Array<JSONValue> {}`): its elements cross, and fields of its
    // own would not (an array arrives as its elements).
    if (!symbol.isClass && this.walker.isOrExtends(node.type, ARRAYS)) {
      const own = body.properties
        .filter((p) => !(p.flags & ACCESSOR_OR_METHOD) && !p.name.startsWith('__@'))
        .filter((p) => !isArrayMember(p.declaration))
        .map((p) => p.name);
      if (own.length > 0) {
        return walk.report(
          place,
          `is ${article(symbol.name)}, an array with fields of its own (${list(own, 3)}), which do not arrive: ` +
            `an array crosses as its elements; send an object with the array in one field and the others beside it`,
        );
      }
      const element = this.checker.getIndexTypeOfType(node.type, ts.IndexKind.Number);
      if (element !== undefined) descend.nested(element, { at: `${place.at}[]`, where: place.where });
      return;
    }
    const base = this.walker.libraryBase(node.type, CARRIED);
    if (base !== undefined) {
      const problem = this.extensionProblem(node.type, base, body, symbol.isClass ? symbol.name : undefined);
      if (problem !== undefined) return walk.report(place, problem);
      // No member of its own: it arrives as the library object it extends.
      if (!CARRIED_ERRORS.has(this.nameOf(base))) descend.member(base, place);
      return;
    }
    const methods = body.properties
      .filter((p) => p.flags & ACCESSOR_OR_METHOD)
      .map((p) => p.name)
      .filter((n) => !n.startsWith('__@'));
    if (symbol.isClass) {
      const fields = body.properties
        .filter((p) => !(p.flags & ACCESSOR_OR_METHOD) && !p.name.startsWith('__@') && !p.name.startsWith('#'))
        .map((p) => p.name);
      const instead =
        fields.length === 0
          ? 'send a plain object'
          : `declare its fields in an interface and send a plain object ({ ${list(fields)} })`;
      if (methods.length > 0) {
        return walk.cannotCross(
          place,
          `is an instance of class ${symbol.name} with methods (${list(methods, 3)})`,
          `: ${instead}`,
        );
      }
      return walk.report(
        place,
        `is an instance of class ${symbol.name}, which the sender refuses (the class of an object does not cross, ` +
          `only plain objects and the library objects superjson rebuilds do): ${instead}`,
      );
    }
    if (methods.length > 0 && symbol.fromDeclarationFile && !symbol.name.startsWith('__')) {
      return walk.cannotCross(place, `is ${article(symbol.name)}`, hint(symbol.name, place.at));
    }
    this.descendMembers(body, place, descend, walk);
  }

  /**
   * An intersection. With a primitive member it is a branded primitive (`string & { [brand]: 'Id' }`):
   * the object members are phantoms that no value carries, so only the primitive is looked at.
   * With a library object superjson carries and properties of its own (`Error & { status: number }`),
   * the properties would not arrive.
   */
  private visitIntersection(
    type: ts.Type,
    members: readonly ts.Type[],
    body: MembersPart,
    place: Place,
    descend: Descend<void, Place>,
    walk: Walk,
  ): void {
    if (members.some((member) => member.flags & PRIMITIVE)) {
      for (const member of members) if (member.flags & PRIMITIVE) descend.member(member, place);
      return;
    }
    for (const member of members) {
      const base = this.walker.libraryBase(member, CARRIED);
      if (base === undefined) continue;
      const problem = this.extensionProblem(type, base, body, undefined);
      if (problem !== undefined) return walk.report(place, problem);
    }
    for (const member of members) descend.member(member, place);
  }

  /**
   * Why `type`, which is or extends the library object `base` superjson carries, would not
   * arrive as sent; `undefined` when it arrives as `base` does. `className` is set for a class.
   * An Error subclass without members of its own arrives as an Error (same name, message and
   * cause); a subclass of anything else is refused by the sender; an interface or intersection
   * with fields or methods beyond the library object's would lose them.
   */
  private extensionProblem(
    type: ts.Type,
    base: ts.Type,
    body: MembersPart,
    className: string | undefined,
  ): string | undefined {
    const baseName = this.nameOf(base);
    const isError = CARRIED_ERRORS.has(baseName);
    if (className !== undefined && !isError) {
      return (
        `is an instance of class ${className}, a subclass of ${baseName}, which the sender refuses ` +
        `(only ${article(baseName)} itself crosses, not its subclasses): declare and send ${article(baseName)}`
      );
    }
    const { fields, methods } = this.ownMembers(body, base, isError);
    const shown = this.checker.typeToString(type);
    if (isError) {
      const kind = className !== undefined ? 'an Error subclass' : 'an Error';
      if (fields.length > 0) {
        return (
          `is ${shown}, ${kind} with its own fields (${list(fields)}): only an Error's name, message and cause ` +
          `arrive (as a plain Error); send a plain object ({ name, message, ${list(fields)} })`
        );
      }
      if (methods.length > 0) {
        return (
          `is ${shown}, ${kind} with methods (${list(methods, 3)}): it arrives as a plain Error with only its ` +
          `name, message and cause; declare it Error, or send a plain object`
        );
      }
      return undefined;
    }
    if (fields.length === 0 && methods.length === 0) return undefined;
    const own = fields.length > 0 ? `fields (${list(fields)})` : `methods (${list(methods, 3)})`;
    return (
      `is ${shown}, ${article(baseName)} with its own ${own}: ${whatArrives(baseName)} (as a plain ${baseName}); ` +
      `send a plain object that holds the ${baseName} and them`
    );
  }

  /** The members of `body` that the library object `base` does not have, phantom brands left out. */
  private ownMembers(body: MembersPart, base: ts.Type, isError: boolean): OwnMembers {
    const inherited = new Set(this.checker.getPropertiesOfType(base).map((p) => p.getName()));
    if (isError) for (const name of ERROR_PROPERTIES) inherited.add(name);
    const fields: string[] = [];
    const methods: string[] = [];
    for (const property of body.properties) {
      if (inherited.has(property.name)) continue;
      const key = this.keyOf(property);
      if (key.phantom) continue;
      (property.flags & ts.SymbolFlags.Method ? methods : fields).push(key.label);
    }
    return { fields, methods };
  }

  /** The name of a library object's type. */
  private nameOf(type: ts.Type): string {
    return type.getSymbol()?.getName() ?? this.checker.typeToString(type);
  }

  /** How a property's key is shown, and whether it is keyed by a symbol (a phantom one or not). */
  private keyOf(property: PropertyPart): Key {
    if (!property.name.startsWith('__@')) return { label: property.name, symbolKeyed: false, phantom: false };
    const name = property.declaration === undefined ? undefined : ts.getNameOfDeclaration(property.declaration);
    if (name === undefined || !ts.isComputedPropertyName(name)) {
      return { label: '[symbol]', symbolKeyed: true, phantom: false };
    }
    let symbol = this.checker.getSymbolAtLocation(name.expression);
    if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    const declaration = symbol?.valueDeclaration;
    const phantom =
      declaration !== undefined &&
      ts.isVariableDeclaration(declaration) &&
      declaration.initializer === undefined &&
      (declaration.getSourceFile().isDeclarationFile ||
        (ts.getCombinedModifierFlags(declaration) & ts.ModifierFlags.Ambient) !== 0);
    return { label: `[${name.expression.getText()}]`, symbolKeyed: true, phantom };
  }

  /** Whether a value of `type` may be an object with a `prototype` property (what `decode`'s guard refuses under `constructor`). */
  private holdsPrototype(type: ts.Type): boolean {
    const members = type.isUnion() ? type.types : [type];
    return members.some(
      (member) =>
        (member.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) !== 0 &&
        this.checker.getPropertyOfType(member, 'prototype') !== undefined,
    );
  }

  /** Walks what a library object superjson carries holds: a collection's contents, nothing of a leaf. */
  private descendCarried(node: ObjectNode, { at, where }: Place, descend: Descend<void, Place>): void {
    if (node.symbol === undefined || !CARRIED_COLLECTIONS.has(node.symbol.name)) return;
    const labels = node.symbol.name.endsWith('Map') ? ['<key>', '<value>'] : ['<item>'];
    node.typeArguments.forEach((arg, i) => {
      descend.nested(arg, { at: `${at}${labels[i] ?? `<${i}>`}`, where });
    });
  }

  /** Walks the properties and index signatures of an object that crosses as a plain object. */
  private descendMembers(body: MembersPart, { at, where }: Place, descend: Descend<void, Place>, walk: Walk): void {
    for (const property of body.properties) {
      const key = this.keyOf(property);
      const place: Place = {
        at: key.symbolKeyed
          ? `${at}${key.label}`
          : IDENTIFIER.test(key.label) && key.label !== '__proto__'
            ? `${at}.${key.label}`
            : `${at}[${JSON.stringify(key.label)}]`,
        where: this.ctx.inThisFile(property.declaration, where),
      };
      if (key.symbolKeyed) {
        if (!key.phantom) {
          walk.report(
            place,
            'is keyed by a symbol, which does not arrive (neither JSON nor superjson writes it): give it a string key',
          );
        }
        continue;
      }
      if (key.label === '__proto__') {
        walk.report(place, 'is an own "__proto__" property, which every receiver refuses: rename it');
        continue;
      }
      if (key.label === 'constructor' && this.holdsPrototype(property.type)) {
        walk.report(
          place,
          'is a "constructor" key holding an object with a "prototype" key, which every receiver refuses: rename it',
        );
        continue;
      }
      if (key.label === 'constructor' || key.label === 'prototype') walk.specialKeys.push([place, key.label]);
      descend.nested(property.type, place);
    }
    for (const index of body.indexes) {
      const place: Place = {
        at: `${at}[${this.checker.typeToString(index.keyType)}]`,
        where: this.ctx.inThisFile(index.declaration, where),
      };
      if (index.keyType.flags & ts.TypeFlags.ESSymbolLike) {
        walk.report(
          place,
          'is an index signature with symbol keys, which do not arrive (neither JSON nor superjson writes them): ' +
            'use string keys',
        );
        continue;
      }
      descend.nested(index.type, place);
    }
  }
}

/** How one check reports, and what it collects for after its walk. */
interface Walk {
  report(place: Place, problem: string): void;
  cannotCross(place: Place, what: string, extra?: string): void;
  readonly specialKeys: [Place, string][];
}
