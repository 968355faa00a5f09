/**
 * Whether a payload or result type can cross a process boundary (CBG007): a visitor of the
 * type walker that reports every part superjson cannot carry. Checked at generation time so
 * that a contract which could never work fails where it is written, not at its first send;
 * the run time still checks each value (src/codec/sendable.ts).
 */
import { ts } from 'ts-morph';
import { Code } from '../diagnostics.js';
import type { FileContext } from './file-context.js';
import { CARRIED_COLLECTIONS, CARRIED_LEAVES } from './library.js';
import type { ObjectNode } from './type-nodes.js';
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

/** Checks that the payload and result types of one contract file can cross a process boundary. */
export class CrossableCheck {
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
    const report = ({ at, where }: Place, what: string, extra = ''): void => {
      this.ctx.report(
        Code.NotSerializable,
        `event '${event}': ${at} ${what}, which cannot cross a process boundary${extra}`,
        this.ctx.loc(where),
      );
    };
    const visitor: TypeVisitor<void, Place> = {
      leaf(leaf, place) {
        if (leaf.flags & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) report(place, 'is a symbol');
        // Other primitives, literals, `any`, `unknown`… all cross.
      },
      cut: undefined,
      // A type is reported once, from the first path that meets it.
      keepsAfterCut: () => true,
      visit: (node, place, descend) => {
        const { at, where } = place;
        switch (node.kind) {
          case 'union':
          case 'intersection':
            for (const member of node.members) descend.member(member, place);
            return;
          case 'tuple':
            node.typeArguments.forEach((element, i) => {
              descend.nested(element, { at: `${at}[${i}]`, where });
            });
            return;
          case 'array':
            if (node.element !== undefined) descend.nested(node.element, { at: `${at}[]`, where });
            return;
          case 'object': {
            const problem = this.objectProblem(node, at);
            if (problem !== undefined) report(place, ...problem);
            else this.descendObject(node, place, descend);
          }
        }
      },
    };
    this.walker.walk(type, { at: root, where: node }, visitor);
  }

  /** Why an object type cannot cross (the message's verb phrase and hint), or `undefined`. */
  private objectProblem(node: ObjectNode, at: string): [string, string?] | undefined {
    const { body, symbol } = node;
    if (body.callable) return ['is a function'];
    if (body.constructable) return ['is a class or constructor'];
    if (symbol === undefined) return undefined;
    // A library object superjson carries is judged by its name: its members are the lib's.
    if (symbol.fromDeclarationFile && (CARRIED_LEAVES.has(symbol.name) || CARRIED_COLLECTIONS.has(symbol.name))) {
      return undefined;
    }
    const methods = body.properties
      .filter((p) => p.flags & ACCESSOR_OR_METHOD)
      .map((p) => p.name)
      .filter((n) => !n.startsWith('__@'));
    if (methods.length === 0) return undefined;
    if (symbol.isClass) {
      return [`is an instance of class ${symbol.name} with methods (${methods.slice(0, 3).join(', ')})`];
    }
    if (symbol.fromDeclarationFile && !symbol.name.startsWith('__')) {
      return [`is a ${symbol.name}`, hint(symbol.name, at)];
    }
    return undefined;
  }

  /** Walks what an object that crosses carries: a collection's contents, or its properties and index signatures. */
  private descendObject(node: ObjectNode, { at, where }: Place, descend: Descend<void, Place>): void {
    const { body, symbol } = node;
    if (symbol?.fromDeclarationFile === true) {
      if (CARRIED_LEAVES.has(symbol.name)) return;
      if (CARRIED_COLLECTIONS.has(symbol.name)) {
        const labels = symbol.name.endsWith('Map') ? ['<key>', '<value>'] : ['<item>'];
        node.typeArguments.forEach((arg, i) => {
          descend.nested(arg, { at: `${at}${labels[i] ?? `<${i}>`}`, where });
        });
        return;
      }
    }
    for (const property of body.properties) {
      const key = property.name;
      if (key.startsWith('__@')) continue; // symbol-keyed: not serialised
      descend.nested(property.type, {
        at: IDENTIFIER.test(key) ? `${at}.${key}` : `${at}[${JSON.stringify(key)}]`,
        where: this.ctx.inThisFile(property.declaration, where),
      });
    }
    for (const index of body.indexes) {
      descend.nested(index.type, {
        at: `${at}[${this.checker.typeToString(index.keyType)}]`,
        where: this.ctx.inThisFile(index.declaration, where),
      });
    }
  }
}
