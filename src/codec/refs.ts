/**
 * Shared references and cycles on superjson's path, which superjson itself restores wrongly:
 * its `referentialEqualities` keep the shortest path of each object as the one to copy from,
 * and are applied one object after another, so that a later one can replace an object an
 * earlier one was restored into, and a path through an Error is never followed; a Set item or
 * Map key is restored by deleting and adding it, which moves it to the end; and a cycle is
 * written as `null`, so that two of them in one Set (or a cycle next to a `null`) become one
 * item before anything is restored.
 *
 * So the sender has superjson write each object (and each NaN, and each bigint, which it
 * tracks by value) only where its walk first meets it, with `{}` everywhere it meets it again,
 * and writes its own table of those places in `meta.cbRefs`. The receiver lets superjson
 * restore the value with the `{}`s in it, finds every place of the table in that tree before
 * it changes anything, then puts each object where it belongs.
 *
 * superjson's own table, `meta.referentialEqualities`, travels too: a receiver that leaves the
 * whole text to superjson (an older clusterbus, met during a rolling reload) knows nothing of
 * `cbRefs` and would otherwise get the `{}`s themselves wherever something was met again.
 * With `dedupe`, superjson's table names the same first places as `cbRefs`, so superjson puts
 * each object into its later places over the `{}`s, the flaws above included: there a later
 * Set item or Map key moves to the end, and a later place in an Error (its cause or name)
 * keeps its `{}`, superjson not setting through an Error. A receiver that reads `cbRefs` drops
 * superjson's table before superjson restores anything: applied as well, it would move Set
 * items and Map keys, and replace what `cbRefs` then restores. A text with superjson's table
 * alone (from an older sender, or superjson itself) is left to superjson.
 *
 * `meta.cbRefs` is a list of groups, one for each thing met more than once, in any order. A
 * group lists paths from the root of the value: first where the thing is written, then every
 * place that holds `{}` for it. A path is a list of steps: a string for a plain object's key or
 * an Error's `name` or `cause` (what superjson carries of an Error that can be an object), a
 * whole number for an array index, a Set item (counted in insertion order), or a Map entry
 * (likewise) followed by 0 for its key or 1 for its value. The root is `[]`. For example
 * `{a: o, s: new Set([o])}` travels as
 * `{"json":{"a":{…},"s":[{}]},"meta":{"values":{"s":["set"]},`
 * `"referentialEqualities":{"a":["s.0"]},"v":1,"cbRefs":[[["a"],["s",0]]]}}`.
 *
 * Every path of a group runs only through places where the walk met something for the first
 * time: it does not go into what it met before. So none of them runs through a place the
 * receiver replaces, and the order the replacements are made in does not matter.
 */
import { SuperJSON, type SuperJSONResult } from 'superjson';
import { splitSuperjsonPath } from './superjson-path.js';

/**
 * superjson for the codec alone: nothing registered on the default instance by the
 * application applies, and what it meets again it writes as `null` (`dedupe`), once only.
 */
export const codecSuperjson = new SuperJSON({ dedupe: true });

/** One step of a path in `meta.cbRefs`. */
type Step = string | number;

/** Where the table sits in `meta`: superjson knows nothing of it and leaves it alone. */
const REFS_KEY = 'cbRefs';

/** The codec's text for `value` on superjson's path (the module's comment says what is in it). */
export function stringifyWithRefs(value: unknown): string {
  const out = codecSuperjson.serialize(value);
  const equalities = out.meta?.referentialEqualities;
  if (out.meta === undefined || equalities === undefined) return JSON.stringify(out);
  const groups: Step[][][] = [];
  const add = (first: readonly string[], later: readonly string[]): void => {
    const group = [steps(out.json, first, false)];
    for (const path of later) group.push(steps(out.json, splitPath(path), true));
    groups.push(group);
  };
  // The root's group comes apart from the others: `''` there is the path of a key `''`.
  const [root, others] = Array.isArray(equalities) ? equalities : [undefined, equalities];
  if (root !== undefined) add([], root);
  for (const [first, later] of Object.entries(others ?? {})) add(splitPath(first), later);
  // superjson's table stays, for the receivers that read only it.
  return JSON.stringify({ json: out.json, meta: { ...out.meta, [REFS_KEY]: groups } });
}

/**
 * The steps of superjson's path `segments` in the `json` it wrote, a number wherever that json
 * is an array (an array, a Set, a Map, a Map entry). A place met again (`later`) holds `null`
 * there, which becomes the placeholder: one `null` for each would make two of them in a Set,
 * or one next to a real `null`, a single item.
 */
function steps(json: unknown, segments: readonly string[], later: boolean): Step[] {
  const out: Step[] = [];
  let node = json;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (typeof node !== 'object' || node === null) throw new Error('a reference path runs through a leaf');
    let step: Step = segment;
    if (Array.isArray(node)) {
      step = Number(segment);
      if (!Number.isInteger(step) || step < 0 || step >= node.length)
        throw new Error('a reference path has no such index');
    } else if (!Object.prototype.hasOwnProperty.call(node, segment)) {
      throw new Error('a reference path has no such key');
    }
    out.push(step);
    const holder = node as Record<Step, unknown>;
    if (later && i === segments.length - 1) {
      if (holder[step] !== null) throw new Error('a repeated reference was written out in full');
      holder[step] = {};
    }
    node = holder[step];
  }
  return out;
}

/** superjson's escaped dot-path, split. */
function splitPath(path: string): string[] {
  const segments = splitSuperjsonPath(path);
  if (segments === undefined) throw new Error(`superjson wrote a reference path with an unknown escape: ${path}`);
  return segments;
}

// ---- decoding ------------------------------------------------------------------------------

/** A malformed table: the caller makes it a `BadPayloadError`. */
class BadRefs extends Error {}

/** Keys a path may not take, on top of having to name an own property. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Where a path ends: the place a replacement goes. */
type Slot =
  | { readonly kind: 'root' }
  | { readonly kind: 'property'; readonly holder: Record<string, unknown>; readonly key: string }
  | { readonly kind: 'index'; readonly holder: unknown[]; readonly index: number }
  | { readonly kind: 'item'; readonly holder: Set<unknown>; readonly index: number }
  | { readonly kind: 'entry'; readonly holder: Map<unknown, unknown>; readonly index: number; readonly side: 0 | 1 };

const ROOT: Slot = { kind: 'root' };

/**
 * Takes `meta.cbRefs` out of a parsed text, and superjson's `referentialEqualities` with it,
 * so that what is left is superjson's to restore and the codec's table is the only one
 * applied; returns the codec's table, `undefined` when there is none (superjson's table, if
 * any, then stays for superjson).
 */
export function takeRefs(parsed: unknown): unknown {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const meta = (parsed as { meta?: unknown }).meta;
  if (typeof meta !== 'object' || meta === null || !Object.prototype.hasOwnProperty.call(meta, REFS_KEY)) {
    return undefined;
  }
  const table = (meta as Record<string, unknown>)[REFS_KEY];
  delete (meta as Record<string, unknown>)[REFS_KEY];
  delete (meta as Record<string, unknown>)['referentialEqualities'];
  return table;
}

/**
 * `codecSuperjson.parse(text)`, but with the tables of shared references taken out as
 * `takeRefs` takes them: where the codec's table is there, the value comes without superjson
 * having restored any reference, for `restoreRefs`.
 */
export function parseWithoutRefs(text: string): unknown {
  const parsed = JSON.parse(text) as SuperJSONResult;
  takeRefs(parsed);
  return codecSuperjson.deserialize(parsed, { inPlace: true });
}

/**
 * Puts every thing of the table `table` (from `takeRefs`) back in the places it was met again
 * in `root`, as restored by superjson; returns the root. Throws for a table that is not one
 * `stringifyWithRefs` could have written in shape, or names a place `root` does not have. A
 * path only ever goes to an own property of a plain object, `name` or `cause` of an Error, an
 * index within an array, a Set or a Map: it cannot leave the value, nor reach a prototype.
 * Each step is one lookup (a Set or Map is listed once), so a hostile table costs no more
 * than its length.
 */
export function restoreRefs(root: unknown, table: unknown): unknown {
  if (!Array.isArray(table)) throw new BadRefs('the reference table is not a list');
  const listed = new Map<object, unknown[]>();
  const moves: [Slot, unknown][] = [];
  for (const group of table as unknown[]) {
    if (!Array.isArray(group) || group.length < 2) {
      throw new BadRefs('a reference group is not a list of 2 paths or more');
    }
    const target = locate(root, group[0], listed).value;
    if (!isReferable(target)) throw new BadRefs('a reference path leads to a primitive');
    for (let i = 1; i < group.length; i++) {
      const { slot } = locate(root, group[i], listed);
      if (slot.kind === 'root') throw new BadRefs('a reference replaces the root');
      moves.push([slot, target]);
    }
  }
  const changed = new Set<Set<unknown> | Map<unknown, unknown>>();
  for (const [slot, target] of moves) {
    switch (slot.kind) {
      case 'property':
        slot.holder[slot.key] = target;
        break;
      case 'index':
        slot.holder[slot.index] = target;
        break;
      case 'item':
        (listed.get(slot.holder) as unknown[])[slot.index] = target;
        changed.add(slot.holder);
        break;
      case 'entry':
        ((listed.get(slot.holder) as unknown[])[slot.index] as [unknown, unknown])[slot.side] = target;
        changed.add(slot.holder);
        break;
      default:
        break;
    }
  }
  // Rebuilt in order, so that a replaced item or key keeps its place.
  for (const holder of changed) {
    const items = listed.get(holder) as unknown[];
    holder.clear();
    if (holder instanceof Set) for (const item of items) holder.add(item);
    else for (const [key, value] of items as [unknown, unknown][]) holder.set(key, value);
  }
  return root;
}

/** What superjson records as met again: an object, NaN or a bigint. */
function isReferable(v: unknown): boolean {
  return (typeof v === 'object' && v !== null) || typeof v === 'bigint' || Number.isNaN(v);
}

/**
 * The place `path` names in `root`, and what is there before anything is replaced. `listed`
 * keeps each Set's items and each Map's entries (as fresh pairs) as first listed, which is
 * also what a replacement changes until the Set or Map is rebuilt.
 */
function locate(root: unknown, path: unknown, listed: Map<object, unknown[]>): { slot: Slot; value: unknown } {
  if (!Array.isArray(path)) throw new BadRefs('a reference path is not a list');
  let slot: Slot = ROOT;
  let value = root;
  for (let i = 0; i < path.length; i++) {
    const step: unknown = path[i];
    if (typeof value !== 'object' || value === null) throw new BadRefs('a reference path runs through a primitive');
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === Object.prototype) {
      const holder = value as Record<string, unknown>;
      if (typeof step !== 'string' || FORBIDDEN.has(step) || !Object.prototype.hasOwnProperty.call(holder, step)) {
        throw new BadRefs('a reference path names no key of an object');
      }
      slot = { kind: 'property', holder, key: step };
      value = holder[step];
    } else if (proto === Array.prototype && Array.isArray(value)) {
      const index = indexIn(step, value.length);
      slot = { kind: 'index', holder: value, index };
      value = value[index];
    } else if (proto === Set.prototype) {
      const holder = value as Set<unknown>;
      const items = list(holder, listed, () => Array.from(holder));
      const index = indexIn(step, items.length);
      slot = { kind: 'item', holder, index };
      value = items[index];
    } else if (proto === Map.prototype) {
      const holder = value as Map<unknown, unknown>;
      const entries = list(holder, listed, () => Array.from(holder));
      const index = indexIn(step, entries.length);
      const side: unknown = path[++i];
      if (side !== 0 && side !== 1) throw new BadRefs('a reference path into a Map entry names neither key nor value');
      slot = { kind: 'entry', holder, index, side };
      value = (entries[index] as [unknown, unknown])[side];
    } else if (proto === Error.prototype) {
      const holder = value as unknown as Record<string, unknown>;
      if ((step !== 'cause' && step !== 'name') || !Object.prototype.hasOwnProperty.call(holder, step)) {
        throw new BadRefs('a reference path names neither the name nor the cause of an Error');
      }
      slot = { kind: 'property', holder, key: step };
      value = holder[step];
    } else {
      throw new BadRefs('a reference path runs through a value that holds no references');
    }
  }
  return { slot, value };
}

function indexIn(step: unknown, length: number): number {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step >= length) {
    throw new BadRefs('a reference path has an index out of range');
  }
  return step;
}

function list(holder: object, listed: Map<object, unknown[]>, make: () => unknown[]): unknown[] {
  let items = listed.get(holder);
  if (items === undefined) {
    items = make();
    listed.set(holder, items);
  }
  return items;
}
