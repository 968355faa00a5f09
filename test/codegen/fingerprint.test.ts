// Event fingerprints: the same for the same structure however it is written, different as
// soon as what crosses changes.
import path from 'node:path';
import test from 'ava';
import { buildOutputs } from '../../codegen/generate.js';
import { fingerprintOf, removeTempDirs, tempDir, writeFiles } from './_helpers.js';

test.after.always(removeTempDirs);

/** The fingerprint gen writes for event `e.x` of a contract whose file body is `body`. */
function fingerprint(body: string, event = 'e.x'): string {
  const dir = tempDir();
  writeFiles(dir, {
    'x.contract.ts': ["import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';", body, ''].join('\n'),
  });
  const { diagnostics, outputs } = buildOutputs([path.join(dir, 'x.contract.ts')]);
  if (diagnostics.length > 0) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const fp = fingerprintOf(outputs[0]?.content ?? '', event);
  if (fp === undefined) throw new Error(`no fingerprint for ${event} in:\n${outputs[0]?.content ?? ''}`);
  return fp;
}

const base = `
export interface Order { id: string; lines: { sku: string; qty: number }[]; at: Date; status: 'new' | 'paid' }
export interface E { 'e.x': MapCall<Order, { ok: boolean }, { timeoutMs: 500 }> }`;

test('codegen fingerprint - 16 hex digits, the same on every run', (t) => {
  t.regex(fingerprint(base), /^[0-9a-f]{16}$/);
  t.is(fingerprint(base), fingerprint(base));
});

test('codegen fingerprint - unchanged by names, order, aliases and where a type is declared', (t) => {
  const fp = fingerprint(base);
  const same = [
    // Renamed interface, properties and union members reordered.
    `export interface Purchase { status: 'paid' | 'new'; at: Date; lines: { qty: number; sku: string }[]; id: string }
export interface E { 'e.x': MapCall<Purchase, { ok: boolean }, { timeoutMs: 500 }> }`,
    // A type alias and an intersection spelling the same structure.
    `type Line = { sku: string; qty: number };
type Head = { id: string; at: Date };
export type Order = Head & { lines: Line[]; status: 'new' | 'paid' };
export interface E { 'e.x': MapCall<Order, { ok: boolean }, { timeoutMs: 500 }> }`,
    // Array<T> for T[]; the result through an alias.
    `type Ok = { ok: boolean };
export interface E { 'e.x': MapCall<{ id: string; lines: Array<{ sku: string; qty: number }>; at: Date; status: 'new' | 'paid' }, Ok, { timeoutMs: 500 }> }`,
  ];
  for (const body of same) t.is(fingerprint(body), fp, body);
});

test('codegen fingerprint - changed by any change to what crosses', (t) => {
  const fp = fingerprint(base);
  const variants: Record<string, string> = {
    'a property type': base.replace('qty: number', 'qty: string'),
    'a property made optional': base.replace('at: Date', 'at?: Date'),
    'a property added': base.replace('id: string;', 'id: string; note: string;'),
    'a property renamed': base.replace('sku: string', 'code: string'),
    'a literal added to a union': base.replace("'new' | 'paid'", "'new' | 'paid' | 'void'"),
    'the result': base.replace('{ ok: boolean }', '{ ok: boolean; why: string }'),
    'an option': base.replace('timeoutMs: 500', 'timeoutMs: 600'),
    'the kind': base.replace(
      'MapCall<Order, { ok: boolean }, { timeoutMs: 500 }>',
      'Consume<Order, { timeoutMs: 500 }>',
    ),
    'Date to string': base.replace('at: Date', 'at: string'),
  };
  const seen = new Set([fp]);
  for (const [change, body] of Object.entries(variants)) {
    const other = fingerprint(body);
    t.not(other, fp, change);
    seen.add(other);
  }
  t.is(seen.size, Object.keys(variants).length + 1, 'every variant differs from every other');
});

test('codegen fingerprint - a recursive type has one', (t) => {
  const body = `export interface Tree { value: number; children: Tree[] }
export interface E { 'e.x': Broadcast<Tree> }`;
  t.regex(fingerprint(body), /^[0-9a-f]{16}$/);
  t.not(fingerprint(body), fingerprint(body.replace('value: number', 'value: string')));
});
