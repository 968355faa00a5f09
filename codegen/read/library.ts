/**
 * The library objects superjson carries: both verdicts on a payload type must agree on them
 * (a `Date` crosses a process boundary, and it is what makes a type certainly not plain JSON).
 * A name counts only for a type declared in a `.d.ts` file, so that a user's own `Date`
 * class is judged by its members.
 */

/**
 * The lib's Error classes: superjson carries any of them (and any other Error) as an `Error`
 * with the same `name`, `message` and `cause`, and nothing else of it.
 */
export const CARRIED_ERRORS: ReadonlySet<string> = new Set([
  'Error',
  'EvalError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'TypeError',
  'URIError',
]);

/** Lib objects superjson carries as they are, without looking inside. */
export const CARRIED_LEAVES: ReadonlySet<string> = new Set([
  'Date',
  'RegExp',
  'URL',
  ...CARRIED_ERRORS,
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
]);

/** Lib collections superjson carries with their contents (which must cross too). */
export const CARRIED_COLLECTIONS: ReadonlySet<string> = new Set(['Map', 'ReadonlyMap', 'Set', 'ReadonlySet']);
