/**
 * Type tests: fixture consumers of a typed messenger are compiled with `tsc`, and every
 * diagnostic must be one the fixtures announce, at its line, with its code and text.
 *
 * Fixture projects live in `test/types/fixtures/<project>/` (each with its own tsconfig.json,
 * compiled once with `tsc -p`; the directory is excluded from the repo's own type-check).
 *
 * Marker convention, in the fixture files:
 *
 *     // @case a string where the payload declares string[] is rejected at the property
 *     // @expect TS2322 at `keys` Type 'string' is not assignable to type 'string[]'.
 *     void messenger.broadcast('cache.invalidate', { keys: 'user:1', at });
 *
 * - `// @case <title>` names the case; the AVA title is `types - <title>`.
 * - `// @expect TSnnnn [at `<anchor>`] <message>` expects one diagnostic on the line that
 *   follows the marker lines (the very next line: no blank line in between). Several
 *   `@expect` lines under one `@case` expect several diagnostics on that line.
 *   - `<message>` must occur in the diagnostic's first line. Starting it with `...` makes it
 *     match anywhere in the diagnostic, elaboration lines included ("...Types of property
 *     'pid' are incompatible."), for errors the compiler can only report at an enclosing node.
 *   - `at `<anchor>`` also requires the diagnostic's column to be where `<anchor>` first occurs
 *     in the offending line, so a test shows that the error points at the property or argument.
 * - `// @expect none` asserts that the next line compiles (used to show what `strict: false`
 *   lets through).
 *
 * One test per expected diagnostic; plus, per project, a test that fails on any diagnostic no
 * marker expects (listing them), and checks that no message says "No overload matches this
 * call" and that the positive assertions (expect-type) compile with no diagnostic at all.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic, repoRoot, runTsc, type Diagnostic, type TscRun } from './tsc.js';

const fixturesDir = path.join(repoRoot, 'test', 'types', 'fixtures');

interface Project {
  /** Directory under fixtures/ with a tsconfig.json. */
  readonly name: string;
  /** Appended to the case titles of this project. */
  readonly titleSuffix: string;
}

const projects: readonly Project[] = [
  { name: 'strict', titleSuffix: '' },
  { name: 'loose', titleSuffix: ' (strict: false)' },
  { name: 'generated', titleSuffix: ' (generated messenger)' },
  { name: 'exact', titleSuffix: ' (exactOptionalPropertyTypes)' },
].filter((p) => existsSync(path.join(fixturesDir, p.name, 'tsconfig.json')));

/** The file of the strict project whose expect-type assertions must compile cleanly. */
const positiveFile = path.join(fixturesDir, 'strict', 'positive.ts');

interface Expectation {
  readonly project: string;
  readonly title: string;
  readonly file: string;
  /** 1-based line the diagnostic is expected on. */
  readonly line: number;
  /** `undefined` for `@expect none`. */
  readonly code: string | undefined;
  readonly column: number | undefined;
  readonly message: string;
  /** Match the message anywhere in the diagnostic, elaboration included. */
  readonly inChain: boolean;
  /** The marker as written, for failure messages. */
  readonly marker: string;
}

const markerErrors: string[] = [];
const expectations: Expectation[] = [];

const casePattern = /^\s*\/\/\s*@case\s+(\S.*?)\s*$/;
const expectPattern = /^\s*\/\/\s*@expect\s+(.*?)\s*$/;
const expectBody = /^(TS\d+)\s+(?:at\s+`([^`]+)`\s+)?(\S.*)$/;

function where(file: string, line: number): string {
  return `${path.relative(repoRoot, file)}:${line}`;
}

function parseMarkers(project: Project, file: string): void {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  let title: string | undefined;
  let pending: { body: string; line: number }[] = [];
  lines.forEach((text, index) => {
    const lineNo = index + 1;
    const caseMatch = casePattern.exec(text);
    if (caseMatch) {
      if (pending.length > 0) markerErrors.push(`${where(file, lineNo)}: @case inside the markers of a previous case`);
      title = caseMatch[1];
      return;
    }
    const expectMatch = expectPattern.exec(text);
    if (expectMatch) {
      if (title === undefined) markerErrors.push(`${where(file, lineNo)}: @expect without a @case before it`);
      pending.push({ body: expectMatch[1] ?? '', line: lineNo });
      return;
    }
    if (title === undefined) return;
    if (pending.length === 0) {
      markerErrors.push(`${where(file, lineNo)}: @case "${title}" has no @expect`);
      title = undefined;
      return;
    }
    // `text` is the offending line.
    const caseTitle = `types - ${title}${project.titleSuffix}`;
    pending.forEach(({ body, line }, i) => {
      const numbered = pending.length > 1 ? `${caseTitle} (${i + 1}/${pending.length})` : caseTitle;
      const marker = `${where(file, line)}: // @expect ${body}`;
      if (body === 'none') {
        expectations.push({
          project: project.name,
          title: numbered,
          file,
          line: lineNo,
          code: undefined,
          column: undefined,
          message: '',
          inChain: false,
          marker,
        });
        return;
      }
      const m = expectBody.exec(body);
      if (!m) {
        markerErrors.push(`${marker}: expected "TSnnnn [at \`anchor\`] message" or "none"`);
        return;
      }
      const [, code, anchor, rawMessage = ''] = m;
      let column: number | undefined;
      if (anchor !== undefined) {
        const at = text.indexOf(anchor);
        if (at < 0) markerErrors.push(`${marker}: anchor \`${anchor}\` does not occur in line ${lineNo}: ${text}`);
        else column = at + 1;
      }
      const inChain = rawMessage.startsWith('...');
      expectations.push({
        project: project.name,
        title: numbered,
        file,
        line: lineNo,
        code,
        column,
        message: inChain ? rawMessage.slice(3) : rawMessage,
        inChain,
        marker,
      });
    });
    title = undefined;
    pending = [];
  });
  if (title !== undefined)
    markerErrors.push(`${path.relative(repoRoot, file)}: @case "${title}" at the end of the file`);
}

function fixtureFiles(project: Project): string[] {
  const dir = path.join(fixturesDir, project.name);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => path.join(dir, f));
}

for (const project of projects) for (const file of fixtureFiles(project)) parseMarkers(project, file);

const seenTitles = new Set<string>();
for (const e of expectations) {
  if (seenTitles.has(e.title)) markerErrors.push(`${e.marker}: duplicate case title "${e.title}"`);
  seenTitles.add(e.title);
}

function matches(e: Expectation, d: Diagnostic): boolean {
  if (d.file !== e.file || d.line !== e.line || d.code !== e.code) return false;
  if (e.column !== undefined && d.column !== e.column) return false;
  return (e.inChain ? d.text : d.headline).includes(e.message);
}

interface Outcome {
  readonly run: TscRun;
  /** The diagnostic each expectation claimed (by index into `expectations`). */
  readonly claimed: Map<Expectation, Diagnostic>;
  readonly unexpected: Diagnostic[];
}

const outcomes = new Map<string, Outcome>();
const compileErrors = new Map<string, string>();

test.before('compile the fixture projects', async () => {
  await Promise.all(
    projects.map(async (project) => {
      try {
        const run = await runTsc(path.join(fixturesDir, project.name));
        const free = [...run.diagnostics];
        const claimed = new Map<Expectation, Diagnostic>();
        for (const e of expectations) {
          if (e.project !== project.name || e.code === undefined) continue;
          const i = free.findIndex((d) => matches(e, d));
          const hit = free[i];
          if (hit === undefined) continue;
          claimed.set(e, hit);
          free.splice(i, 1);
        }
        outcomes.set(project.name, { run, claimed, unexpected: free });
      } catch (error) {
        compileErrors.set(project.name, error instanceof Error ? error.message : String(error));
      }
    }),
  );
});

function outcomeOf(projectName: string): Outcome {
  const outcome = outcomes.get(projectName);
  if (outcome === undefined) throw new Error(compileErrors.get(projectName) ?? `project ${projectName} not compiled`);
  return outcome;
}

function list(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.length === 0 ? '(none)' : diagnostics.map((d) => formatDiagnostic(d)).join('\n');
}

test('types - fixture markers are well-formed', (t) => {
  t.deepEqual(markerErrors, []);
});

test('types - fixtures cover at least 25 misuse cases', (t) => {
  const misuses = new Set(
    expectations.filter((e) => e.code !== undefined).map((e) => e.title.replace(/ \(\d+\/\d+\)$/, '')),
  );
  t.true(misuses.size >= 25, `only ${misuses.size} misuse cases`);
});

for (const e of expectations) {
  test(e.title, (t) => {
    const { run, claimed } = outcomeOf(e.project);
    const onLine = run.diagnostics.filter((d) => d.file === e.file && d.line === e.line);
    if (e.code === undefined) {
      t.deepEqual(onLine, [], `expected ${where(e.file, e.line)} to compile, got:\n${list(onLine)}`);
      return;
    }
    const hit = claimed.get(e);
    const expected =
      `${e.code}${e.column === undefined ? '' : ` at column ${e.column}`} ` +
      `${e.inChain ? 'with, anywhere in its text' : 'with, in its first line'}: ${e.message}`;
    t.truthy(hit, `expected ${expected}\n(${e.marker})\nfound on ${where(e.file, e.line)}:\n${list(onLine)}`);
  });
}

for (const project of projects) {
  test(`types - ${project.name} fixtures have no unexpected diagnostics`, (t) => {
    const { unexpected } = outcomeOf(project.name);
    t.deepEqual(
      unexpected.map((d) => formatDiagnostic(d)),
      [],
      `unexpected diagnostics:\n${list(unexpected)}`,
    );
  });

  test(`types - no diagnostic in the ${project.name} fixtures says "No overload matches this call"`, (t) => {
    const { run } = outcomeOf(project.name);
    const overloads = run.diagnostics.filter((d) => d.text.includes('No overload matches this call'));
    t.deepEqual(
      overloads.map((d) => formatDiagnostic(d)),
      [],
    );
  });
}

test('types - positive assertions (expect-type) compile with zero errors', (t) => {
  t.true(existsSync(positiveFile), `${positiveFile} is missing`);
  t.false(
    expectations.some((e) => e.file === positiveFile),
    'the positive fixture must not carry @expect markers',
  );
  const { run } = outcomeOf('strict');
  const inPositive = run.diagnostics.filter((d) => d.file === positiveFile);
  t.deepEqual(
    inPositive.map((d) => formatDiagnostic(d)),
    [],
    list(inPositive),
  );
});
