/**
 * The vocabulary frames are declared in: field kinds (what a well-formed value is, and the
 * TypeScript type it stands for), whether a field may be absent, and the part a field plays
 * when neighbouring envelopes share one run record in a batch. A frame's declaration is an
 * object of these (see `frames.ts`); everything else about a field (its type, its check, how a
 * batch carries it) is derived from it, so that a new field is one declaration line.
 */

/** Carries a field's value type for inference only; no field object has it at run time. */
declare const valueType: unique symbol;

/**
 * The part a field plays in a batch record (see `src/transports/stream/batch.ts`):
 * - `shared`: the same in every envelope of a run, so a run header holds it once;
 * - `key`: the envelope's own id; a run header lists them as `run`;
 * - `each`: differs per envelope of a run; a run header lists them under the field's name;
 * - `payload`: an encoded string, copied after the header instead of escaped inside it;
 * - `payloads`: a list of such strings; the header holds their number. Never in a run;
 * - `outcomes`: map outcomes, whose successful results travel like payloads;
 * - `solo`: only in envelopes that travel alone: one that has it never joins a run.
 */
export type Role = 'shared' | 'key' | 'each' | 'payload' | 'payloads' | 'outcomes' | 'solo';

/** One field of a frame: value type `T`, optional when `O` is true. */
export interface Field<T = unknown, O extends boolean = boolean> {
  /** Whether a present value is well formed. Never true for `undefined`: absence is `optional`'s business. */
  readonly check: (v: unknown) => boolean;
  readonly optional: O;
  readonly role: Role;
  /**
   * Set for a field that must be present exactly when another field of the frame has a value,
   * and is not looked at otherwise (see `when`).
   */
  readonly when?: Condition;
  readonly [valueType]?: T;
}

/** Another field of the same frame having a constant value. */
export interface Condition {
  readonly field: string;
  readonly is: string | number | boolean;
}

/** A frame's fields, by wire key. */
export type Fields = Readonly<Record<string, Field>>;

/** The value type of a field. */
export type ValueOf<F> = F extends Field<infer T, boolean> ? T : never;

/** Flattens an intersection so that editors show one object type. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * The object type a field declaration describes. Mapping over the declaration's own keys keeps
 * their order and their doc comments, so editors show a frame's fields as declared.
 */
export type Shape<F extends Fields> = Simplify<
  { -readonly [K in keyof F as F[K] extends Field<unknown, false> ? K : never]: ValueOf<F[K]> } & {
    -readonly [K in keyof F as F[K] extends Field<unknown, false> ? never : K]?: ValueOf<F[K]>;
  }
>;

const kind = <T>(check: (v: unknown) => boolean): Field<T, false> => ({ check, optional: false, role: 'shared' });

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** A string. */
export const str = kind<string>(isStr);
/** Any number (sizes and deadlines as an error reports them). */
export const num = kind<number>((v) => typeof v === 'number');
/** A safe integer. */
export const int = kind<number>(isInt);
/** A safe integer above 0: ids, deadlines and limits. */
export const posInt = kind<number>((v) => isInt(v) && v > 0);
/** A safe integer of 0 or more. */
export const count = kind<number>((v) => isInt(v) && v >= 0);
export const bool = kind<boolean>((v) => typeof v === 'boolean');

/** One of a few constants. */
export function oneOf<const V extends string | number | boolean>(...values: V[]): Field<V, false> {
  // Spelled out for up to three values: the check runs for every frame, and a comparison chain
  // is cheaper than a search of the list.
  const [a, b = a, c = b] = values;
  return kind<V>(values.length <= 3 ? (v) => v === a || v === b || v === c : (v) => values.includes(v as V));
}

/** A list of at least `min` and at most `max` items of one kind. */
export function listOf<T>(
  item: Field<T>,
  { min = 0, max = Infinity }: { min?: number; max?: number } = {},
): Field<T[], false> {
  const check = item.check;
  return kind<T[]>((v) => Array.isArray(v) && v.length >= min && v.length <= max && v.every(check));
}

/** A value of type `T` checked by a function of one's own, for shapes the kinds above do not cover. */
export function custom<T>(check: (v: unknown) => boolean): Field<T, false> {
  return kind<T>(check);
}

/** The field may be absent (or `undefined`). */
export function optional<T>(field: Field<T, false>): Field<T, true> {
  return { ...field, optional: true };
}

/**
 * The field must be present and well formed when `field` is `is`, and is not looked at
 * otherwise: a reply's result only if it succeeded, its error only if it failed. Cheaper than a
 * `refine` rule, as the field is not even read when it does not apply.
 */
export function when<T>(field: string, is: Condition['is'], of: Field<T, false>): Field<T, true> {
  return { ...of, optional: true, when: { field, is } };
}

const withRole =
  (role: Role) =>
  <T, O extends boolean>(field: Field<T, O>): Field<T, O> => ({ ...field, role });

/** The envelope's id: a run header lists the ids of its envelopes as `run`. */
export const key = withRole('key');
/** Differs between the envelopes of one run: the run header lists every envelope's value. */
export const each = withRole('each');
/** An encoded payload or result, which travels after the record header, unescaped. */
export const payload = withRole('payload');
/** A list of encoded payloads, which travel after the record header; the header holds their number. */
export const payloads = withRole('payloads');
/** Map outcomes `[worker, ok, result or error]`: successful results travel like payloads. */
export const outcomes = withRole('outcomes');
/** Only in an envelope that travels alone; one that has it never joins a run. */
export const solo = withRole('solo');
