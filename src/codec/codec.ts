/**
 * Payload encoding: superjson, so that Date, Map, Set, bigint, undefined, RegExp, URL and
 * Error arrive as they were sent, with shared references and cycles restored by the codec
 * itself (refs.ts). Encoding happens once, in the sender, which refuses what a receiver would
 * not get back as sent (sendable.ts); the master never decodes. Decoding refuses anything
 * that could pollute a prototype.
 */
import { BadPayloadError } from '../errors.js';
import { encodePlain } from './plain-json.js';
import { parseWithoutRefs, restoreRefs, stringifyWithRefs, takeRefs } from './refs.js';
import { decodeRich, encodeRich } from './rich-json.js';
import { findUnsendable } from './sendable.js';

/**
 * Encodes a payload or result into superjson's format (with the codec's own table of shared
 * references where it has any, refs.ts); throws `BadPayloadError` for a value a receiver
 * would not get back as sent, naming the event and where in the value the trouble is
 * (`cannot send "orders.new": payload.items[2].cb is a function`). The fastest encoder that
 * knows the value writes it: the plain-JSON one (skipped when the generator says the type is
 * `plain: false`), then the rich one, then superjson itself. `what` starts the path: a map
 * handler's return value is a `result`.
 */
export function encode(
  value: unknown,
  event: string,
  worker: number,
  plain?: boolean,
  what: 'payload' | 'result' = 'payload',
): string {
  if (plain !== false) {
    const fast = encodePlain(value);
    if (fast !== undefined) return fast;
  }
  try {
    const rich = encodeRich(value);
    if (rich !== undefined) return rich;
    // The fast encoders take only what they carry as sent (bar the properties no JSON encoder
    // sees, see sendable.ts); superjson takes anything and may drop or change it without a
    // word, so what reaches it is checked first.
    const bad = findUnsendable(value, what);
    if (bad !== undefined) {
      throw new BadPayloadError(`cannot send "${event}": ${bad.path} ${bad.reason}`, { event, worker });
    }
    return stringifyWithRefs(value);
  } catch (err) {
    if (err instanceof BadPayloadError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new BadPayloadError(`cannot encode "${event}": ${reason}`, { event, worker });
  }
}

/** Decodes what `encode` produced; throws `BadPayloadError` for anything malformed or unsafe. */
export function decode(text: string, event: string, worker: number): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BadPayloadError(`cannot decode "${event}": ${(err as Error).message}`, { event, worker });
  }
  // Only a text that names one of the dangerous keys ("__proto__", "prototype": both contain
  // "proto") needs the walk. A key can also be spelled with JSON escapes ("\u005f_proto__",
  // "\u0070rototype"), which JSON.parse decodes: a text with any \u escape is walked too, or
  // the guard could be bypassed.
  if ((text.includes('proto') || text.includes('\\u')) && hasPollutingKey(parsed)) {
    throw new BadPayloadError(`payload of "${event}" has a __proto__ or constructor.prototype key`, { event, worker });
  }
  // Without metadata there is nothing for superjson to restore: the value is `json` as parsed.
  if (typeof parsed === 'object' && parsed !== null && !('meta' in parsed) && 'json' in parsed) {
    return (parsed as { json: unknown }).json;
  }
  try {
    const refs = takeRefs(parsed);
    // The common annotations are applied directly; anything else is superjson's to restore.
    const fast = decodeRich(parsed as { json: unknown; meta?: unknown });
    // The rich decoder may have restored part of `parsed` in place before it gave up (say, a
    // RegExp before a typed array): superjson would restore that part again, and a RegExp made
    // from a RegExp throws. It gets the text parsed afresh, with the tables taken out again.
    const value = fast ? fast.value : parseWithoutRefs(text);
    return refs === undefined ? value : restoreRefs(value, refs);
  } catch (err) {
    throw new BadPayloadError(`cannot decode "${event}": ${(err as Error).message}`, { event, worker });
  }
}

function hasPollutingKey(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return true;
    const ctor = (v as Record<string, unknown>).constructor;
    if (
      Object.prototype.hasOwnProperty.call(v, 'constructor') &&
      typeof ctor === 'object' &&
      ctor !== null &&
      Object.prototype.hasOwnProperty.call(ctor, 'prototype')
    ) {
      return true;
    }
    for (const child of Object.values(v)) stack.push(child);
  }
  return false;
}

/**
 * Size of an encoded text in bytes, as it crosses the channel (UTF-8). Skips the count when
 * the text cannot possibly exceed `limit` (a UTF-16 unit is at most 3 UTF-8 bytes).
 */
export function exceeds(text: string, limit: number): number | undefined {
  if (text.length * 3 <= limit) return undefined;
  const size = Buffer.byteLength(text, 'utf8');
  return size > limit ? size : undefined;
}
