/**
 * The one walk over the structure of a payload or result type. Both verdicts on such a type,
 * whether it can cross a process boundary (crossable.ts) and whether its values are plain
 * JSON data (plainness.ts), follow the same parts of it; doing so in one place gives them one
 * depth limit, one cycle guard and one budget, and lets a type's parts be asked of the
 * checker once per contract file instead of once per verdict and event.
 */
import ts from './typescript.cjs';
import { TypeNodes, type TypeNode } from './type-nodes.js';

/**
 * Deepest nesting of values the walk follows: a type nested deeper is not entered (it is
 * "cut"). As deep as the run time's codecs go (src/codec/plain-json.ts and rich-json.ts give a
 * value nested 64 levels deep to superjson), so the verdicts need not look further; it also
 * ends the walk of generic types that expand into a new type at every level.
 */
export const MAX_TYPE_DEPTH = 64;

/** Most types one walk enters; beyond, every type is cut. Bounds generic types that expand at every level into several new ones. */
export const MAX_TYPE_STEPS = 10_000;

/** How a visitor walks the parts of a type it was given. */
export interface Descend<V, C> {
  /** Walks a member of a union or intersection: the same value, at the same depth. */
  member(type: ts.Type, context: C): V;
  /** Walks a value one level deeper: a property, a tuple or array element, an index signature's or a Map's or Set's content. */
  nested(type: ts.Type, context: C): V;
}

/**
 * A verdict computed over a type's structure. `V` is the verdict, `C` what a part is told by
 * the type it belongs to (the path of a diagnostic, for instance).
 */
export interface TypeVisitor<V, C> {
  /** The verdict for a type that is not an object, a union or an intersection. */
  leaf(type: ts.Type, context: C): V;
  /** The verdict for a type the walk does not enter: one met again inside itself, nested too deep, or past the budget. */
  readonly cut: V;
  /**
   * Whether a verdict reached while some part of the type was cut still holds wherever the
   * type is met again in the walk. When it does not, the type is walked again there; else
   * (and whenever nothing was cut) the first verdict stands and the type is walked once.
   */
  keepsAfterCut(verdict: V): boolean;
  /** The verdict for a type the walk enters; its parts are walked through `descend`. */
  visit(node: TypeNode, context: C, descend: Descend<V, C>): V;
}

/** Walks the types of one contract file. */
export class TypeWalker {
  private readonly nodes: TypeNodes;

  /** @param location any node of the contract that is not an expression (see {@link TypeNodes}). */
  constructor(
    private readonly checker: ts.TypeChecker,
    location: ts.Node,
  ) {
    this.nodes = new TypeNodes(checker, location);
  }

  /**
   * Walks `root` depth first, parts in the order the visitor asks for them, and returns its
   * verdict. Each type is entered at most once (see {@link TypeVisitor.keepsAfterCut}); a
   * union counts no level of nesting (its members are the same value) and is never cut for
   * depth, its object members are.
   */
  walk<V, C>(root: ts.Type, context: C, visitor: TypeVisitor<V, C>): V {
    return new Walk(this, visitor).enter(root, context, 0);
  }

  /**
   * Whether `type` is one of the library classes or interfaces `names` (declared in a `.d.ts`
   * file), or a class or interface that extends one, through at most {@link MAX_TYPE_DEPTH}
   * levels of base types.
   */
  isOrExtends(type: ts.Type, names: ReadonlySet<string>): boolean {
    return this.libraryBase(type, names) !== undefined;
  }

  /**
   * The library class or interface among `names` that `type` is or extends (see
   * {@link isOrExtends}), the nearest first; `undefined` if none. The base of a generic class
   * or interface comes in terms of its own type parameters: `Map<string, V>` for any
   * `Registry<…>` of `interface Registry<V> extends Map<string, V>`.
   */
  libraryBase(type: ts.Type, names: ReadonlySet<string>, depth = 0): ts.Type | undefined {
    if (depth > MAX_TYPE_DEPTH || !(type.flags & ts.TypeFlags.Object)) return undefined;
    const symbol = this.nodes.symbolFacts(type);
    if (symbol !== undefined && names.has(symbol.name) && symbol.fromDeclarationFile) return type;
    const target =
      (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference ? (type as ts.TypeReference).target : type;
    if (!((target as ts.ObjectType).objectFlags & ts.ObjectFlags.ClassOrInterface)) return undefined;
    for (const base of this.checker.getBaseTypes(target as ts.InterfaceType) ?? []) {
      const found = this.libraryBase(base, names, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** `type` taken apart, or `undefined` for a leaf. */
  node(type: ts.Type): TypeNode | undefined {
    return this.nodes.node(type);
  }
}

/** One walk: the state of its cycle guard, its memo and its budget. */
class Walk<V, C> implements Descend<V, C> {
  private readonly onPath = new Set<ts.Type>();
  private readonly done = new Map<ts.Type, V>();
  private steps = 0;
  private cuts = 0;
  /** The depth of the type being visited, for the parts it walks. */
  private depth = 0;

  constructor(
    private readonly walker: TypeWalker,
    private readonly visitor: TypeVisitor<V, C>,
  ) {}

  member(type: ts.Type, context: C): V {
    return this.enter(type, context, this.depth);
  }

  nested(type: ts.Type, context: C): V {
    return this.enter(type, context, this.depth + 1);
  }

  enter(type: ts.Type, context: C, depth: number): V {
    const { visitor, done, onPath } = this;
    const node = this.walker.node(type);
    if (node === undefined) return visitor.leaf(type, context);
    if (done.has(type)) return done.get(type) as V;
    if (onPath.has(type) || (node.kind !== 'union' && (depth > MAX_TYPE_DEPTH || ++this.steps > MAX_TYPE_STEPS))) {
      this.cuts++;
      return visitor.cut;
    }
    const cutsBefore = this.cuts;
    const outer = this.depth;
    onPath.add(type);
    this.depth = depth;
    let verdict: V;
    try {
      verdict = visitor.visit(node, context, this);
    } finally {
      onPath.delete(type);
      this.depth = outer;
    }
    if (this.cuts === cutsBefore || visitor.keepsAfterCut(verdict)) done.set(type, verdict);
    return verdict;
  }
}
