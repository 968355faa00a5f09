/**
 * An event's fingerprint: a short hash of what senders and receivers must agree on, its
 * kind, the structure of its payload and result types and its options. Resolved through the
 * checker, structurally: renaming an alias or an interface, reordering properties or union
 * members, or moving a type to another file does not change it; a property added, removed,
 * renamed, made optional or given another type does. Workers announce the fingerprints of the
 * events they handle, and a request goes only to those whose fingerprint matches the caller's
 * (a contract changed during a rolling reload).
 */
import { createHash } from 'node:crypto';
import ts from './typescript.cjs';
import type { EventKind, EventOption } from '../model.js';
import type { Descend, TypeVisitor, TypeWalker } from './type-walker.js';

type Parts = Descend<string, undefined>;

function literalText(type: ts.Type, checker: ts.TypeChecker): string {
  if (type.isStringLiteral()) return JSON.stringify(type.value);
  if (type.isNumberLiteral()) return String(type.value);
  if (type.flags & ts.TypeFlags.BigIntLiteral) {
    const v = (type as ts.BigIntLiteralType).value;
    return `${v.negative ? '-' : ''}${v.base10Value}n`;
  }
  return checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);
}

/**
 * A property name as the same in every program: the checker names a symbol-keyed property
 * `__@<name>@<id>`, whose id depends on what else the program loaded.
 */
function stableName(name: string): string {
  return name.startsWith('__@') ? name.replace(/@\d+$/, '') : name;
}

function members(
  body: {
    readonly callable: boolean;
    readonly constructable: boolean;
    readonly properties: readonly { name: string; flags: ts.SymbolFlags; type: ts.Type }[];
    readonly indexes: readonly { keyType: ts.Type; type: ts.Type }[];
  },
  descend: Parts,
  checker: ts.TypeChecker,
): string {
  const parts: string[] = [];
  if (body.callable) parts.push('()');
  if (body.constructable) parts.push('new()');
  for (const p of body.properties) {
    const name = JSON.stringify(stableName(p.name));
    if (p.flags & ts.SymbolFlags.Method) {
      parts.push(`${name}()`);
      continue;
    }
    const optional = p.flags & ts.SymbolFlags.Optional ? '?' : '';
    parts.push(`${name}${optional}:${descend.nested(p.type, undefined)}`);
  }
  for (const index of body.indexes) {
    parts.push(`[${literalText(index.keyType, checker)}]:${descend.nested(index.type, undefined)}`);
  }
  return `{${parts.sort().join(',')}}`;
}

/** A short hash of a part's canonical text: a part reached along many paths stays one hash long. */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * The canonical text of a type's structure, for hashing. Every entered type is replaced by the
 * digest of its own text, so the text of a type whose parts are shared along many paths grows
 * with the number of distinct parts, not of paths.
 */
function structure(checker: ts.TypeChecker): TypeVisitor<string, undefined> {
  return {
    leaf: (type) => literalText(type, checker),
    // A type met again inside itself: its structure is already being written.
    cut: '@',
    keepsAfterCut: () => true,
    visit(node, context, descend) {
      return digest(canonical(node, context, descend, checker));
    },
  };
}

/** A type's own text: its parts as their digests (an intersection and the object type it amounts to read alike). */
function canonical(
  node: Parameters<TypeVisitor<string, undefined>['visit']>[0],
  _context: undefined,
  descend: Parts,
  checker: ts.TypeChecker,
): string {
  switch (node.kind) {
    case 'union':
      return node.members
        .map((m) => descend.member(m, undefined))
        .sort()
        .join('|');
    case 'intersection':
      return members(node.body, descend, checker);
    case 'tuple':
      return `[${node.elements
        .map((e, i) => {
          const flags = node.elementFlags[i] ?? ts.ElementFlags.Required;
          const prefix = flags & ts.ElementFlags.Variable ? '...' : '';
          const suffix = flags & ts.ElementFlags.Optional ? '?' : '';
          return `${prefix}${descend.nested(e, undefined)}${suffix}`;
        })
        .join(',')}]`;
    case 'array':
      return `${node.element === undefined ? '?' : descend.nested(node.element, undefined)}[]`;
    case 'object': {
      // A library class or interface (Date, Map, Uint8Array…) is its name and type arguments:
      // its members are the library's business.
      if (node.symbol?.fromDeclarationFile) {
        const args =
          (node.type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference
            ? checker.getTypeArguments(node.type as ts.TypeReference)
            : [];
        return args.length === 0
          ? node.symbol.name
          : `${node.symbol.name}<${args.map((a) => descend.nested(a, undefined)).join(',')}>`;
      }
      return members(node.body, descend, checker);
    }
  }
}

/** Computes the fingerprints of the events of one contract file. */
export class FingerprintCheck {
  private readonly visitor: TypeVisitor<string, undefined>;

  constructor(
    private readonly walker: TypeWalker,
    checker: ts.TypeChecker,
  ) {
    this.visitor = structure(checker);
  }

  /** The event's fingerprint: 16 hex digits of a SHA-256 of its kind, types and options. */
  of(kind: EventKind, payload: ts.Type, result: ts.Type | undefined, options: readonly EventOption[]): string {
    const text = [
      kind,
      `p:${this.walker.walk(payload, undefined, this.visitor)}`,
      `r:${result === undefined ? '' : this.walker.walk(result, undefined, this.visitor)}`,
      `o:${options.map((o) => `${o.name}=${String(o.value)}`).join(',')}`,
    ].join('\n');
    return createHash('sha256').update(text).digest('hex').slice(0, 16);
  }
}
