/**
 * The README and docs/ are read on the registry and in node_modules/clusterbus as much as in a
 * checkout, so every relative link in them must point to a file the package ships (README.md,
 * LICENSE, docs/), and every `#anchor` to a heading of its target. docs/api.md must name every
 * export of the two entry points.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import * as api from 'clusterbus';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docsDir = path.join(root, 'docs');
const pages = ['README.md', ...(await readdir(docsDir)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

const read = (rel: string): Promise<string> => readFile(path.join(root, rel), 'utf8');

/** The text outside fenced code blocks and inline code spans, where a `[x](y)` is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '``');
}

/** GitHub's (and npm's) heading ids: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading = ''] of text.matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** Whether the package ships `rel` (a path from the repository root): package.json `files`, plus what npm always packs. */
async function shipped(rel: string): Promise<boolean> {
  const pkg = JSON.parse(await read('package.json')) as { files: string[] };
  const always = ['README.md', 'LICENSE', 'package.json'];
  if (always.includes(rel)) return true;
  return pkg.files.some((entry) => rel === entry || rel.startsWith(`${entry.replace(/\/$/, '')}/`));
}

test('docs - every relative link in README.md and docs/ resolves', async (t) => {
  const problems: string[] = [];
  let checked = 0;
  for (const page of pages) {
    const markdown = await read(page);
    for (const [, target = ''] of prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [file = '', anchor] = target.split('#', 2);
      const rel = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
      if (!existsSync(path.join(root, rel))) {
        problems.push(`${page}: ${target} -> ${rel} does not exist`);
        continue;
      }
      if (!(await shipped(rel))) problems.push(`${page}: ${target} -> ${rel} is not in the npm package`);
      if (anchor !== undefined && rel.endsWith('.md') && !anchors(await read(rel)).has(anchor)) {
        problems.push(`${page}: ${target} -> no heading #${anchor} in ${rel}`);
      }
    }
  }
  t.true(checked >= 20, `only ${checked} relative links found: is the link pattern still right?`);
  t.deepEqual(problems, []);
});

test('docs - the package ships docs/ and the README links to the API reference and the license', async (t) => {
  const pkg = JSON.parse(await read('package.json')) as { files: string[] };
  t.true(pkg.files.includes('docs'));
  const readme = prose(await read('README.md'));
  t.true(readme.includes('](docs/api.md)'));
  t.true(readme.includes('](LICENSE)'));
  t.true(existsSync(path.join(root, 'LICENSE')));
});

/** The names `src/index.ts` exports (values and types), and those of `src/contract.ts`. */
async function exportedNames(): Promise<string[]> {
  const index = await read('src/index.ts');
  const names: string[] = [];
  for (const [, list = ''] of index.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const item of list.split(',')) {
      const name = item
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop();
      if (name) names.push(name.trim());
    }
  }
  const contract = await read('src/contract.ts');
  for (const [, name = ''] of contract.matchAll(
    /^export\s+(?:declare\s+)?(?:const|interface|type|class|function)\s+(\w+)/gm,
  )) {
    names.push(name);
  }
  return names;
}

test('docs - docs/api.md names every export of clusterbus and clusterbus/contract', async (t) => {
  const doc = await read('docs/api.md');
  const names = await exportedNames();
  t.true(names.length >= 100, `only ${names.length} exports found: is the export pattern still right?`);
  for (const value of Object.keys(api))
    t.true(names.includes(value), `${value} is exported but not found in src/index.ts`);
  const missing = names.filter((name) => !new RegExp('`' + name + '\\b').test(doc));
  t.deepEqual(missing, [], 'exports missing from docs/api.md');
});
