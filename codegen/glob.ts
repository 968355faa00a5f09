/**
 * A small glob matcher for contract paths (node:fs `glob` is not stable in Node 20).
 * Supports `**` (any number of directories), `*` (any characters but `/`) and `?` (one
 * character but `/`). Wildcards do not match names that start with a dot, and `**` does
 * not enter `node_modules` or dot directories. Symbolic links to directories are not
 * followed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareNames } from './model.js';

/** Whether `pattern` has a wildcard. */
export function hasMagic(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** A regular expression matching one path segment against a segment pattern. */
export function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** What {@link expandGlobs} found. */
export interface GlobResult {
  /** Matching files, absolute, sorted, each once. */
  readonly files: string[];
  /** The patterns that matched nothing. */
  readonly unmatched: string[];
}

/** Expands files and globs relative to `cwd`. */
export function expandGlobs(patterns: readonly string[], cwd: string): GlobResult {
  const files = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const found = new Set<string>();
    expandOne(pattern, cwd, found);
    for (const file of found) files.add(file);
    if (found.size === 0) unmatched.push(pattern);
  }
  return { files: [...files].sort(compareNames), unmatched };
}

/** The directory a pattern starts from: its leading segments without wildcards (absolute). */
export function globBase(pattern: string, cwd: string): string {
  const segments = pattern.split(path.sep).join('/').split('/');
  const fixed: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (hasMagic(segment)) break;
    fixed.push(segment);
  }
  return path.resolve(cwd, fixed.join('/') === '' && pattern.startsWith('/') ? '/' : fixed.join('/'));
}

function expandOne(pattern: string, cwd: string, into: Set<string>): void {
  const normalized = pattern.split(path.sep).join('/');
  if (!hasMagic(normalized)) {
    const file = path.resolve(cwd, pattern);
    if (isFile(file)) into.add(file);
    return;
  }
  const absolute = path.isAbsolute(pattern);
  const segments = normalized.split('/').filter((s, i) => s !== '' && !(s === '.' && i === 0));
  const root = absolute ? path.parse(path.resolve(pattern)).root : cwd;
  walk(root, segments, 0, into);
}

function walk(dir: string, segments: readonly string[], index: number, into: Set<string>): void {
  const segment = segments[index];
  if (segment === undefined) return;
  const last = index === segments.length - 1;
  if (segment === '**') {
    if (last) {
      // `dir/**` matches every file below dir.
      walkAll(dir, into);
      return;
    }
    walk(dir, segments, index + 1, into);
    for (const entry of readDir(dir)) {
      if (entry.isDirectory() && !skipDirectory(entry.name)) walk(path.join(dir, entry.name), segments, index, into);
    }
    return;
  }
  if (!hasMagic(segment)) {
    const next = path.join(dir, segment);
    if (last) {
      if (isFile(next)) into.add(next);
    } else if (isDirectory(next)) {
      walk(next, segments, index + 1, into);
    }
    return;
  }
  const regexp = segmentRegExp(segment);
  for (const entry of readDir(dir)) {
    if (entry.name.startsWith('.') && !segment.startsWith('.')) continue;
    if (!regexp.test(entry.name)) continue;
    const next = path.join(dir, entry.name);
    if (last) {
      if (entry.isFile() || (entry.isSymbolicLink() && isFile(next))) into.add(next);
    } else if (entry.isDirectory()) {
      walk(next, segments, index + 1, into);
    }
  }
}

function walkAll(dir: string, into: Set<string>): void {
  for (const entry of readDir(dir)) {
    const next = path.join(dir, entry.name);
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) {
      if (!skipDirectory(entry.name)) walkAll(next, into);
    } else if (entry.isFile() || (entry.isSymbolicLink() && isFile(next))) {
      into.add(next);
    }
  }
}

function skipDirectory(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.');
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => compareNames(a.name, b.name));
  } catch {
    return [];
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
