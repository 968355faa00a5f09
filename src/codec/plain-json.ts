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
 * reached twice (superjson records shared references). Nor may an object have a key that
 * every receiver's `decode` refuses (an own `__proto__`, a `constructor` holding a
 * `prototype`): JSON would write it, so such a value is left to the slow path, whose check
 * (sendable.ts) refuses it in the sender with its path.
 */

/** Deepest nesting checked; deeper values go to superjson, which handles them. */
const MAX_DEPTH = 64;

/** superjson's encoding of `value` when it is plain data, else `undefined`. */
export function encodePlain(value: unknown): string | undefined {
  const plain = isPlain(value, 0);
  visited.forget();
  return plain ? plainText(value) : undefined;
}

/** superjson's encoding of a value `copyPlain` copied (so known to be plain). */
export function plainText(value: unknown): string {
  return `{"json":${JSON.stringify(value)}}`;
}

/** What `copyPlain` returns for a value it cannot copy as `decode` would restore it. */
export const NO_COPY: unique symbol = Symbol('clusterbus.noCopy');

/**
 * A copy of `value` equal to what decoding its plain-JSON encoding gives, or `NO_COPY` when
 * `value` is not plain data, or has a key the decoder refuses or treats specially
 * (`__proto__`, `constructor`). Checking and copying in one walk costs about a third of
 * `JSON.parse` on the encoded text, which is what a sender saves on its own copy of a
 * broadcast. Its rules are `isPlain`'s; the two stay separate walks because `encodePlain`,
 * which runs for every request and result, allocates nothing.
 */
export function copyPlain(value: unknown): unknown {
  const copy = copyValue(value, 0);
  visited.forget();
  return copy;
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
        const item = (v as Record<string, unknown>)[key];
        if (key === '__proto__' || (key === 'constructor' && holdsPrototype(item))) return false;
        if (!isPlain(item, depth + 1)) return false;
      }
      // Symbol keys and non-enumerable properties are dropped by both encoders alike: looking
      // for them costs a call into the engine per object, a quarter of this encoder's time.
      return true;
    }
    default:
      // undefined, bigint, symbol, function: superjson's business (or nobody's).
      return false;
  }
}

function copyValue(v: unknown, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0) ? v : NO_COPY;
    case 'object': {
      if (v === null) return null;
      if (depth >= MAX_DEPTH || !visited.add(v)) return NO_COPY;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return NO_COPY;
        const out: unknown[] = [];
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) return NO_COPY;
          const c = copyValue(v[i], depth + 1);
          if (c === NO_COPY) return NO_COPY;
          out.push(c);
        }
        return out;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return NO_COPY;
      // Decoded objects have Object.prototype whatever the sender's had, as JSON.parse makes them.
      const out: Record<string, unknown> = {};
      for (const key in v) {
        // Only own keys travel (for...in also lists inherited enumerable ones); the two keys
        // the decoder guards against are left to the encoders (a harmless `constructor`
        // travels as encoded text; `__proto__`, or a `constructor` holding a `prototype`, is
        // refused by the slow path's check).
        if (!Object.prototype.hasOwnProperty.call(v, key) || key === '__proto__' || key === 'constructor') {
          return NO_COPY;
        }
        const c = copyValue((v as Record<string, unknown>)[key], depth + 1);
        if (c === NO_COPY) return NO_COPY;
        out[key] = c;
      }
      return out;
    }
    default:
      return NO_COPY;
  }
}

/** What `decode` refuses under a `constructor` key: an object with an own `prototype`. */
function holdsPrototype(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, 'prototype');
}
