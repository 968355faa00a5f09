/**
 * Contract markers: the type-only vocabulary of a contracts file.
 *
 * ```ts
 * import type { Broadcast, Consume, MapCall } from 'clusterbus/contract';
 * export interface ShopEvents {
 *   'cache.invalidate': Broadcast<{ keys: string[] }>;
 *   'order.charge': Consume<{ orderId: string }, { timeoutMs: 5000 }>;
 *   'cache.stats': MapCall<{ detailed: boolean }, { entries: number }>;
 * }
 * ```
 *
 * The markers carry no run-time value; `clusterbus gen` reads them and the generated
 * messenger uses them to type every call.
 *
 * @module
 */

/**
 * Brand that makes the three markers distinct to the compiler. It is a `unique symbol`
 * so that nothing but a marker can look like a marker.
 */
export declare const eventKind: unique symbol;

/** Options an event declares in its contract for a `Broadcast`. */
export interface BroadcastEventOptions {
  /** Largest serialised payload, in bytes. Default: the bus's `maxPayloadBytes` (8 MiB). */
  readonly maxPayloadBytes?: number;
}

/** Options an event declares in its contract for a `Consume`. */
export interface ConsumeEventOptions {
  /** Deadline of one `consume`, from the call until the handler finished. Default: the bus's `timeoutMs` (10 000). */
  readonly timeoutMs?: number;
  /** Redeliver the task once to another worker if the worker running it dies. Default: `true`. */
  readonly redeliver?: boolean;
  /** Largest serialised payload, in bytes. Default: the bus's `maxPayloadBytes` (8 MiB). */
  readonly maxPayloadBytes?: number;
}

/** Options an event declares in its contract for a `MapCall`. */
export interface MapEventOptions {
  /** Deadline of one `map` / `mapSettled`. Default: the bus's `timeoutMs` (10 000). */
  readonly timeoutMs?: number;
  /** Largest serialised result of one worker, in bytes. Default: 1 MiB (1 048 576). */
  readonly maxResultBytes?: number;
  /** Largest serialised payload, in bytes. Default: the bus's `maxPayloadBytes` (8 MiB). */
  readonly maxPayloadBytes?: number;
}

/** The options an event declares when it declares none. */
export type NoOptions = Record<never, never>;

/**
 * `O` must only use the keys of `Allowed`: a typo such as `timeoutMS` becomes a compile
 * error in the contract file, at the options argument, whose explanation names the property
 * ("Types of property 'timeoutMS' are incompatible. Type '1' is not assignable to type
 * '"not an option of this event kind"'").
 */
export type OnlyKnownOptions<O, Allowed> = Allowed & {
  readonly [K in Exclude<keyof O, keyof Allowed>]: 'not an option of this event kind';
};

/*
 * `Options` is invariant (`in out`): a marker is assignable to another only when their options
 * are the same both ways. A generated file checks itself against its contract with a single
 * assignment of its own copy of the markers (`Consume<never, { timeoutMs: 5000 }>`), which then
 * fails for an option added, removed or changed, at a cost the compiler pays once per event.
 */

/**
 * An event delivered to every ready worker that has a handler, the sender included.
 * @typeParam Payload - what `broadcast` sends and each handler receives.
 * @typeParam Options - literal options, see {@link BroadcastEventOptions}.
 */
export interface Broadcast<
  Payload,
  in out Options extends OnlyKnownOptions<Options, BroadcastEventOptions> = NoOptions,
> {
  readonly [eventKind]: 'broadcast';
  readonly payload: Payload;
  readonly options: Options;
}

/**
 * A task run by exactly one ready worker that has a handler.
 * @typeParam Payload - what `consume` sends and the handler receives.
 * @typeParam Options - literal options, see {@link ConsumeEventOptions}.
 */
export interface Consume<Payload, in out Options extends OnlyKnownOptions<Options, ConsumeEventOptions> = NoOptions> {
  readonly [eventKind]: 'consume';
  readonly payload: Payload;
  readonly options: Options;
}

/**
 * A question asked of every ready worker that has a handler; each answers with a `Result`.
 * @typeParam Payload - what `map` sends and each handler receives.
 * @typeParam Result - what each handler returns (or resolves to).
 * @typeParam Options - literal options, see {@link MapEventOptions}.
 */
export interface MapCall<
  Payload,
  Result,
  in out Options extends OnlyKnownOptions<Options, MapEventOptions> = NoOptions,
> {
  readonly [eventKind]: 'map';
  readonly payload: Payload;
  readonly result: Result;
  readonly options: Options;
}

/** Any event marker. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the widest marker, used only as a constraint
export type AnyEvent = Broadcast<any, any> | Consume<any, any> | MapCall<any, any, any>;

/** The kind of an event, as the generator and the run time name it. */
export type EventKind = AnyEvent[typeof eventKind];
