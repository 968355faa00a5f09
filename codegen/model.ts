/**
 * The contract model: plain data the read stage builds from a contract file and the emit
 * stage turns into code. Nothing here touches the file system or TypeScript.
 */
import type { BroadcastEventOptions, ConsumeEventOptions, MapEventOptions } from '../src/contract.js';

/** A position in a source file. `line` and `col` are 1-based; `file` is an absolute path. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** The kind of an event, named after its marker: `Broadcast`, `Consume`, `MapCall`. */
export type EventKind = 'broadcast' | 'consume' | 'map';

/** The name of the marker type of each kind. */
export const MARKER_NAMES = {
  broadcast: 'Broadcast',
  consume: 'Consume',
  map: 'MapCall',
} as const satisfies Record<EventKind, string>;

/** The kind of each marker name. */
export const KIND_OF_MARKER: Readonly<Record<string, EventKind>> = {
  Broadcast: 'broadcast',
  Consume: 'consume',
  MapCall: 'map',
};

/** The module users import the markers from. */
export const CONTRACT_MODULE = 'clusterbus/contract';

/** The module the generated code imports the run time from. */
export const RUNTIME_MODULE = 'clusterbus';

type OptionSpec<O> = { readonly [K in keyof Required<O>]: Required<O>[K] extends boolean ? 'boolean' : 'number' };

/**
 * The options each kind accepts, with the literal type each one needs, in the order the
 * generated table lists them. Checked against the option interfaces of `src/contract.ts`:
 * an option added there and not here (or the reverse) does not compile.
 */
export const EVENT_OPTIONS = {
  broadcast: { maxPayloadBytes: 'number' },
  consume: { timeoutMs: 'number', redeliver: 'boolean', maxPayloadBytes: 'number' },
  map: { timeoutMs: 'number', maxResultBytes: 'number', maxPayloadBytes: 'number' },
} as const satisfies {
  readonly broadcast: OptionSpec<BroadcastEventOptions>;
  readonly consume: OptionSpec<ConsumeEventOptions>;
  readonly map: OptionSpec<MapEventOptions>;
};

/** The name of any option. */
export type OptionName = {
  [K in EventKind]: keyof (typeof EVENT_OPTIONS)[K];
}[EventKind];

/** The value of one option as declared (a literal type in the contract). */
export type OptionValue = number | boolean;

/** One option of an event. */
export interface EventOption {
  readonly name: OptionName;
  readonly value: OptionValue;
}

/**
 * What the generator knows of a payload or result type, for the run time's choice of codec:
 * - `'plain'`: every value of the type is plain JSON data, which `JSON.stringify` writes as
 *   superjson would (the run time still checks each value);
 * - `'rich'`: no value of the type is plain JSON data: each one holds a value JSON cannot
 *   carry (a `Date`, `Map`, `Set`, `bigint`, `RegExp`, `URL`, `Error`, typed array or a
 *   required `undefined` property), so the run time goes straight to superjson;
 * - `'unknown'`: some values may be plain and others not (an optional `Date`, a union of a
 *   plain and a rich type, `unknown`…): the run time checks each value.
 */
export type Plainness = 'plain' | 'rich' | 'unknown';

/** One event of a contract. */
export interface EventModel {
  /** The event name, as the messenger's calls take it. */
  readonly name: string;
  readonly kind: EventKind;
  /** Options in the order of {@link EVENT_OPTIONS} (not the contract's order). */
  readonly options: readonly EventOption[];
  /**
   * What the payload type is (see {@link Plainness}): the generated table says
   * `plainPayload: true` when it is `'plain'`, `plainPayload: false` when it is `'rich'`, and
   * nothing when it is `'unknown'`.
   */
  readonly plainPayload: Plainness;
  /** The same for the result type of a `MapCall` (`plainResult`); always `'unknown'` for the other kinds. */
  readonly plainResult: Plainness;
  /**
   * A hash of the event's kind, payload and result structure and options (see
   * read/fingerprint.ts): processes with different fingerprints for an event do not exchange it.
   */
  readonly fingerprint: string;
  /**
   * The event's JSDoc, one entry per line, without the comment delimiters and the leading
   * `*`; `undefined` when the event has none.
   */
  readonly doc: readonly string[] | undefined;
  /** The interface that declares the event. */
  readonly interfaceName: string;
  /** Where the event's property is declared. */
  readonly loc: SourceLocation;
}

/** One event interface of a contract. */
export interface InterfaceModel {
  readonly name: string;
  readonly loc: SourceLocation;
}

/** A contract file, read and checked. */
export interface ContractModel {
  /** Absolute path of the contract file. */
  readonly file: string;
  /** Its event interfaces, sorted by name, each name once. */
  readonly interfaces: readonly InterfaceModel[];
  /** Its events, sorted by name (UTF-16 code unit order). */
  readonly events: readonly EventModel[];
}

/** Compares two strings by UTF-16 code units, independently of the locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
