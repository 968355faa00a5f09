/**
 * The plain-data hint of a payload or result type (model.ts {@link Plainness}): it lets the
 * run time skip a check it would lose (a type that is always plain JSON data goes to
 * `JSON.stringify`) or one that cannot succeed (a type that never is goes to superjson). It is
 * only a hint, the run time still checks every value, so when in doubt the answer is
 * `'unknown'`. Two visitors of the type walker: one for "plain", one for "certainly rich".
 */
import ts from './typescript.cjs';
import type { Plainness } from '../model.js';
import { CARRIED_COLLECTIONS, CARRIED_LEAVES } from './library.js';
import type { MembersPart } from './type-nodes.js';
import type { Descend, TypeVisitor, TypeWalker } from './type-walker.js';

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

/**
 * Library objects of which no value is plain JSON data (the lib's interfaces, declared in a
 * `.d.ts` file): superjson records each of them. Their subclasses and subinterfaces count too.
 */
const RICH_OBJECTS: ReadonlySet<string> = new Set([...CARRIED_LEAVES, ...CARRIED_COLLECTIONS]);

/** A method is a function and an accessor may live on a prototype: neither is a plain property. */
const NOT_DATA = ts.SymbolFlags.Optional | ts.SymbolFlags.Method | ts.SymbolFlags.Accessor;

/** Whether a property is not written by either encoder: symbol-keyed (`__@…`) or an ES private field (`#…`). */
function isHiddenKey(name: string): boolean {
  return name.startsWith('__@') || name.startsWith('#');
}

/**
 * Whether every value of a type is plain JSON data, as `encodePlain` (src/codec/plain-json.ts)
 * accepts it: strings, numbers, booleans, `null`, their literal types and enums, unions of
 * plain types, arrays and tuples of plain types, and object types whose properties are all
 * required and plain, with string index signatures of plain types. Anything else is not
 * plain: `undefined`, `void`, `unknown`, `any`, `never`, `bigint`, `object`, `{}`, optional
 * properties or tuple elements, methods and accessors, classes, interfaces declared in
 * declaration files (the lib's `Date`, `Map`, `Set`, `RegExp`, `URL`, `Error`, typed
 * arrays…), number or symbol index signatures, type parameters, recursive types (a type met
 * again inside itself is cut) and types nested deeper than the walker follows.
 */
const PLAIN: TypeVisitor<boolean, undefined> = {
  leaf: (type) => (type.flags & PLAIN_PRIMITIVES) !== 0,
  cut: false,
  // Every part must be plain: a `true` never saw a cut.
  keepsAfterCut: (plain) => plain,
  visit(node, _, descend) {
    switch (node.kind) {
      case 'union':
        return node.members.every((member) => descend.member(member, undefined));
      case 'intersection':
        return (
          node.members.every(
            (member) => (member.flags & ts.TypeFlags.Object) !== 0 && descend.member(member, undefined),
          ) && plainMembers(node.body, descend)
        );
      case 'tuple':
        if (node.elementFlags.some((f) => f & (ts.ElementFlags.Optional | ts.ElementFlags.Variadic))) return false;
        return node.elements.every((element) => descend.nested(element, undefined));
      case 'array':
        return node.element !== undefined && descend.nested(node.element, undefined);
      case 'object':
        if (node.symbol?.isClass === true) return false;
        if (node.symbol?.isInterface === true && node.symbol.fromDeclarationFile) return false;
        return plainMembers(node.body, descend);
    }
  },
};

function plainMembers(body: MembersPart, descend: Descend<boolean, undefined>): boolean {
  if (body.callable || body.constructable) return false;
  // `{}` (or an empty interface) accepts any value but null and undefined.
  if (body.properties.length === 0 && body.indexes.length === 0) return false;
  for (const property of body.properties) {
    if (property.name.startsWith('__@')) continue; // symbol-keyed: dropped by both encoders
    if (property.flags & NOT_DATA) return false;
    if (!descend.nested(property.type, undefined)) return false;
  }
  return body.indexes.every(
    (index) => (index.keyType.flags & ts.TypeFlags.String) !== 0 && descend.nested(index.type, undefined),
  );
}

/** Whether no value of a type is plain JSON data, read two ways. */
interface Richness {
  /** As a whole payload or result, a tuple element or a member of an intersection. */
  readonly rich: boolean;
  /** As the type of a required property, where `undefined` counts too: superjson records it, JSON drops it. */
  readonly asProperty: boolean;
}

const RICH: Richness = { rich: true, asProperty: true };
const NOT_RICH: Richness = { rich: false, asProperty: false };
const RICH_AS_PROPERTY: Richness = { rich: false, asProperty: true };

/**
 * The visitor of "certainly rich": no value of the type is plain JSON data, because every
 * value holds one that JSON cannot carry. `type` itself, a required property (followed
 * through the required properties of object types, class instances included) or an element
 * at a required position of a tuple is a `bigint` (or a bigint literal), or one of
 * {@link RICH_OBJECTS} (`Date`, `Map`, `ReadonlyMap`, `Set`, `ReadonlySet`, `RegExp`, `URL`,
 * `Error`, typed arrays) or of their subclasses; or a required property is typed `undefined`.
 * A union is rich when every member is; an intersection when one member is, or when one of
 * its properties is. Anything else is not certainly rich: optional properties and tuple
 * elements, arrays and index signatures (they may be empty), `unknown`, `any`, `never`,
 * `void`, type parameters, a branded primitive (`string & { __brand: Date }`: the brand is a
 * phantom), a type met again inside itself, and a type nested deeper than the walker follows.
 */
function richVisitor(walker: TypeWalker): TypeVisitor<Richness, undefined> {
  const richProperties = (body: MembersPart, descend: Descend<Richness, undefined>): boolean =>
    body.properties.some(
      (property) =>
        !isHiddenKey(property.name) && // neither encoder writes it
        !(property.flags & NOT_DATA) &&
        descend.nested(property.type, undefined).asProperty,
    );
  return {
    leaf(type) {
      if (type.flags & (ts.TypeFlags.BigInt | ts.TypeFlags.BigIntLiteral)) return RICH;
      return type.flags & ts.TypeFlags.Undefined ? RICH_AS_PROPERTY : NOT_RICH;
    },
    cut: NOT_RICH,
    // A part found rich stays rich however the rest was cut short; a part found not rich may not be.
    keepsAfterCut: (verdict) => verdict.rich,
    visit(node, _, descend) {
      switch (node.kind) {
        case 'union': {
          let rich = true;
          let asProperty = true;
          for (const member of node.members) {
            const verdict = descend.member(member, undefined);
            rich &&= verdict.rich;
            asProperty &&= verdict.asProperty;
            if (!asProperty) break; // `rich` implies `asProperty`: both are settled
          }
          return rich ? RICH : asProperty ? RICH_AS_PROPERTY : NOT_RICH;
        }
        case 'intersection': {
          const isObject = (member: ts.Type): boolean => (member.flags & ts.TypeFlags.Object) !== 0;
          // With a primitive member, the object members are brands no value carries.
          const branded = node.members.some((member) => !isObject(member));
          const rich = branded
            ? node.members.some((member) => !isObject(member) && descend.member(member, undefined).rich)
            : node.members.some((member) => descend.member(member, undefined).rich) ||
              richProperties(node.body, descend);
          return rich ? RICH : NOT_RICH;
        }
        case 'tuple': {
          const { elements, elementFlags } = node;
          const rich = elements.some(
            (element, i) =>
              ((elementFlags[i] ?? 0) & ts.ElementFlags.Required) !== 0 && descend.nested(element, undefined).rich,
          );
          return rich ? RICH : NOT_RICH;
        }
        case 'array':
          return NOT_RICH; // it may be empty
        case 'object':
          if (walker.isOrExtends(node.type, RICH_OBJECTS)) return RICH;
          if (node.body.callable || node.body.constructable) return NOT_RICH;
          return richProperties(node.body, descend) ? RICH : NOT_RICH;
      }
    },
  };
}

/** Tells the plain, the certainly rich and the other payload and result types of one contract file apart. */
export class PlainnessCheck {
  private readonly rich: TypeVisitor<Richness, undefined>;

  /**
   * @param strictNullChecks whether the program checks null and undefined strictly: without
   *   it a property typed `Date` may hold `null` or be left `undefined`, so no type is
   *   certainly rich.
   */
  constructor(
    private readonly walker: TypeWalker,
    private readonly strictNullChecks: boolean,
  ) {
    this.rich = richVisitor(walker);
  }

  /** What the generator knows of a payload or result type (see {@link Plainness}). */
  of(type: ts.Type): Plainness {
    if (this.walker.walk(type, undefined, PLAIN)) return 'plain';
    return this.strictNullChecks && this.walker.walk(type, undefined, this.rich).rich ? 'rich' : 'unknown';
  }
}

/** Whether a program checks null and undefined strictly (`strictNullChecks`, or `strict`). */
export function checksNullStrictly(checker: ts.TypeChecker): boolean {
  // `string | undefined` collapses to `string` when null and undefined are in every type.
  const string = checker.getStringType();
  return checker.getNullableType(string, ts.TypeFlags.Undefined) !== string;
}
