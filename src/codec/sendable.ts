/**
 * What a payload or result may hold: finds the first thing in a value that superjson would
 * drop, change or refuse, so that the sender is told instead of every receiver getting
 * something else (or nothing) than what was sent.
 *
 * It runs only where both fast encoders gave up (`encode` in codec.ts), just before superjson,
 * so it judges a value as superjson carries it. Whatever it refuses makes the fast encoders
 * give up too, except properties no JSON encoder sees: on the fast paths, symbol-keyed
 * properties, non-index properties of arrays and extra properties of a `Date`, `Map`, `Set`,
 * `RegExp` or `URL` are left out, as `JSON.stringify` leaves them out. Looking for them costs
 * a call into the engine per object, about a quarter of the plain encoder's time, which every
 * plain message would pay.
 *
 * Paths start at `payload` or `result`: `.key` for a key that is an identifier, `["key"]` for
 * any other (and for `__proto__`), `[2]` for an array or typed-array index, `[Symbol(tag)]`
 * for a symbol key, `<map key 0>` / `<map value 0>` for the key and the value of a Map's
 * first entry and `<set item 0>` for a Set's first item (counted from 0 in insertion order),
 * `.cause` for an Error's cause. A path of more than `SHOWN_STEPS` steps keeps only its first
 * and last steps.
 */

/**
 * Deepest nesting of objects, arrays, Maps, Sets and Errors below the value itself. superjson
 * encodes recursively, a Map costing it two levels, and overflowed the stack, freshly started
 * (its walker not yet optimised), at about 1,150 levels of objects or 575 of Maps: 500 keeps
 * every kind clear of that.
 */
export const MAX_NESTING = 500;

/** Steps of a path shown in full; a longer path shows its first and last half of these. */
export const SHOWN_STEPS = 20;

/** The first thing in a value that cannot be sent. */
export interface Unsendable {
  /** Where it is, from `payload` or `result` (see the module's comment for the format). */
  readonly path: string;
  /** Why, worded to follow the path: `is a function`. */
  readonly reason: string;
}

/**
 * The first thing in `value` (depth first, in the order superjson walks it) that superjson
 * would not carry to a receiver as it is, or `undefined` when everything can be sent. Shared
 * references and cycles are fine: the codec restores them wherever they are (refs.ts), and
 * each object is looked at once.
 */
export function findUnsendable(value: unknown, root: 'payload' | 'result' = 'payload'): Unsendable | undefined {
  const walk = new Walk();
  const reason = walk.check(value, 0);
  return reason === undefined ? undefined : { path: walk.path(root), reason };
}

/** How a step of a path is written (see the module's comment). */
type Step = 'key' | 'index' | 'symbol' | 'map key' | 'map value' | 'set item';

/** What the sender may use instead, listed when a value is of a class that does not travel. */
const CARRIED = 'only plain objects, arrays, Date, Map, Set, RegExp, URL, Error and typed arrays do';

/** The typed arrays superjson restores (it names them by their constructor's name). */
const TYPED_ARRAY_CLASSES = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
];
const TYPED_ARRAYS: ReadonlySet<object> = new Set<object>(TYPED_ARRAY_CLASSES.map((ctor) => ctor.prototype));
const typedArrayNames = TYPED_ARRAY_CLASSES.map((ctor) => ctor.name);
const TYPED_ARRAY_NAMES = `${typedArrayNames.slice(0, -1).join(', ')} and ${typedArrayNames.at(-1)}`;

/** Boxed primitives: `JSON.stringify` unboxes them, so a receiver would get a primitive. */
const BOXES: ReadonlySet<object> = new Set<object>([
  String.prototype,
  Number.prototype,
  Boolean.prototype,
  BigInt.prototype,
  Symbol.prototype,
]);

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const isEnumerable = (o: object, key: PropertyKey): boolean => Object.prototype.propertyIsEnumerable.call(o, key);

/**
 * One walk over one value. The path is kept as a stack of raw steps and written out only
 * when something is found: most values sent this way are fine, and formatting every key on
 * the way down would cost more than the check.
 */
class Walk {
  private readonly seen = new Set<object>();
  private readonly kinds: Step[] = [];
  private readonly steps: unknown[] = [];

  /** Why `v` cannot be sent, or `undefined`. On a find, the path stays on the stack. */
  check(v: unknown, depth: number): string | undefined {
    switch (typeof v) {
      case 'function':
        return 'is a function';
      case 'symbol':
        return `is a symbol (${String(v)})`;
      case 'object':
        return v === null ? undefined : this.object(v, depth);
      case 'number':
        // Every number travels, NaN, the infinities and -0 too.
        return undefined;
      default:
        // string, bigint, boolean, undefined: all carried.
        return undefined;
    }
  }

  /** `check` of a child, one `kind` step (`step`) below. */
  private child(v: unknown, kind: Step, step: unknown, depth: number): string | undefined {
    this.kinds.push(kind);
    this.steps.push(step);
    const reason = this.check(v, depth);
    if (reason === undefined) {
      this.kinds.pop();
      this.steps.pop();
    }
    return reason;
  }

  /** Puts a step on the path and returns `reason`: for a find that is a property, not a value. */
  private at(kind: Step, step: unknown, reason: string): string {
    this.kinds.push(kind);
    this.steps.push(step);
    return reason;
  }

  private object(v: object, depth: number): string | undefined {
    if (depth > MAX_NESTING) return `is nested more than ${MAX_NESTING} levels deep`;
    // Seen before: a shared reference or a cycle, which the codec restores; its contents were
    // (or are being) checked where it was first met.
    if (this.seen.has(v)) return undefined;
    this.seen.add(v);
    const proto: unknown = Object.getPrototypeOf(v);
    if (Array.isArray(v)) return proto === Array.prototype ? this.array(v, depth) : ofClass(proto);
    if (proto === Object.prototype || proto === null) return this.record(v as Record<string, unknown>, depth);
    // Any Error travels, as an Error with the same name and message (and cause): its class does not.
    if (v instanceof Error) return this.error(v, depth);
    if (proto === Date.prototype) {
      // An invalid date is not a Date to superjson: JSON writes it as null.
      if (Number.isNaN((v as Date).getTime())) return 'is an invalid Date (it would arrive as null)';
      return this.extras(v, 'a Date', 'its time does');
    }
    if (proto === Map.prototype) {
      return this.extras(v, 'a Map', 'its entries do') ?? this.map(v as Map<unknown, unknown>, depth);
    }
    if (proto === Set.prototype) {
      return this.extras(v, 'a Set', 'its items do') ?? this.set(v as Set<unknown>, depth);
    }
    if (proto === RegExp.prototype) return this.extras(v, 'a RegExp', 'its source and flags do');
    if (proto === URL.prototype) return this.extras(v, 'a URL', 'its href does');
    if (ArrayBuffer.isView(v)) return this.view(v, proto);
    return ofClass(proto);
  }

  private array(v: unknown[], depth: number): string | undefined {
    for (let i = 0; i < v.length; i++) {
      // superjson skips a hole, and JSON writes it as null.
      if (!(i in v)) return this.at('index', i, 'is a hole in a sparse array (it would arrive as null)');
      const reason = this.child(v[i], 'index', i, depth + 1);
      if (reason !== undefined) return reason;
    }
    // Without holes the first `length` keys are the indexes; any after them are other properties.
    const keys = Object.keys(v);
    if (keys.length > v.length) {
      return this.at('key', keys[v.length], 'is a property of an array that is not an index (only items travel)');
    }
    return this.symbolKeys(v);
  }

  private record(v: Record<string, unknown>, depth: number): string | undefined {
    for (const key of Object.keys(v)) {
      if (key === '__proto__') {
        // Written by JSON, it would become the prototype of what a receiver decodes: `decode` refuses it.
        return this.at('key', key, 'is an own "__proto__" property, which every receiver refuses');
      }
      if (key === 'constructor' || key === 'prototype') {
        // `decode`'s guard (`hasPollutingKey`) refuses the first; superjson refuses any of them.
        if (key === 'constructor' && holdsPrototype(v[key])) {
          return this.at('key', key, 'is an object with a "prototype" key, which every receiver refuses');
        }
        return this.at(
          'key',
          key,
          `is a "${key}" key, which superjson refuses (only plain JSON data, which does not need superjson, may have one)`,
        );
      }
      const reason = this.child(v[key], 'key', key, depth + 1);
      if (reason !== undefined) return reason;
    }
    return this.symbolKeys(v);
  }

  private error(v: Error, depth: number): string | undefined {
    // superjson sends `name`, `message` and `cause` (not enumerable as the constructor makes
    // them, so listed here only when assigned), never the stack nor any other property.
    for (const key of Object.keys(v)) {
      if (key !== 'name' && key !== 'message' && key !== 'cause') {
        return this.at(
          'key',
          key,
          'is a property of an Error, which does not travel (only name, message and cause do)',
        );
      }
    }
    const reason = this.symbolKeys(v) ?? this.child(v.name, 'key', 'name', depth + 1);
    if (reason !== undefined) return reason;
    // The receiver passes it to the Error constructor, which makes a string of it.
    if (typeof v.message !== 'string') {
      return this.at('key', 'message', 'is an Error message that is not a string (it would arrive as a string)');
    }
    if (!('cause' in v)) return undefined;
    return this.child(v.cause, 'key', 'cause', depth + 1);
  }

  private map(v: Map<unknown, unknown>, depth: number): string | undefined {
    let i = 0;
    for (const [key, value] of v) {
      const reason = this.child(key, 'map key', i, depth + 1) ?? this.child(value, 'map value', i, depth + 1);
      if (reason !== undefined) return reason;
      i++;
    }
    return undefined;
  }

  private set(v: Set<unknown>, depth: number): string | undefined {
    let i = 0;
    for (const item of v) {
      const reason = this.child(item, 'set item', i, depth + 1);
      if (reason !== undefined) return reason;
      i++;
    }
    return undefined;
  }

  /** A typed array, a DataView or a Buffer. */
  private view(v: ArrayBufferView, proto: unknown): string | undefined {
    // A Buffer is a Uint8Array to superjson, which names it "Buffer": no receiver can restore that.
    if (Buffer.isBuffer(v)) return 'is a Buffer; send a Uint8Array (new Uint8Array(buf))';
    if (v instanceof DataView) return 'is a DataView; send a Uint8Array (new Uint8Array(view.buffer))';
    if (!TYPED_ARRAYS.has(proto as object)) {
      const name = className(proto) ?? 'typed array of another kind';
      return `is a ${name}, which does not travel (of the typed arrays, only ${TYPED_ARRAY_NAMES} do)`;
    }
    if (v instanceof Float32Array || v instanceof Float64Array) {
      // The items travel as JSON numbers: NaN and the infinities become null, -0 becomes 0, and
      // the receiver's typed array turns null into 0.
      for (let i = 0; i < v.length; i++) {
        const x = v[i] as number;
        if (!Number.isFinite(x) || Object.is(x, -0)) {
          const name = proto === Float32Array.prototype ? 'Float32Array' : 'Float64Array';
          return this.at('index', i, `is ${String(Object.is(x, -0) ? '-0' : x)} in a ${name} (it would arrive as 0)`);
        }
      }
    }
    // Other properties of a typed array are not looked for: listing its keys lists every index.
    return this.symbolKeys(v);
  }

  /** Own enumerable properties of a value superjson carries as something else (a Date's time…). */
  private extras(v: object, what: string, travels: string): string | undefined {
    const keys = Object.keys(v);
    if (keys.length === 0) return this.symbolKeys(v);
    return this.at('key', keys[0], `is a property of ${what}, which does not travel (only ${travels})`);
  }

  private symbolKeys(v: object): string | undefined {
    for (const symbol of Object.getOwnPropertySymbols(v)) {
      if (isEnumerable(v, symbol)) {
        return this.at(
          'symbol',
          symbol,
          'is a property keyed by a symbol, which does not travel (only string keys do)',
        );
      }
    }
    return undefined;
  }

  /** The path to the find, from `root`. */
  path(root: string): string {
    const n = this.kinds.length;
    const head = SHOWN_STEPS / 2;
    if (n <= SHOWN_STEPS) return root + this.write(0, n);
    return `${root}${this.write(0, head)}…(${n - SHOWN_STEPS} more steps)…${this.write(n - head, n)}`;
  }

  private write(from: number, to: number): string {
    let out = '';
    for (let i = from; i < to; i++) {
      const step = this.steps[i];
      const kind = this.kinds[i] as Step;
      switch (kind) {
        case 'key': {
          const key = step as string;
          out += IDENTIFIER.test(key) && key !== '__proto__' ? `.${key}` : `[${JSON.stringify(key)}]`;
          break;
        }
        case 'index':
          out += `[${step as number}]`;
          break;
        case 'symbol':
          out += `[${String(step)}]`;
          break;
        default:
          out += `<${kind} ${step as number}>`;
      }
    }
    return out;
  }
}

/** What `decode`'s guard refuses under a `constructor` key: an object with an own `prototype`. */
function holdsPrototype(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, 'prototype');
}

/** Why an instance of a class (its prototype `proto`) cannot be sent. */
function ofClass(proto: unknown): string {
  const name = className(proto);
  if (BOXES.has(proto as object)) return `is a ${name} object (a boxed primitive); send the primitive value`;
  if (proto === Promise.prototype) return 'is a Promise; await it and send its value';
  if (proto === ArrayBuffer.prototype || proto === SharedArrayBuffer.prototype) {
    return `is ${name === 'ArrayBuffer' ? 'an' : 'a'} ${name}; send a Uint8Array (new Uint8Array(buffer))`;
  }
  if (name === 'Object' || name === 'Array') {
    // Not this realm's Object.prototype or Array.prototype, yet named so: made in a vm context.
    return `is an ${name} from another realm (a vm context), which does not travel; copy it into a plain one`;
  }
  if (name !== undefined) return `is an instance of ${name}, which does not travel (${CARRIED})`;
  return `is an object whose prototype is not Object.prototype, which does not travel (${CARRIED})`;
}

/** The name of the class whose prototype is `proto`, read without running a getter. */
function className(proto: unknown): string | undefined {
  if (typeof proto !== 'object' || proto === null) return undefined;
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  if (typeof ctor !== 'function') return undefined;
  const name: unknown = Object.getOwnPropertyDescriptor(ctor, 'name')?.value;
  return typeof name === 'string' && name !== '' ? name : undefined;
}
