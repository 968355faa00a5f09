/**
 * The library objects superjson carries: both verdicts on a payload type must agree on them
 * (a `Date` crosses a process boundary, and it is what makes a type certainly not plain JSON).
 * A name counts only for a type declared in a `.d.ts` file, so that a user's own `Date`
 * class is judged by its members.
 */

/** Lib objects superjson carries as they are, without looking inside. */
export const CARRIED_LEAVES: ReadonlySet<string> = new Set([
  'Date',
  'RegExp',
  'URL',
  'Error',
  'EvalError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'TypeError',
  'URIError',
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
