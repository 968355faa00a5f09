/**
 * Taking a type apart into what the type walker can enter: a union's members, a tuple's
 * elements, an object's properties… Kept apart from the walk so that each type is asked of
 * the checker once per contract file, however many walks and verdicts meet it; a part is only
 * asked for when a verdict first needs it (a library object has many methods nobody walks).
 */
import ts from './typescript.cjs';

/** What the symbol of an object type says about it. */
export interface SymbolFacts {
  readonly name: string;
  readonly isClass: boolean;
  readonly isInterface: boolean;
  /** Declared in a `.d.ts` file: a library type (the lib's `Date`, `Map`…, or a package's). */
  readonly fromDeclarationFile: boolean;
}

/** A property of an object type. */
export interface PropertyPart {
  readonly name: string;
  readonly flags: ts.SymbolFlags;
  readonly declaration: ts.Declaration | undefined;
  /** Its type as declared (an optional property's holds `undefined`, unless `exactOptionalPropertyTypes` is on). */
  readonly type: ts.Type;
}

/** An index signature of an object type. */
export interface IndexPart {
  readonly keyType: ts.Type;
  readonly type: ts.Type;
  readonly declaration: ts.Declaration | undefined;
}

/** The members of an object type or an intersection, asked of the checker when first needed. */
export interface MembersPart {
  readonly callable: boolean;
  readonly constructable: boolean;
  readonly properties: readonly PropertyPart[];
  readonly indexes: readonly IndexPart[];
}

/** A union: its members are the same value as the union. */
export interface UnionNode {
  readonly kind: 'union';
  readonly type: ts.UnionType;
  readonly members: readonly ts.Type[];
}

/** An intersection: its members are the same value, and so are its members as a whole. */
export interface IntersectionNode {
  readonly kind: 'intersection';
  readonly type: ts.IntersectionType;
  readonly members: readonly ts.Type[];
  readonly body: MembersPart;
}

/** A tuple. */
export interface TupleNode {
  readonly kind: 'tuple';
  readonly type: ts.TupleTypeReference;
  /** One per element, each with its flags (optional, rest…) in `elementFlags`. */
  readonly elements: readonly ts.Type[];
  readonly elementFlags: readonly ts.ElementFlags[];
  /** Every type argument of the reference, as the checker gives them. */
  readonly typeArguments: readonly ts.Type[];
}

/** An array or a readonly array. */
export interface ArrayNode {
  readonly kind: 'array';
  readonly type: ts.TypeReference;
  readonly element: ts.Type | undefined;
}

/** Any other object type: interfaces, type literals, classes, mapped types, functions… */
export interface ObjectNode {
  readonly kind: 'object';
  readonly type: ts.ObjectType;
  readonly symbol: SymbolFacts | undefined;
  readonly body: MembersPart;
  /** The type arguments of a generic reference (`Map<K, V>`); empty for other object types. */
  readonly typeArguments: readonly ts.Type[];
}

/** A type the walk enters, taken apart. Types of other kinds (primitives, literals, `any`…) are leaves. */
export type TypeNode = UnionNode | IntersectionNode | TupleNode | ArrayNode | ObjectNode;

/** The parts of the types of one contract file, cached. */
export class TypeNodes {
  private readonly nodes = new Map<ts.Type, TypeNode | null>();

  /**
   * @param location any node of the contract that is not an expression: the checker then
   *   gives a property the type it is declared with (a property of a mapped type has no
   *   declaration of its own to ask at).
   */
  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly location: ts.Node,
  ) {}

  /** `type` taken apart, or `undefined` for a leaf (a type that is not an object, a union or an intersection). */
  node(type: ts.Type): TypeNode | undefined {
    let node = this.nodes.get(type);
    if (node === undefined) {
      node = this.classify(type) ?? null;
      this.nodes.set(type, node);
    }
    return node ?? undefined;
  }

  /** What the symbol of `type` says about it; `undefined` for a type without one (an anonymous union…). */
  symbolFacts(type: ts.Type): SymbolFacts | undefined {
    const symbol = type.getSymbol();
    if (symbol === undefined) return undefined;
    return {
      name: symbol.getName(),
      isClass: (symbol.flags & ts.SymbolFlags.Class) !== 0,
      isInterface: (symbol.flags & ts.SymbolFlags.Interface) !== 0,
      fromDeclarationFile: (symbol.declarations ?? []).some((d) => d.getSourceFile().isDeclarationFile),
    };
  }

  private classify(type: ts.Type): TypeNode | undefined {
    if (type.isUnion()) return { kind: 'union', type, members: type.types };
    if (type.isIntersection()) return { kind: 'intersection', type, members: type.types, body: this.members(type) };
    if (!(type.flags & ts.TypeFlags.Object)) return undefined;
    const checker = this.checker;
    if (checker.isTupleType(type)) {
      const tuple = type as ts.TupleTypeReference;
      const elementFlags = tuple.target.elementFlags;
      const typeArguments = checker.getTypeArguments(tuple);
      return {
        kind: 'tuple',
        type: tuple,
        elements: typeArguments.slice(0, elementFlags.length),
        elementFlags,
        typeArguments,
      };
    }
    if (checker.isArrayType(type)) {
      return {
        kind: 'array',
        type: type as ts.TypeReference,
        element: checker.getTypeArguments(type as ts.TypeReference)[0],
      };
    }
    const object = type as ts.ObjectType;
    return {
      kind: 'object',
      type: object,
      symbol: this.symbolFacts(type),
      body: this.members(type),
      typeArguments:
        object.objectFlags & ts.ObjectFlags.Reference ? checker.getTypeArguments(type as ts.TypeReference) : [],
    };
  }

  /** The members of `type`, each list asked of the checker when a verdict first needs it. */
  private members(type: ts.Type): MembersPart {
    return new Members(this.checker, this.location, type);
  }
}

/** The members of a type, each list asked of the checker when a verdict first needs it. */
class Members implements MembersPart {
  private callableCache: boolean | undefined;
  private constructableCache: boolean | undefined;
  private propertiesCache: PropertyPart[] | undefined;
  private indexesCache: IndexPart[] | undefined;

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly location: ts.Node,
    private readonly type: ts.Type,
  ) {}

  get callable(): boolean {
    return (this.callableCache ??= this.checker.getSignaturesOfType(this.type, ts.SignatureKind.Call).length > 0);
  }

  get constructable(): boolean {
    return (this.constructableCache ??=
      this.checker.getSignaturesOfType(this.type, ts.SignatureKind.Construct).length > 0);
  }

  get properties(): readonly PropertyPart[] {
    return (this.propertiesCache ??= this.checker
      .getPropertiesOfType(this.type)
      .map((symbol) => new Property(this.checker, this.location, symbol)));
  }

  get indexes(): readonly IndexPart[] {
    return (this.indexesCache ??= this.checker
      .getIndexInfosOfType(this.type)
      .map((info) => ({ keyType: info.keyType, type: info.type, declaration: info.declaration })));
  }
}

/** A property; its type is asked only of the properties a verdict follows (the lib's objects have many methods). */
class Property implements PropertyPart {
  readonly name: string;
  readonly flags: ts.SymbolFlags;
  readonly declaration: ts.Declaration | undefined;
  private typeCache: ts.Type | undefined;

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly location: ts.Node,
    private readonly symbol: ts.Symbol,
  ) {
    this.name = symbol.getName();
    this.flags = symbol.flags;
    this.declaration = symbol.valueDeclaration;
  }

  get type(): ts.Type {
    return (this.typeCache ??= this.checker.getTypeOfSymbolAtLocation(this.symbol, this.location));
  }
}
