/** The small glob matcher used to find contract files. */
import path from 'node:path';
import test from 'ava';
import { expandGlobs, globBase, segmentRegExp } from '../../codegen/glob.js';
import { removeTempDirs, tempDir, writeFiles } from './_helpers.js';

test.after.always(removeTempDirs);

function tree(): string {
  const dir = tempDir();
  writeFiles(dir, {
    'contracts/a.contract.ts': '',
    'contracts/b.contract.ts': '',
    'contracts/b.bus.ts': '',
    'contracts/sub/c.contract.ts': '',
    'contracts/sub/deeper/d.contract.ts': '',
    'contracts/.hidden/e.contract.ts': '',
    'contracts/node_modules/f.contract.ts': '',
    'contracts/.g.contract.ts': '',
    'x1.contract.ts': '',
    'x22.contract.ts': '',
  });
  return dir;
}

const rel = (dir: string, files: readonly string[]): string[] =>
  files.map((f) => path.relative(dir, f).split(path.sep).join('/'));

test('codegen glob - ** matches any number of directories, but not dot directories or node_modules', (t) => {
  const dir = tree();
  const { files, unmatched } = expandGlobs(['contracts/**/*.contract.ts'], dir);
  t.deepEqual(rel(dir, files), [
    'contracts/a.contract.ts',
    'contracts/b.contract.ts',
    'contracts/sub/c.contract.ts',
    'contracts/sub/deeper/d.contract.ts',
  ]);
  t.deepEqual(unmatched, []);
});

test('codegen glob - * stays in one directory and ? matches one character', (t) => {
  const dir = tree();
  t.deepEqual(rel(dir, expandGlobs(['contracts/*.contract.ts'], dir).files), [
    'contracts/a.contract.ts',
    'contracts/b.contract.ts',
  ]);
  t.deepEqual(rel(dir, expandGlobs(['x?.contract.ts'], dir).files), ['x1.contract.ts']);
  t.deepEqual(rel(dir, expandGlobs(['contracts/.*.contract.ts'], dir).files), ['contracts/.g.contract.ts']);
});

test('codegen glob - plain paths, absolute patterns, duplicates and patterns that match nothing', (t) => {
  const dir = tree();
  const result = expandGlobs(
    [
      'contracts/a.contract.ts',
      path.join(dir, 'contracts/*/c.contract.ts'),
      'contracts/*.contract.ts',
      'nope/*.ts',
      'no.ts',
    ],
    dir,
  );
  t.deepEqual(rel(dir, result.files), [
    'contracts/a.contract.ts',
    'contracts/b.contract.ts',
    'contracts/sub/c.contract.ts',
  ]);
  t.deepEqual(result.unmatched, ['nope/*.ts', 'no.ts']);
});

test('codegen glob - segment patterns escape regular-expression characters', (t) => {
  t.true(segmentRegExp('a+(b).ts').test('a+(b).ts'));
  t.false(segmentRegExp('a.ts').test('abts'));
  t.true(segmentRegExp('*.contract.ts').test('shop.contract.ts'));
  t.false(segmentRegExp('*.contract.ts').test('shop.contract.tsx'));
});

test('codegen glob - globBase() is the fixed directory a pattern starts from', (t) => {
  const cwd = path.resolve('/work');
  t.is(globBase('contracts/**/*.contract.ts', cwd), path.join(cwd, 'contracts'));
  t.is(globBase('*.contract.ts', cwd), cwd);
  t.is(globBase('a/b/c.contract.ts', cwd), path.join(cwd, 'a/b'));
});
