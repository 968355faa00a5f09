/**
 * A throw-away consumer project under os.tmpdir() for the tooling measurements: generated
 * contracts of N events, a package.json, and `node_modules/clusterbus` (a symlink to this
 * repository, resolved as users resolve it, to the build in dist/) plus
 * `node_modules/@types` (the repository's, for `types: ["node"]`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeDir, trackDir } from '../cleanup.js';
import { REPO } from '../driver.js';

export const SIZES = [10, 100, 500, 1000] as const;

export interface Workspace {
  readonly dir: string;
  contract(n: number): string;
  generated(n: number): string;
  remove(): void;
}

export function createWorkspace(): Workspace {
  const dir = trackDir(fs.mkdtempSync(path.join(os.tmpdir(), 'clusterbus-bench-')));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'clusterbus-bench-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'clusterbus'), 'dir');
  fs.symlinkSync(path.join(REPO, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir');
  for (const n of SIZES) fs.writeFileSync(path.join(dir, `events${n}.contract.ts`), contractSource(n));
  return {
    dir,
    contract: (n) => path.join(dir, `events${n}.contract.ts`),
    generated: (n) => path.join(dir, `events${n}.bus.ts`),
    remove: () => removeDir(dir),
  };
}

/** What kind event `i` is: broadcast, consume and map in turn. */
export function kindOf(i: number): 'broadcast' | 'consume' | 'map' {
  return (['broadcast', 'consume', 'map'] as const)[i % 3] ?? 'broadcast';
}

export function eventName(i: number): string {
  return `svc${i % 10}.event${i}`;
}

/** A contract of `n` events, each with its own payload type (and result type for maps). */
export function contractSource(n: number): string {
  const lines = [`import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';`, ''];
  lines.push(`export interface Events${n} {`);
  for (let i = 0; i < n; i++) {
    const payload = `{ id: string; n${i}: number; at: Date; tags: string[]; meta?: { source: string; weight: number } }`;
    lines.push(`  /** Event ${i} (${kindOf(i)}). */`);
    switch (kindOf(i)) {
      case 'broadcast':
        lines.push(`  '${eventName(i)}': Broadcast<${payload}>;`);
        break;
      case 'consume':
        lines.push(`  '${eventName(i)}': Consume<${payload}, { timeoutMs: ${1000 + i} }>;`);
        break;
      case 'map':
        lines.push(
          `  '${eventName(i)}': MapCall<${payload}, { ok: boolean; v${i}: number }, { timeoutMs: 2000; maxResultBytes: 4096 }>;`,
        );
        break;
    }
  }
  lines.push('}', '');
  return lines.join('\n');
}

/**
 * A consumer of the first `used` events of the `n`-event contract (all of them by default):
 * `on` plus `broadcast` / `consume` / `map`. Typed: through the generated messenger. Plain: the
 * same calls on functions that take `unknown` / `any`, without clusterbus.
 */
export function consumerSource(n: number, typed: boolean, used = n): string {
  const lines = typed
    ? [`import { messenger as bus } from './events${n}.bus.js';`, '']
    : [
        '/** The same calls, with no clusterbus types. */',
        'declare const bus: {',
        '  on(event: string, handler: (payload: any) => unknown): () => void;',
        '  broadcast(event: string, payload: unknown): Promise<void>;',
        '  consume(event: string, payload: unknown): Promise<void>;',
        '  map(event: string, payload: unknown): Promise<any[]>;',
        '};',
        '',
      ];
  lines.push('export async function useAll(): Promise<number> {', '  let total = 0;');
  for (let i = 0; i < used; i++) {
    const ev = `'${eventName(i)}'`;
    const payload = `{ id: 'x${i}', n${i}: ${i}, at: new Date(), tags: ['t'] }`;
    switch (kindOf(i)) {
      case 'broadcast':
        lines.push(`  bus.on(${ev}, (p) => {`, `    total += p.n${i};`, '  });');
        lines.push(`  await bus.broadcast(${ev}, ${payload});`);
        break;
      case 'consume':
        lines.push(`  bus.on(${ev}, (p) => {`, `    total += p.at.getTime() + p.n${i};`, '  });');
        lines.push(`  await bus.consume(${ev}, ${payload});`);
        break;
      case 'map':
        lines.push(`  bus.on(${ev}, (p) => ({ ok: true, v${i}: p.n${i} }));`);
        lines.push(`  total += (await bus.map(${ev}, ${payload}))[0]?.v${i} ?? 0;`);
        break;
    }
  }
  lines.push('  return total;', '}', '');
  return lines.join('\n');
}

/**
 * A tsconfig for one consumer file: strict, nodenext. `clusterbus` resolves as it does for
 * users, to the declarations of the build in dist/ (`npm run bench` builds first).
 */
export function tsconfigSource(file: string): string {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    },
    files: [file],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
