/**
 * The codec's promise, as a property: a value of a type `clusterbus gen` accepts arrives as
 * it was sent, or the sender refuses it with a `BadPayloadError`; never something else.
 *
 * A seeded generator (mulberry32, test/helpers/fuzz.ts: no dependency, and a failure is
 * reproduced from the seed it prints) builds values of the accepted types: nested objects
 * (with `undefined`-valued properties, keys that need escaping in superjson's paths, a few
 * null-prototype dictionaries), arrays and tuples, strings (lone surrogates included),
 * numbers (-0, NaN, the infinities, the extremes), booleans, null, undefined, bigints,
 * Dates (invalid ones too), Maps, Sets, RegExps with flags, URLs, plain Errors (with a name,
 * a cause) and the lib's other Error classes, every kind of typed array, and shared references
 * and cycles anywhere (a Set item, a Map key, inside a shared object, back to the root, through
 * an Error's cause). Each one goes through the path the bus takes (src/core/endpoint/request.ts):
 * `encode` (the plain fast path, the rich encoder or superjson, with and without the
 * generator's `plainPayload: false` hint) then `decode` in the receiver, and, when the sender
 * keeps its own copy, `copyPlain` and `plainText`. What arrives is compared with what was
 * sent by a comparator that knows what each kind carries (below).
 *
 * Values the sender must refuse are generated too, at a low rate: invalid Dates (JSON would
 * write null) and NaN, the infinities or -0 in a Float32Array or Float64Array (they would
 * arrive as 0). For those the property is the refusal.
 *
 * At the end: the comparator's own test, and the shapes of sharing that superjson alone
 * restores wrongly, each pinned by a test of its own.
 *
 * The seed and the number of values are set by `CODEC_PROPERTY_SEED` and `CODEC_PROPERTY_RUNS`
 * (5000 by default, under a second; 100,000 values of each of seeds 1 to 4 pass too).
 */
import { inspect } from 'node:util';
import test from 'ava';
import superjson from 'superjson';
import { decode, encode } from '../../src/codec/codec.js';
import { copyPlain, encodePlain, NO_COPY, plainText } from '../../src/codec/plain-json.js';
import { encodeRich } from '../../src/codec/rich-json.js';
import { BadPayloadError } from '../../src/errors.js';
import { prng, type Rand } from '../helpers/fuzz.js';

const EV = 'property.roundtrip';
const SEED = Number(process.env['CODEC_PROPERTY_SEED'] ?? 0x5eed_c0de);
const RUNS = Number(process.env['CODEC_PROPERTY_RUNS'] ?? 5000);

// ---- the generator ---------------------------------------------------------------------------

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
] as const;

/** Keys, some of which superjson's dot-paths must escape, some of which look like indexes. */
const KEYS = ['a', 'b', 'id', 'a.b', 'x\\y', '.', '', '0', '12', 'json', 'meta', 'values', 'v', 'é', '😀', 'cause'];

/** Keys only plain JSON data may have (superjson refuses them; gen accepts them in plain types only). */
const PLAIN_ONLY_KEYS = ['constructor', 'prototype'];

const STRING_PARTS = [
  '',
  'a',
  'hello',
  'a.b',
  '\\',
  '"',
  '\n',
  'é',
  '😀',
  '\ud800',
  '\udfff',
  '__proto__',
  'NaN',
  '\u0000',
];

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  -1.25,
  1e21,
  1e-7,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  NaN,
  Infinity,
  -Infinity,
];

const URLS = [
  'https://example.com/',
  'https://example.com/a/b?q=1&r=%20#frag',
  'http://user:pw@host:8080/p',
  'file:///tmp/x.txt',
  'https://xn--exmple-cua.com/é',
  'data:text/plain,hi',
];

const REGEXP_SOURCES = ['a', '^a.b$', 'a/b', '[\\d]+', '(?:x|y)*', '\\/', '', '\\p{L}', 'é|😀'];

/** Which path of the codec a value took, and what was generated: for the log and the coverage checks. */
type Counts = Record<string, number>;

function bump(counts: Counts, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Where a value is generated: what it may be. */
interface Spot {
  readonly depth: number;
  /** A Set item or a Map key itself (counted: superjson alone moves a shared one to the end). */
  readonly key: boolean;
  /**
   * Plain JSON data only: the fast path's values (and keys superjson refuses may appear). Never
   * shared: that would leave the plain path, and superjson refuses those keys.
   */
  readonly plain: boolean;
  /** Inside an Error's cause (counted: superjson alone does not restore a reference there). */
  readonly inCause: boolean;
}

/**
 * Anything made may be shared by a later part of the value, or pointed back to from inside
 * (a cycle, the root included): a Set item, a Map key, an Error's cause, an object inside a
 * shared object, and NaN, whose repeats superjson records too.
 */
class Generator {
  /** Objects generated so far in the current value, which a later part may share. */
  private pool: object[] = [];
  /** The containers and Errors being built around the current part, which it may point back to. */
  private readonly ancestors: object[] = [];
  /** What holds a shared object or a cycle: sharing one again is sharing inside a shared object. */
  private holding = new Set<object>();

  constructor(
    private readonly r: Rand,
    readonly counts: Counts,
  ) {}

  /** A new top-level value, and the reasons the sender must refuse it (none if it must arrive). */
  next(): { value: unknown; plain: boolean; refusals: string[] } {
    this.pool = [];
    this.holding = new Set();
    const plain = this.chance(0.25);
    const value = this.value({ depth: 0, key: false, plain, inCause: false });
    return { value, plain, refusals: refusalsOf(value) };
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }

  private chance(p: number): boolean {
    return this.r() < p;
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  private value(spot: Spot): unknown {
    const { depth } = spot;
    // Causes are rare: what is in one is shared more often, to be met often enough.
    if (this.shares(spot) && depth > 0 && this.chance(spot.inCause ? 0.2 : 0.06)) {
      if (this.ancestors.length > 0 && this.chance(0.3)) {
        const ancestor = this.pick(this.ancestors);
        this.sharing(spot, ancestor === this.ancestors[0] ? ['cycle', 'cycle to the root'] : ['cycle']);
        return ancestor;
      }
      if (this.pool.length > 0) {
        const shared = this.pick(this.pool);
        this.sharing(
          spot,
          this.holding.has(shared) ? ['shared reference', 'shared inside a shared object'] : ['shared reference'],
        );
        return shared;
      }
    }
    const containers = depth < 4 && this.chance(depth === 0 ? 0.7 : 0.45);
    return containers ? this.container(spot) : this.leaf(spot);
  }

  private leaf(spot: Spot): unknown {
    if (spot.plain) {
      switch (this.int(4)) {
        case 0:
          return this.string();
        case 1:
          return this.pick([0, 1, -1, 0.5, 1e21, Number.MAX_SAFE_INTEGER, this.int(1e6) - 5e5]);
        case 2:
          return this.chance(0.5);
        default:
          return null;
      }
    }
    // NaN is one number of many: a Set item or Map key, where a repeated one is put back in its
    // place, is made NaN more often.
    if (spot.key && this.chance(0.05)) {
      bump(this.counts, 'NaN Set item or Map key');
      return NaN;
    }
    const kind = this.int(16);
    bump(
      this.counts,
      ['string', 'number', 'boolean', 'null', 'undefined', 'bigint', 'Date', 'RegExp', 'URL', 'Error'][kind] ??
        'typed array',
    );
    switch (kind) {
      case 0:
        return this.string();
      case 1:
        return this.chance(0.5) ? this.pick(NUMBERS) : (this.r() - 0.5) * 10 ** this.int(12);
      case 2:
        return this.chance(0.5);
      case 3:
        return null;
      case 4:
        return undefined;
      case 5:
        return BigInt(this.int(1e9)) ** BigInt(1 + this.int(4)) * (this.chance(0.5) ? -1n : 1n);
      case 6:
        return this.date(spot);
      case 7:
        return this.regexp(spot);
      case 8:
        return this.remember(new URL(this.pick(URLS)), spot);
      case 9:
        return this.error(spot);
      default:
        return this.typedArray(spot);
    }
  }

  private string(): string {
    let s = '';
    for (let n = this.int(4); n > 0; n--) s += this.pick(STRING_PARTS);
    return s;
  }

  private date(spot: Spot): Date {
    if (this.chance(0.02)) {
      bump(this.counts, 'invalid Date (refused)');
      return this.remember(new Date(NaN), spot);
    }
    const time = this.chance(0.1) ? this.pick([8.64e15, -8.64e15, 0, -1]) : this.int(4e12) - 1e12;
    return this.remember(new Date(time), spot);
  }

  private regexp(spot: Spot): RegExp {
    const flags = ['d', 'g', 'i', 'm', 's', 'y'].filter(() => this.chance(0.3)).join('');
    const unicode = this.pick(['', '', 'u', 'v']);
    const source = this.pick(REGEXP_SOURCES);
    // `\p{L}` needs a unicode flag.
    const re = new RegExp(source, flags + (source.includes('\\p') && unicode === '' ? 'u' : unicode));
    if (re.flags.includes('u') || re.flags.includes('v')) bump(this.counts, 'RegExp with u or v');
    return this.remember(re, spot);
  }

  private error(spot: Spot): Error {
    const Ctor = this.chance(0.8) ? Error : this.pick([TypeError, RangeError, SyntaxError, EvalError]);
    const message = this.string();
    const e = new Ctor(message);
    if (spot.depth < 3 && this.chance(0.3)) {
      bump(this.counts, 'Error with a cause');
      // Made before its cause, so that the cause may hold the Error itself: defined as the
      // constructor's `cause` option would (not enumerable).
      this.ancestors.push(e);
      const cause = this.value({ ...spot, depth: spot.depth + 1, key: false, inCause: true });
      this.ancestors.pop();
      Object.defineProperty(e, 'cause', { value: cause, writable: true, enumerable: false, configurable: true });
    }
    if (this.chance(0.2)) e.name = this.pick(['HttpError', '', 'Custom.Error', 'é']);
    return this.remember(e, spot);
  }

  private typedArray(spot: Spot): ArrayBufferView {
    const Ctor = this.pick(TYPED_ARRAYS);
    bump(this.counts, Ctor.name);
    const items: number[] = [];
    const float = Ctor === Float32Array || Ctor === Float64Array;
    for (let n = this.int(6); n > 0; n--) {
      if (float && this.chance(0.01)) items.push(this.pick([NaN, Infinity, -Infinity, -0]));
      else items.push(float ? (this.r() - 0.5) * 10 ** (this.int(80) - 40) : this.int(1 << 16) - (1 << 15));
    }
    const array = new Ctor(items);
    // What the array holds, not what it was given: a Float32Array rounds 1e39 to Infinity, -1e-50 to -0.
    if (float && Array.from(array).some(isBadFloat)) bump(this.counts, 'non-finite or -0 float (refused)');
    return this.remember(array, spot);
  }

  private container(spot: Spot): unknown {
    const inner: Spot = { ...spot, depth: spot.depth + 1, key: false };
    const n = this.int(5);
    const kind = spot.plain ? this.int(2) : this.int(6);
    bump(
      this.counts,
      spot.plain ? 'plain container' : (['object', 'array', 'Map', 'Set', 'tuple', 'dictionary'][kind] ?? '?'),
    );
    switch (kind) {
      case 0:
      case 5: {
        // A dictionary without a prototype arrives as a plain object: the data is the same.
        const o: Record<string, unknown> = kind === 5 ? (Object.create(null) as Record<string, unknown>) : {};
        this.ancestors.push(o);
        for (let i = 0; i < n; i++) {
          const k = spot.plain && this.chance(0.1) ? this.pick(PLAIN_ONLY_KEYS) : this.pick(KEYS);
          // An optional property left undefined: superjson records it, so it arrives present.
          const v = !spot.plain && this.chance(0.1) ? undefined : this.value(inner);
          // Every receiver refuses a `constructor` that holds a `prototype` (gen refuses its type).
          if (k === 'constructor' && typeof v === 'object' && v !== null)
            delete (v as Record<string, unknown>)['prototype'];
          o[k] = v;
        }
        this.ancestors.pop();
        return this.remember(o, spot);
      }
      case 1:
      case 4: {
        const a: unknown[] = [];
        this.ancestors.push(a);
        for (let i = 0; i < n; i++) a.push(this.value(inner));
        this.ancestors.pop();
        return this.remember(a, spot);
      }
      case 2: {
        const m = new Map<unknown, unknown>();
        this.ancestors.push(m);
        for (let i = 0; i < n; i++) m.set(this.value({ ...inner, key: true }), this.value(inner));
        this.ancestors.pop();
        return this.remember(m, spot);
      }
      default: {
        const s = new Set<unknown>();
        this.ancestors.push(s);
        for (let i = 0; i < n; i++) s.add(this.value({ ...inner, key: true }));
        this.ancestors.pop();
        return this.remember(s, spot);
      }
    }
  }

  /** Whether a part at `spot` may be, or be shared with, another part of the value. */
  private shares(spot: Spot): boolean {
    return !spot.plain;
  }

  /** Counts a shared object or a cycle made at `spot`, by kind and by where it is. */
  private sharing(spot: Spot, kinds: string[]): void {
    for (const kind of kinds) bump(this.counts, kind);
    if (spot.key) bump(this.counts, 'shared Set item or Map key');
    if (spot.inCause) bump(this.counts, 'shared in an Error cause');
    for (const a of this.ancestors) this.holding.add(a);
  }

  /** Makes an object available for sharing by the parts made after it. */
  private remember<T extends object>(o: T, spot: Spot): T {
    if (this.shares(spot)) this.pool.push(o);
    return o;
  }
}

/** NaN, an infinity or -0: a Float32Array or Float64Array holding one is refused (it would arrive as 0). */
function isBadFloat(x: number): boolean {
  return !Number.isFinite(x) || Object.is(x, -0);
}

/**
 * Why the sender must refuse `value` (what src/codec/sendable.ts says), or none: an invalid
 * Date, or a bad float in a Float32Array or Float64Array, anywhere in it. Worked out on the
 * value made, not while making it: a part may have been dropped (a key set twice, a Set item
 * added twice) or rounded (a Float32Array makes 1e39 Infinity and -1e-50 -0).
 */
function refusalsOf(value: unknown): string[] {
  const found = new Set<string>();
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) found.add('is an invalid Date');
    } else if (v instanceof Float32Array || v instanceof Float64Array) {
      if (Array.from(v).some(isBadFloat)) found.add(`in a ${v.constructor.name} (it would arrive as 0)`);
    } else if (v instanceof Map) {
      for (const [k, x] of v) {
        walk(k);
        walk(x);
      }
    } else if (v instanceof Set || Array.isArray(v)) {
      for (const x of v as Iterable<unknown>) walk(x);
    } else if (v instanceof Error) {
      walk(v.cause);
    } else if (!ArrayBuffer.isView(v) && !(v instanceof RegExp) && !(v instanceof URL)) {
      for (const x of Object.values(v)) walk(x);
    }
  };
  walk(value);
  return [...found];
}

// ---- the comparator --------------------------------------------------------------------------

/**
 * Where `got` differs from what a receiver must get for `sent`, or `undefined`. What arrives:
 * - primitives as they were (`Object.is`: -0 and NaN too), `undefined`-valued properties included;
 * - plain objects with the same own keys in the same order (a null-prototype one arrives with
 *   `Object.prototype`), arrays with the same items;
 * - a Date with the same time, a RegExp with the same source and flags, a URL with the same href;
 * - any Error as an `Error` (its class does not travel) with the same name, message and cause;
 * - Maps and Sets with the same entries in the same order; typed arrays of the same class and items;
 * - the same sharing: two places that hold one object in `sent` hold one object in `got`, and
 *   no other two do (a cycle arrives as a cycle).
 */
class Comparator {
  private readonly sentToGot = new Map<object, object>();
  private readonly gotToSent = new Map<object, object>();

  diff(sent: unknown, got: unknown, path: string): string | undefined {
    if (typeof sent !== 'object' || sent === null) {
      if (Object.is(sent, got)) return undefined;
      return `${path}: sent ${describe(sent)}, got ${describe(got)}`;
    }
    if (typeof got !== 'object' || got === null) return `${path}: sent an object, got ${describe(got)}`;
    const known = this.sentToGot.get(sent);
    if (known !== undefined) return known === got ? undefined : `${path}: a shared object arrived as a copy`;
    if (this.gotToSent.has(got)) return `${path}: two different objects arrived as one`;
    this.sentToGot.set(sent, got);
    this.gotToSent.set(got, sent);
    return this.object(sent, got, path);
  }

  private object(sent: object, got: object, path: string): string | undefined {
    const proto: unknown = Object.getPrototypeOf(sent);
    const gotProto: unknown = Object.getPrototypeOf(got);
    if (Array.isArray(sent)) {
      if (!Array.isArray(got) || gotProto !== Array.prototype) return `${path}: sent an array, got ${describe(got)}`;
      if (got.length !== sent.length) return `${path}: sent ${sent.length} items, got ${got.length}`;
      for (let i = 0; i < sent.length; i++) {
        const d = this.diff(sent[i], got[i], `${path}[${i}]`);
        if (d !== undefined) return d;
      }
      return undefined;
    }
    if (proto === Object.prototype || proto === null) {
      if (gotProto !== Object.prototype) return `${path}: sent a plain object, got ${describe(got)}`;
      const keys = Object.keys(sent);
      const gotKeys = Object.keys(got);
      if (keys.join('\u0001') !== gotKeys.join('\u0001')) {
        return `${path}: sent keys ${JSON.stringify(keys)}, got ${JSON.stringify(gotKeys)}`;
      }
      for (const key of keys) {
        const d = this.diff(
          (sent as Record<string, unknown>)[key],
          (got as Record<string, unknown>)[key],
          `${path}[${JSON.stringify(key)}]`,
        );
        if (d !== undefined) return d;
      }
      return undefined;
    }
    if (sent instanceof Error) {
      if (gotProto !== Error.prototype) return `${path}: sent an Error, got ${describe(got)}`;
      const e = got as Error;
      if (e.name !== sent.name || e.message !== sent.message) {
        return `${path}: sent ${describe(sent)}, got ${describe(e)}`;
      }
      return this.diff(sent.cause, e.cause, `${path}.cause`);
    }
    if (gotProto !== proto) return `${path}: sent ${describe(sent)}, got ${describe(got)}`;
    if (sent instanceof Date) {
      return Object.is(sent.getTime(), (got as Date).getTime())
        ? undefined
        : `${path}: sent ${describe(sent)}, got ${describe(got)}`;
    }
    if (sent instanceof RegExp) {
      const re = got as RegExp;
      return re.source === sent.source && re.flags === sent.flags && re.lastIndex === sent.lastIndex
        ? undefined
        : `${path}: sent ${String(sent)}, got ${String(re)}`;
    }
    if (sent instanceof URL) {
      return sent.href === (got as URL).href ? undefined : `${path}: sent ${sent.href}, got ${(got as URL).href}`;
    }
    if (sent instanceof Map || sent instanceof Set) {
      const a = [...(sent as Map<unknown, unknown>).entries()];
      const b = [...(got as Map<unknown, unknown>).entries()];
      if (a.length !== b.length) return `${path}: sent ${a.length} entries, got ${b.length}`;
      for (let i = 0; i < a.length; i++) {
        const [k, v] = a[i] as [unknown, unknown];
        const [gk, gv] = b[i] as [unknown, unknown];
        const d =
          this.diff(k, gk, `${path}<entry ${i} key>`) ??
          (sent instanceof Map ? this.diff(v, gv, `${path}<entry ${i} value>`) : undefined);
        if (d !== undefined) return d;
      }
      return undefined;
    }
    if (ArrayBuffer.isView(sent) && !(sent instanceof DataView)) {
      const a = sent as unknown as ArrayLike<number>;
      const b = got as unknown as ArrayLike<number>;
      if (a.length !== b.length) return `${path}: sent ${a.length} items, got ${b.length}`;
      for (let i = 0; i < a.length; i++) {
        if (!Object.is(a[i], b[i])) return `${path}[${i}]: sent ${describe(a[i])}, got ${describe(b[i])}`;
      }
      return undefined;
    }
    return `${path}: the generator made ${describe(sent)}, which the comparator does not know`;
  }
}

/** Whether superjson's text `text` records something met twice. */
function hasRefs(text: string): boolean {
  const meta = (JSON.parse(text) as { meta?: Record<string, unknown> }).meta;
  return meta !== undefined && 'referentialEqualities' in meta;
}

function describe(v: unknown): string {
  const text = inspect(v, { depth: 6, breakLength: Infinity, maxArrayLength: 12, maxStringLength: 40 });
  // An Error's stack says nothing here.
  return text.replace(/\n\s+at .*/g, '');
}

/** Where `got` differs from what a receiver must get for `sent`, or `undefined`. */
function arrivedAsSent(sent: unknown, got: unknown, root: string): string | undefined {
  return new Comparator().diff(sent, got, root);
}

// ---- the property ----------------------------------------------------------------------------

test('codec - every generated value of an accepted type arrives as sent, or the sender refuses it', (t) => {
  const counts: Counts = {};
  const gen = new Generator(prng(SEED), counts);
  const fail = (i: number, value: unknown, what: string): void => {
    t.fail(`seed ${SEED} (CODEC_PROPERTY_SEED=${SEED}), value #${i}: ${what}\n  value: ${describe(value)}`);
  };
  for (let i = 0; i < RUNS; i++) {
    const { value, plain, refusals } = gen.next();
    // The hint gen writes for the value's type: `true` for a plain type (the only kind that may
    // have a `constructor` key), else none or, for a type never plain, `false`.
    const hint = plain ? true : i % 2 === 1 ? false : undefined;
    let text: string;
    try {
      text = encode(value, EV, 0, hint);
    } catch (err) {
      if (!(err instanceof BadPayloadError)) return fail(i, value, `encode threw ${describe(err)}`);
      if (refusals.length === 0) return fail(i, value, `refused: ${err.message}`);
      if (!refusals.some((reason) => err.message.includes(reason))) {
        return fail(i, value, `refused for another reason than ${JSON.stringify(refusals)}: ${err.message}`);
      }
      bump(counts, 'path: refused by the sender');
      continue;
    }
    if (refusals.length > 0) return fail(i, value, `should have been refused (${refusals.join('; ')}): ${text}`);
    const path =
      hint !== false && encodePlain(value) !== undefined
        ? 'plain JSON'
        : encodeRich(value) !== undefined
          ? 'rich encoder'
          : 'superjson';
    bump(counts, `path: ${path}`);
    // Byte for byte what superjson writes: the fast encoders are only faster. (superjson refuses
    // a `constructor` or `prototype` key, which plain JSON data, written by the plain encoder, may
    // have.) Where superjson would record something met twice, the codec writes its own table
    // too (src/codec/refs.ts), and only its own decoder reads the text right.
    let reference: string;
    try {
      reference = superjson.stringify(value);
    } catch (err) {
      if (path !== 'plain JSON') return fail(i, value, `superjson refuses it (${describe(err)}), yet ${path} wrote it`);
      bump(counts, 'plain JSON with a key superjson refuses');
      reference = text;
    }
    const refs = hasRefs(reference);
    if (refs) {
      bump(counts, 'reference table');
      if (path !== 'superjson' || !text.includes('"cbRefs":') || !hasRefs(text)) {
        return fail(i, value, `encoded by ${path}, without both reference tables\n  ${text}`);
      }
    } else if (text !== reference) {
      return fail(i, value, `encoded\n  ${text}\n  superjson writes\n  ${reference}`);
    }
    let got: unknown;
    try {
      got = decode(text, EV, 1);
    } catch (err) {
      return fail(i, value, `decode threw ${describe(err)}\n  encoded: ${text}`);
    }
    const d =
      arrivedAsSent(value, got, 'payload') ??
      (refs ? undefined : arrivedAsSent(value, superjson.parse(text), 'superjson.parse'));
    if (d !== undefined) return fail(i, value, `${d}\n  encoded: ${text}`);
    // A sender that runs its own handler keeps the copy `copyPlain` made instead of decoding.
    const copy = copyPlain(value);
    if (copy !== NO_COPY) {
      bump(counts, 'own copy');
      const own =
        arrivedAsSent(value, copy, 'own copy') ?? arrivedAsSent(value, decode(plainText(copy), EV, 1), 'copied');
      if (own !== undefined) return fail(i, value, own);
    }
  }
  const tally = Object.entries(counts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([what, n]) => `${what}: ${n}`)
    .join(', ');
  t.log(`seed ${SEED}, ${RUNS} values: ${tally}`);
  // Every path and every kind was taken, often enough to mean something.
  const often = RUNS / 250;
  for (const path of ['plain JSON', 'rich encoder', 'superjson', 'refused by the sender']) {
    t.true((counts[`path: ${path}`] ?? 0) >= often, `path ${path}: ${counts[`path: ${path}`] ?? 0}`);
  }
  for (const kind of [
    ...TYPED_ARRAYS.map((c) => c.name),
    'Date',
    'RegExp',
    'RegExp with u or v',
    'URL',
    'Error',
    'Error with a cause',
    'bigint',
    'undefined',
    'Map',
    'Set',
    'dictionary',
    'shared reference',
    'cycle',
    'cycle to the root',
    'shared Set item or Map key',
    'shared in an Error cause',
    'shared inside a shared object',
    'NaN Set item or Map key',
    'reference table',
    'own copy',
    'plain JSON with a key superjson refuses',
  ]) {
    t.true((counts[kind] ?? 0) >= often, `${kind}: ${counts[kind] ?? 0}`);
  }
});

test('codec - the comparator sees what does not arrive as sent', (t) => {
  const o = { a: 1 };
  t.is(arrivedAsSent({ a: -0 }, { a: 0 }, 'p'), 'p["a"]: sent -0, got 0');
  t.truthy(arrivedAsSent({ a: undefined }, {}, 'p'));
  t.truthy(arrivedAsSent([o, o], [{ a: 1 }, { a: 1 }], 'p'));
  t.truthy(arrivedAsSent([{ a: 1 }, { a: 1 }], [o, o], 'p'));
  t.truthy(arrivedAsSent(new Set([1, 2]), new Set([2, 1]), 'p'));
  t.truthy(arrivedAsSent(new Map([[1, 'a']]), new Map([[1, 'b']]), 'p'));
  t.truthy(arrivedAsSent(new Uint8Array([1]), new Int8Array([1]), 'p'));
  t.truthy(arrivedAsSent(new Float64Array([NaN]), new Float64Array([0]), 'p'));
  t.truthy(arrivedAsSent(new Date(NaN), new Date(0), 'p'));
  t.truthy(arrivedAsSent(/a/g, /a/i, 'p'));
  t.truthy(arrivedAsSent(new Error('m', { cause: 1 }), new Error('m'), 'p'));
  t.truthy(arrivedAsSent(new URL('https://a/'), 'https://a/', 'p'));
  t.is(arrivedAsSent(new TypeError('m'), Object.assign(new Error('m'), { name: 'TypeError' }), 'p'), undefined);
  const cycle: Record<string, unknown> = {};
  cycle['self'] = cycle;
  t.is(arrivedAsSent(cycle, decode(encode(cycle, EV, 0), EV, 0), 'p'), undefined);
});

/**
 * The shapes superjson's own `meta.referentialEqualities` restore wrongly, which is why the
 * codec writes a table of its own (src/codec/refs.ts); the generator above makes them too, at
 * random.
 *
 * First: an object, or NaN, that is a Set item or a Map key and is also found elsewhere in the
 * value. superjson writes one of the two places as a reference to the other (the shorter path
 * is kept) and restores a Set item or Map key by deleting it and adding it again, which moves
 * it to the end of its Set or Map.
 */
test('codec - a shared object or NaN that is a Set item or a Map key keeps its place', (t) => {
  const o = { k: 1 };
  const d = new Date(1);
  for (const value of [
    { o, s: new Set<unknown>([o, 2]) },
    { n: NaN, s: new Set([NaN, 1]) },
    {
      o,
      m: new Map<unknown, number>([
        [o, 1],
        ['x', 2],
      ]),
    },
    { d, s: new Set([d, new Date(2)]) },
  ]) {
    t.is(arrivedAsSent(value, decode(encode(value, EV, 0), EV, 1), 'payload'), undefined);
  }
});

/**
 * Second: superjson restores references one object after another, references to the payload
 * itself first, and the path it restores one through may run through a place that a later one
 * replaces with a copy. A shared object inside another shared object would arrive as two
 * objects, `{"p.t.x":["p.q.r.s"],"z":["p.t"]}`; a reference back to the payload inside a shared
 * object as `null`, `[["a.b.back"],{"z":["a.b"]}]` (the copy's JSON has `null` there).
 */
test('codec - references inside a shared object arrive', (t) => {
  const x = { n: 1 };
  const y = { x };
  const nested = { p: { q: { r: { s: x } }, t: y }, z: y };
  const root: Record<string, unknown> = {};
  const shared = { back: root };
  root['a'] = { b: shared };
  root['z'] = shared;
  for (const value of [nested, root]) {
    t.is(arrivedAsSent(value, decode(encode(value, EV, 0), EV, 1), 'payload'), undefined);
  }
});

/**
 * Third: superjson does not follow a path through an Error, so a reference into an Error's
 * cause is never restored: a cause that is shared would arrive as a copy, and a cause that is
 * (or holds) a cycle with `null` in its place.
 */
test('codec - an Error cause that is shared or part of a cycle arrives as such', (t) => {
  const c = { z: 1 };
  const root: Record<string, unknown> = {};
  root['e'] = new Error('m', { cause: root });
  const self: Record<string, unknown> = { n: 1 };
  self['self'] = self;
  for (const value of [{ c, e: new Error('m', { cause: c }) }, root, { e: new Error('m', { cause: self }) }]) {
    t.is(arrivedAsSent(value, decode(encode(value, EV, 0), EV, 1), 'payload'), undefined);
  }
});
