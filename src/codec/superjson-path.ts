/**
 * superjson's paths into a value: keys joined by `.`, with `.` and `\` inside a key escaped by a
 * backslash (`a\.b` is the one key `a.b`). Both the fast decoder (the annotations it applies)
 * and the reference table (the places superjson names) read them.
 */

/** The keys of superjson's escaped dot-path `path`, or `undefined` for an escape superjson never writes. */
export function splitSuperjsonPath(path: string): string[] | undefined {
  const segments: string[] = [];
  let segment = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '\\') {
      const next = path[i + 1];
      if (next !== '\\' && next !== '.') return undefined;
      segment += next;
      i++;
    } else if (c === '.') {
      segments.push(segment);
      segment = '';
    } else {
      segment += c;
    }
  }
  segments.push(segment);
  return segments;
}
