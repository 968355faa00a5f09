/**
 * The one walker over payload and result types (codegen/read/type-walker.ts), which both the
 * plain-data hints and the CBG007 check are visitors of: its depth limit (a type nested
 * deeper than MAX_TYPE_DEPTH is not entered, by any verdict), its cycle guard and its
 * visit-once memo (a type reached along many paths is walked once), and its budget.
 */
import path from 'node:path';
import test from 'ava';
import { Project, ts } from 'ts-morph';
import { Code } from '../../codegen/diagnostics.js';
import { readContracts } from '../../codegen/read/index.js';
import type { TypeNode } from '../../codegen/read/type-nodes.js';
import { MAX_TYPE_DEPTH, TypeWalker, type TypeVisitor } from '../../codegen/read/type-walker.js';
import { removeTempDirs, tempDir, writeFiles } from './_helpers.js';

test.after.always(removeTempDirs);

/** `inner` as the value of a property nested `depth` levels deep: `{ a: { a: inner } }` for 2. */
function nest(depth: number, inner: string): string {
  return `${'{ a: '.repeat(depth)}${inner}${' }'.repeat(depth)}`;
}

/** Reads a contract of `events` (name → marker type) written to a temp dir. */
function read(events: Readonly<Record<string, string>>, prelude: readonly string[] = []) {
  const dir = tempDir();
  writeFiles(dir, {
    'walk.contract.ts': [
      "import type { Broadcast } from 'clusterbus/contract';",
      ...prelude,
      'export interface WalkEvents {',
      ...Object.entries(events).map(([name, type]) => `  '${name}': ${type};`),
      '}',
      '',
    ].join('\n'),
  });
  return readContracts([path.join(dir, 'walk.contract.ts')]);
}

test('codegen - the type walker follows a payload 64 levels deep and no deeper, for the plain and the rich hints', (t) => {
  t.is(MAX_TYPE_DEPTH, 64);
  const { diagnostics, contracts } = read({
    // The innermost object is at depth 64: entered, so its number property is plain.
    'plain.depth64': `Broadcast<${nest(64, '{ n: number }')}>`,
    'plain.depth65': `Broadcast<${nest(65, '{ n: number }')}>`,
    'rich.depth64': `Broadcast<${nest(64, 'Date')}>`,
    'rich.depth65': `Broadcast<${nest(65, 'Date')}>`,
    // A union is no level of nesting: its object members are as deep as the union.
    'plain.unionDepth64': `Broadcast<${nest(64, 'null | { n: number }')}>`,
    'rich.unionDepth64': `Broadcast<${nest(64, 'Date | bigint')}>`,
  });
  t.deepEqual(diagnostics, []);
  t.deepEqual(
    contracts[0]?.events.map((e) => [e.name, e.plainPayload]),
    [
      ['plain.depth64', 'plain'],
      ['plain.depth65', 'unknown'],
      ['plain.unionDepth64', 'plain'],
      ['rich.depth64', 'rich'],
      ['rich.depth65', 'unknown'],
      ['rich.unionDepth64', 'rich'],
    ],
  );
});

test('codegen - the type walker follows a payload 64 levels deep and no deeper, for the crossability check', (t) => {
  // A function is an object type: reported at depth 64, not entered (so not reported) at 65.
  const deep = read({ 'fn.depth64': `Broadcast<${nest(64, '() => void')}>` });
  t.deepEqual(
    deep.diagnostics.map((d) => [d.code, d.message]),
    [
      [
        Code.NotSerializable,
        `event 'fn.depth64': payload${'.a'.repeat(64)} is a function, which cannot cross a process boundary`,
      ],
    ],
  );
  const deeper = read({
    'fn.depth65': `Broadcast<${nest(65, '() => void')}>`,
    'fn.unionDepth65': `Broadcast<${nest(65, 'string | (() => void)')}>`,
  });
  t.deepEqual(deeper.diagnostics, []);
  t.deepEqual(
    deeper.contracts[0]?.events.map((e) => [e.name, e.plainPayload]),
    [
      ['fn.depth65', 'unknown'],
      ['fn.unionDepth65', 'unknown'],
    ],
  );
  // A primitive is judged wherever an entered type holds it: a symbol property of the object at depth 64.
  const symbols = read({
    'symbol.depth65': `Broadcast<${nest(65, 'symbol')}>`,
    'symbol.depth66': `Broadcast<${nest(66, 'symbol')}>`,
  });
  t.deepEqual(
    symbols.diagnostics.map((d) => d.message),
    [`event 'symbol.depth65': payload${'.a'.repeat(65)} is a symbol, which cannot cross a process boundary`],
  );
});

test('codegen - the type walker walks a plain type reached along many paths once, and reports a shared part once', (t) => {
  // P40 reaches P0 along 2^40 paths, every one of them plain; F40 reaches one function as often.
  const levels = (prefix: string, first: string): string[] => [
    `type ${prefix}0 = ${first};`,
    ...Array.from({ length: 40 }, (_, i) => `type ${prefix}${i + 1} = { a: ${prefix}${i}; b: ${prefix}${i} };`),
  ];
  const started = Date.now();
  const plain = read({ 'dag.plain': 'Broadcast<P40>' }, levels('P', '{ n: number }'));
  t.deepEqual(plain.diagnostics, []);
  t.is(plain.contracts[0]?.events[0]?.plainPayload, 'plain');
  const fn = read({ 'dag.fn': 'Broadcast<F40>' }, levels('F', '{ f: () => void }'));
  t.deepEqual(
    fn.diagnostics.map((d) => d.message),
    [`event 'dag.fn': payload${'.a'.repeat(40)}.f is a function, which cannot cross a process boundary`],
  );
  t.true(Date.now() - started < 30_000);
});

test('codegen - the type walker stops a generic type that expands into several new types at every level', (t) => {
  // 2^64 distinct types within the depth limit: the budget ends the walk of every verdict.
  const started = Date.now();
  const expanding = [
    'type Exp<T> = { a: Exp<[T]>; b: Exp<{ x: T }> };',
    'type ExpFn<T> = { f: () => void; a: ExpFn<[T]>; b: ExpFn<{ x: T }> };',
  ];
  const data = read({ 'exp.data': 'Broadcast<Exp<string>>' }, expanding);
  t.deepEqual(data.diagnostics, []);
  t.is(data.contracts[0]?.events[0]?.plainPayload, 'unknown');
  const fn = read({ 'exp.fn': 'Broadcast<ExpFn<string>>' }, expanding);
  t.deepEqual(
    fn.diagnostics.map((d) => d.message),
    ["event 'exp.fn': payload.f is a function, which cannot cross a process boundary"],
  );
  t.true(Date.now() - started < 30_000);
});

/** The type of `T` in `source`, and a walker over the program it belongs to. */
function typeOf(source: string): { type: ts.Type; walker: TypeWalker } {
  const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { strict: true, noLib: true } });
  const sf = project.createSourceFile('/types.ts', source).compilerNode;
  const checker = project.getProgram().getTypeChecker().compilerObject;
  const alias = sf.statements.find(
    (s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'T',
  );
  if (alias === undefined) throw new Error('no type T');
  return { type: checker.getTypeAtLocation(alias.name), walker: new TypeWalker(checker, sf) };
}

/** A visitor that walks every part and counts what the walker did. */
function counting(): { visitor: TypeVisitor<number, undefined>; visited: TypeNode['kind'][] } {
  const visited: TypeNode['kind'][] = [];
  const visitor: TypeVisitor<number, undefined> = {
    leaf: () => 0,
    cut: 1,
    keepsAfterCut: () => true,
    visit(node, _, descend) {
      visited.push(node.kind);
      let cuts = 0;
      if (node.kind === 'union' || node.kind === 'intersection') {
        for (const member of node.members) cuts += descend.member(member, undefined);
      }
      if (node.kind === 'object' || node.kind === 'intersection') {
        for (const property of node.body.properties) cuts += descend.nested(property.type, undefined);
      }
      return cuts;
    },
  };
  return { visitor, visited };
}

test('codegen - the type walker enters object types nested at most MAX_TYPE_DEPTH deep, unions at any depth', (t) => {
  const { type, walker } = typeOf(`type T = ${nest(70, 'string')};`);
  const { visitor, visited } = counting();
  // Objects at depths 0 to 64 are entered; the one at 65 is cut.
  t.is(walker.walk(type, undefined, visitor), 1);
  t.is(visited.length, MAX_TYPE_DEPTH + 1);

  const unions = typeOf(`type T = ${nest(70, 'null | string').replaceAll('{ a: ', '{ a: null | ')};`);
  const withUnions = counting();
  t.is(unions.walker.walk(unions.type, undefined, withUnions.visitor), 1);
  t.is(withUnions.visited.filter((kind) => kind === 'object').length, MAX_TYPE_DEPTH + 1);
  t.true(withUnions.visited.filter((kind) => kind === 'union').length > MAX_TYPE_DEPTH);
});

test('codegen - the type walker cuts a type met again inside itself and enters a shared type once', (t) => {
  const { type, walker } = typeOf(
    ['interface Shared { n: string }', 'interface Loop { self: Loop; a: Shared; b: Shared }', 'type T = Loop;'].join(
      '\n',
    ),
  );
  const { visitor, visited } = counting();
  // `self` is cut (Loop is being walked); Shared is entered once although two properties hold it.
  t.is(walker.walk(type, undefined, visitor), 1);
  t.deepEqual(visited, ['object', 'object']);
  // Each walk starts afresh.
  t.is(walker.walk(type, undefined, visitor), 1);
  t.is(visited.length, 4);
});
