/**
 * The fast codec for plain data. superjson's encoder walks every value to build its
 * metadata and is about ten times slower than `JSON.stringify` on plain data; for a value
 * with nothing special in it superjson writes `{"json":<JSON>}`, so `JSON.stringify` can
 * write the very same bytes. `encodePlain` does so after a quick check that the value really
 * is plain, and returns `undefined` otherwise so that the caller falls back to superjson.
 *
 * "Plain" is what survives JSON unchanged and what superjson leaves without metadata:
 * strings, booleans, null, finite numbers other than -0, arrays without holes, and objects
 * whose prototype is `Object.prototype` or `null` with no `undefined` values, and no object
 * reached twice (superjson records shared references).
 */

/** Deepest nesting checked; deeper values go to superjson, which handles them. */
const MAX_DEPTH = 64;

/** superjson's encoding of `value` when it is plain data, else `undefined`. */
export function encodePlain(value: unknown): string | undefined {
  // One set for every call (encoding is synchronous): no allocation per message.
  const plain = isPlain(value, seen, 0);
  seen.clear();
  return plain ? `{"json":${JSON.stringify(value)}}` : undefined;
}

const seen = new Set<object>();

function isPlain(v: unknown, seen: Set<object>, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (depth >= MAX_DEPTH) return false;
      // One hash operation instead of has + add: a set that did not grow had it already.
      const before = seen.size;
      seen.add(v);
      if (seen.size === before) return false;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false;
        for (let i = 0; i < v.length; i++) {
          if (!(i in v) || !isPlain(v[i], seen, depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in v) {
        if (!isPlain((v as Record<string, unknown>)[key], seen, depth + 1)) return false;
      }
      // Symbol keys and non-enumerable properties are dropped by both encoders alike.
      return true;
    }
    default:
      // undefined, bigint, symbol, function: superjson's business (or nobody's).
      return false;
  }
}
