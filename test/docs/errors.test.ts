import { readFile } from 'node:fs/promises';
import test from 'ava';
import * as api from 'clusterbus';

const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('docs - every error code is documented in docs/errors.md', (t) => {
  const codes = Object.values(api.ErrorCodes);
  t.true(codes.length >= 10);
  for (const code of codes) t.true(doc.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
});

test('docs - every exported error class is documented with its code', (t) => {
  const classes = Object.entries(api).filter(
    ([, value]) => typeof value === 'function' && value.prototype instanceof api.BusError,
  );
  t.true(classes.length >= 10);
  for (const [name] of classes) t.true(doc.includes(`\`${name}\``), `${name} is missing from docs/errors.md`);
});

test('docs - docs/errors.md documents no code that does not exist', (t) => {
  const documented = [...doc.matchAll(/`(CB_[A-Z_]+)`/g)].map((m) => m[1]);
  const known = new Set<string>(Object.values(api.ErrorCodes));
  for (const code of documented) t.true(known.has(code as string), `${code} is documented but not exported`);
});
