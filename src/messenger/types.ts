/**
 * The typed surface of a messenger: what a contract allows, computed by the compiler.
 *
 * Every operation takes the event as a generic `E` constrained to the events of the right
 * kind, and derives the payload and result types from `E`. A misuse therefore fails on
 * the offending argument or property ("Type 'string' is not assignable to type
 * 'string[]'"), never with "No overload matches this call".
 */
import type { HandlerContext, Settled } from '../core/endpoint/handler-types.js';
import type { AnyEvent, eventKind } from '../contract.js';

/**
 * The constraint every contract interface meets: each of its properties is a marker.
 * Written as a mapped type over `Events` itself because interfaces have no implicit
 * index signature.
 */
export type EventMap<Events> = { readonly [K in keyof Events]: AnyEvent };

type KeysOfKind<Events, Kind> = {
  [K in keyof Events]: Events[K] extends { readonly [eventKind]: Kind } ? K : never;
}[keyof Events] &
  string;

/** Names of the `Broadcast` events of a contract. */
export type BroadcastEvents<Events> = KeysOfKind<Events, 'broadcast'>;
/** Names of the `Consume` events of a contract. */
export type ConsumeEvents<Events> = KeysOfKind<Events, 'consume'>;
/** Names of the `MapCall` events of a contract. */
export type MapEvents<Events> = KeysOfKind<Events, 'map'>;
/** Names of every event of a contract. */
export type EventName<Events> = keyof Events & string;

/** Each event's payload, as its contract declares it. */
type Payloads<Events> = { [K in keyof Events]: Events[K] extends { readonly payload: infer P } ? P : never };

/**
 * The payload type of event `E`: what a sender passes, and what its handlers receive. For a
 * union of events (an `event` argument typed `'a' | 'b'`) it is a payload that fits every one
 * of them, since the argument does not say which event is sent. The messenger's methods take
 * exactly this type, so a generic wrapper (`<E extends BroadcastEvents<Events>>(e: E, p:
 * PayloadOf<Events, E>)`) passes its arguments on as they are.
 */
export type PayloadOf<Events, E extends keyof Events> = (
  E extends unknown ? (payload: Payloads<Events>[E]) => void : never
) extends (payload: infer P) => void
  ? P
  : never;

/** The result type of `MapCall` event `E`. */
export type ResultOf<Events, E extends keyof Events> = Events[E] extends {
  readonly [eventKind]: 'map';
  readonly result: infer R;
}
  ? R
  : never;

/**
 * A value or a promise of it. Named so that a compiler message about a handler's result reads
 * "not assignable to type 'Awaitable<{ pid: number }>'" rather than spelling out the union.
 */
type Awaitable<T> = T | Promise<T>;

/** What a handler of event `E` must return: the declared result for a `MapCall`, anything otherwise. */
export type HandlerReturn<Events, E extends keyof Events> = Events[E] extends { readonly [eventKind]: 'map' }
  ? Awaitable<ResultOf<Events, E>>
  : unknown;

/** Each event's handler type. */
type Handlers<Events> = {
  [K in keyof Events & string]: (
    payload: Payloads<Events>[K],
    ctx: HandlerContext<K>,
  ) => Events[K] extends { readonly [eventKind]: 'map'; readonly result: infer R } ? Awaitable<R> : unknown;
};

/**
 * A handler of event `E`. An indexed access into one function type per event, not a function
 * type whose return is computed from `E`: so the compiler checks a handler's result against the
 * event's declared result as it types it, and a literal (`status: 'ok'`), a tuple or a member of
 * a discriminated union keeps its type instead of widening to `string` or an array.
 */
export type Handler<Events, E extends keyof Events & string> = Handlers<Events>[E];

/** Per-call options of `consume`. */
export interface ConsumeOptions {
  /** Deadline of this call in ms. Default: the contract's `timeoutMs`, else the bus's (10 000). */
  readonly timeoutMs?: number;
  /**
   * Run-once key: while the master lives, every `consume` with the same key shares one run
   * of the handler, cluster-wide, and every caller settles with its outcome. Typical use:
   * each worker asks for the same bootstrap job and it runs exactly once.
   */
  readonly dedupeKey?: string;
}

/** Per-call options of `map` and `mapSettled`. */
export interface MapOptions {
  /** Deadline of this call in ms. Default: the contract's `timeoutMs`, else the bus's (10 000). */
  readonly timeoutMs?: number;
}

/**
 * The typed messenger generated for a contract. The same object works in the master and
 * in every worker.
 */
export interface Messenger<Events extends EventMap<Events>> {
  /**
   * Registers `handler` for `event` in this process and tells the master this process
   * handles it. For a `MapCall` the first handler registered answers.
   * Only `event` decides `E` (`NoInfer`), so a handler written for another event is reported
   * at the handler argument.
   * @returns a function that removes the handler.
   */
  on<E extends EventName<Events>>(event: E, handler: NoInfer<Handler<Events, E>>): () => void;
  /** Removes a handler registered with `on`. */
  off<E extends EventName<Events>>(event: E, handler: NoInfer<Handler<Events, E>>): void;
  /**
   * Delivers `payload` to every ready worker with a handler, the sender included.
   * Settles once the master has accepted the message.
   */
  broadcast<E extends BroadcastEvents<Events>>(event: E, payload: PayloadOf<Events, E>): Promise<void>;
  /**
   * Runs the task on exactly one ready worker with a handler (round-robin). Settles when
   * that handler finished, or rejects with its error, a `TimeoutError`, a
   * `NoHandlerError` or a `WorkerExitedError`.
   */
  consume<E extends ConsumeEvents<Events>>(
    event: E,
    payload: PayloadOf<Events, E>,
    options?: ConsumeOptions,
  ): Promise<void>;
  /**
   * Asks every ready worker with a handler; resolves to their results in worker-id order.
   * Rejects with a `MapError` carrying every worker's outcome if any of them failed.
   */
  map<E extends MapEvents<Events>>(
    event: E,
    payload: PayloadOf<Events, E>,
    options?: MapOptions,
  ): Promise<ResultOf<Events, E>[]>;
  /** Like `map`, but resolves to one outcome per worker and never rejects for one worker's failure. */
  mapSettled<E extends MapEvents<Events>>(
    event: E,
    payload: PayloadOf<Events, E>,
    options?: MapOptions,
  ): Promise<Settled<ResultOf<Events, E>>[]>;
}

/**
 * The run-time description of one event, as the generator emits it from the contract.
 * Its `kind` is tied to the contract's marker, so a generated table that drifted from its
 * contract does not compile.
 */
export type EventSpecOf<Ev> = Ev extends { readonly [eventKind]: 'broadcast' }
  ? {
      readonly kind: 'broadcast';
      /** The event's fingerprint (kind, payload and result structure, options), from the generator. */
      readonly fp?: string;
      readonly maxPayloadBytes?: number;
      /**
       * The generator's verdict on the payload type: `true` when it is plain JSON data (encoded
       * with `JSON.stringify` after a check of each value), `false` when no value of it is (a
       * `Date`, `Map`, `bigint`… in every value: straight to superjson), absent when it cannot
       * tell (the fast path checks each value and falls back to superjson).
       */
      readonly plainPayload?: boolean;
    }
  : Ev extends { readonly [eventKind]: 'consume' }
    ? {
        readonly kind: 'consume';
        /** The event's fingerprint (kind, payload and result structure, options), from the generator. */
        readonly fp?: string;
        readonly timeoutMs?: number;
        readonly redeliver?: boolean;
        readonly maxPayloadBytes?: number;
        /**
         * The generator's verdict on the payload type: `true` when it is plain JSON data (encoded
         * with `JSON.stringify` after a check of each value), `false` when no value of it is (a
         * `Date`, `Map`, `bigint`… in every value: straight to superjson), absent when it cannot
         * tell (the fast path checks each value and falls back to superjson).
         */
        readonly plainPayload?: boolean;
      }
    : {
        readonly kind: 'map';
        /** The event's fingerprint (kind, payload and result structure, options), from the generator. */
        readonly fp?: string;
        readonly timeoutMs?: number;
        readonly maxResultBytes?: number;
        readonly maxPayloadBytes?: number;
        /**
         * The generator's verdict on the payload type: `true` when it is plain JSON data (encoded
         * with `JSON.stringify` after a check of each value), `false` when no value of it is (a
         * `Date`, `Map`, `bigint`… in every value: straight to superjson), absent when it cannot
         * tell (the fast path checks each value and falls back to superjson).
         */
        readonly plainPayload?: boolean;
        /**
         * The generator's verdict on the result type: `true` when it is plain JSON data (encoded
         * with `JSON.stringify` after a check of each value), `false` when no value of it is (a
         * `Date`, `Map`, `bigint`… in every value: straight to superjson), absent when it cannot
         * tell (the fast path checks each value and falls back to superjson).
         */
        readonly plainResult?: boolean;
      };

/** The run-time table of a contract's events. */
export type EventTable<Events> = { readonly [K in keyof Events]: EventSpecOf<Events[K]> };

/**
 * Each event's name under its own name: the type of a generated file's `eventNames`. A mapped
 * type over the contract's interface itself (homomorphic), so that each property stays linked to
 * the event's declaration: an editor takes `eventNames['price.quote']` to the contract and shows
 * the event's doc comment, which it does not for a string literal argument.
 */
export type EventNames<Events> = { readonly [K in keyof Events]: K };

/**
 * What `createMessenger` takes: each event's spec, its kind tied to the contract's. Whether
 * the table has every event of the contract, and exactly the contract's options, is checked
 * by `InSyncWithContract` in the generated file, whose error says what changed.
 */
export type EventTableInput<Events> = { readonly [K in keyof Events]?: EventSpecOf<Events[K]> };

type OptionName = 'timeoutMs' | 'redeliver' | 'maxPayloadBytes' | 'maxResultBytes';
/** The value the contract gives option `O` of event `Ev`, or `undefined` if it gives none. */
type DeclaredOption<Ev, O extends OptionName> = Ev extends { readonly options: infer Opts }
  ? O extends keyof Opts
    ? Opts[O]
    : undefined
  : undefined;
/** The value a generated table gives option `O` in spec `S`, or `undefined`. */
type TableOption<S, O extends OptionName> = O extends keyof S ? S[O] : undefined;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Shown<V> = V extends undefined ? 'unset' : V extends string | number | boolean ? `${V}` : 'set';
type Stale = 'run `clusterbus gen`';
/** The kind the contract gives event `Ev`. */
type KindOf<Ev> = Ev extends { readonly [eventKind]: infer Kind } ? Kind : never;

/** How event `K` of a generated table `T` differs from the contract, as messages; `never` if it does not. */
type EventDrift<Events, T, K extends keyof Events & keyof T & string> = T[K] extends { readonly kind: infer Kind }
  ? Same<Kind, KindOf<Events[K]>> extends false
    ? `event ${K} is a ${Kind & string} in this generated file but a ${KindOf<Events[K]> & string} in the contract: ${Stale}`
    : {
        [O in OptionName]: Same<DeclaredOption<Events[K], O>, TableOption<T[K], O>> extends true
          ? never
          : `event ${K} has ${O} ${Shown<TableOption<T[K], O>>} in this generated file but ${Shown<DeclaredOption<Events[K], O>>} in the contract: ${Stale}`;
      }[OptionName]
  : never;

type Missing<Events, T> = Exclude<keyof Events & string, keyof T>;
type Extra<Events, T> = Exclude<keyof T & string, keyof Events>;
type Drift<Events, T> =
  | ([Missing<Events, T>] extends [never]
      ? never
      : `event ${Missing<Events, T>} is in the contract but not in this generated file: ${Stale}`)
  | ([Extra<Events, T>] extends [never]
      ? never
      : `event ${Extra<Events, T>} is in this generated file but no longer in the contract: ${Stale}`)
  | { [K in keyof Events & keyof T & string]: EventDrift<Events, T, K> }[keyof Events & keyof T & string];

/** The entry a generated table has for each event, but for its hints: the event's kind and options. */
type ExpectedTable<Events extends EventMap<Events>> = {
  readonly [K in keyof Events]: { readonly kind: Events[K][typeof eventKind] } & Events[K]['options'];
};
/** The options of a generated table entry. */
type TableOptions<S> = { readonly [O in keyof S & OptionName]: S[O] };
/** What a contract must declare for each event of a generated table: its options, with the table's values. */
type DeclaredByTable<T> = { readonly [K in keyof T]: { readonly options: TableOptions<T[K]> } };

/**
 * `true` when table `T` has exactly the contract's events, kinds and options; `false` may also
 * mean a difference `Drift` does not report. Checked first because `Drift` costs over a hundred
 * type instantiations per event, and a generated file is in sync nearly always. Two relations
 * between whole objects rather than a conditional type per event, which took twice the
 * instantiations on a 1,000-event table: the table's entries have the contract's kinds and
 * options (every contract event and option is in the table, with the same literal), and the
 * contract declares the table's options with values that are the table's literals (no event,
 * option or wider value the table does not have).
 */
type TableInSync<Events, T> =
  Events extends EventMap<Events>
    ? [T] extends [ExpectedTable<Events>]
      ? [Events] extends [DeclaredByTable<T>]
        ? true
        : false
      : false
    : false;

/**
 * `true` when a generated event table (`T`, written `as const`) has exactly the contract's
 * events, kinds and options; otherwise messages naming each difference and saying to run
 * `clusterbus gen`. A generated file checks itself with `true satisfies InSyncWithContract<…>`,
 * so a file older than its contract does not compile.
 */
export type InSyncWithContract<Events, T> =
  TableInSync<Events, T> extends true
    ? true
    : [Drift<Events, T>] extends [never]
      ? true
      : // A template literal, so that the compiler's message spells the differences out.
        `${Drift<Events, T>}`;

/** Any event spec, as the run time sees it. */
export type EventSpec = EventSpecOf<AnyEvent>;

export type { HandlerContext, Settled } from '../core/endpoint/handler-types.js';
