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
  const plain = isPlain(value, 0);
  visited.forget();
  return plain ? `{"json":${JSON.stringify(value)}}` : undefined;
}

/** Objects met more than this many times in one value are tracked in a set rather than a list. */
const LIST_LIMIT = 8;

/**
 * The objects one value reached so far. Most payloads hold a handful of objects: a short list
 * scanned from the end is cheaper than a set (whose `clear` also reallocates its table), so
 * the set only takes over for larger values. One for every call: encoding is synchronous.
 */
const visited = {
  list: [] as object[],
  set: new Set<object>(),
  usedSet: false,
  /** Records `o`; false if it was already recorded (a shared reference or a cycle). */
  add(o: object): boolean {
    if (this.usedSet) {
      const before = this.set.size;
      this.set.add(o);
      return this.set.size !== before;
    }
    const list = this.list;
    for (let i = list.length - 1; i >= 0; i--) if (list[i] === o) return false;
    list.push(o);
    if (list.length > LIST_LIMIT) {
      for (const x of list) this.set.add(x);
      this.usedSet = true;
    }
    return true;
  },
  forget(): void {
    this.list.length = 0;
    if (this.usedSet) {
      this.set.clear();
      this.usedSet = false;
    }
  },
};

function isPlain(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (depth >= MAX_DEPTH) return false;
      if (!visited.add(v)) return false;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false;
        for (let i = 0; i < v.length; i++) {
          if (!(i in v) || !isPlain(v[i], depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in v) {
        if (!isPlain((v as Record<string, unknown>)[key], depth + 1)) return false;
      }
      // Symbol keys and non-enumerable properties are dropped by both encoders alike.
      return true;
    }
    default:
      // undefined, bigint, symbol, function: superjson's business (or nobody's).
      return false;
  }
}
