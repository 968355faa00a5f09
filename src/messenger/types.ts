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

/**
 * The names of a contract's events of each kind, worked out from the contract. A generated
 * file writes them out instead (its `Kinds` type), so that a program that uses a few events of
 * a large contract does not have the compiler go through every event to learn which are which.
 */
export interface EventKinds<Events> {
  readonly broadcast: BroadcastEvents<Events>;
  readonly consume: ConsumeEvents<Events>;
  readonly map: MapEvents<Events>;
}

/** What a `Kinds` argument of `Messenger` must be: names of the contract's events, by kind. */
export interface KindsOf<Events> {
  readonly broadcast: EventName<Events>;
  readonly consume: EventName<Events>;
  readonly map: EventName<Events>;
}

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
 * in every worker. `Kinds` names the events of each kind; a generated file passes them written
 * out, which spares the compiler the work (see {@link EventKinds}); the default works them out.
 */
export interface Messenger<Events extends EventMap<Events>, Kinds extends KindsOf<Events> = EventKinds<Events>> {
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
  broadcast<E extends Kinds['broadcast']>(event: E, payload: PayloadOf<Events, E>): Promise<void>;
  /**
   * Runs the task on exactly one ready worker with a handler (round-robin). Settles when
   * that handler finished, or rejects with its error, a `TimeoutError`, a
   * `NoHandlerError` or a `WorkerExitedError`.
   */
  consume<E extends Kinds['consume']>(event: E, payload: PayloadOf<Events, E>, options?: ConsumeOptions): Promise<void>;
  /**
   * Asks every ready worker with a handler; resolves to their results in worker-id order.
   * Rejects with a `MapError` carrying every worker's outcome if any of them failed.
   */
  map<E extends Kinds['map']>(
    event: E,
    payload: PayloadOf<Events, E>,
    options?: MapOptions,
  ): Promise<ResultOf<Events, E>[]>;
  /** Like `map`, but resolves to one outcome per worker and never rejects for one worker's failure. */
  mapSettled<E extends Kinds['map']>(
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
/** The value event marker `Ev` gives option `O`, or `undefined` if it gives none. */
type DeclaredOption<Ev, O extends OptionName> = Ev extends { readonly options: infer Opts }
  ? O extends keyof Opts
    ? Opts[O]
    : undefined
  : undefined;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Shown<V> = V extends undefined ? 'unset' : V extends string | number | boolean ? `${V}` : 'set';
type Stale = 'run `clusterbus gen`';
/** The kind event marker `Ev` has. */
type KindOf<Ev> = Ev extends { readonly [eventKind]: infer Kind } ? Kind : never;

/** How event `K` of a generated file's markers `G` differs from the contract, as messages; `never` if it does not. */
type EventDrift<Events, G, K extends keyof Events & keyof G & string> =
  Same<KindOf<G[K]>, KindOf<Events[K]>> extends false
    ? `event ${K} is a ${KindOf<G[K]> & string} in this generated file but a ${KindOf<Events[K]> & string} in the contract: ${Stale}`
    : {
        [O in OptionName]: Same<DeclaredOption<Events[K], O>, DeclaredOption<G[K], O>> extends true
          ? never
          : `event ${K} has ${O} ${Shown<DeclaredOption<G[K], O>>} in this generated file but ${Shown<DeclaredOption<Events[K], O>>} in the contract: ${Stale}`;
      }[OptionName];

type Missing<Events, G> = Exclude<keyof Events & string, keyof G>;
type Extra<Events, G> = Exclude<keyof G & string, keyof Events>;
type Drift<Events, G> =
  | ([Missing<Events, G>] extends [never]
      ? never
      : `event ${Missing<Events, G>} is in the contract but not in this generated file: ${Stale}`)
  | ([Extra<Events, G>] extends [never]
      ? never
      : `event ${Extra<Events, G>} is in this generated file but no longer in the contract: ${Stale}`)
  | { [K in keyof Events & keyof G & string]: EventDrift<Events, G, K> }[keyof Events & keyof G & string];

/**
 * `true` when `G`, a generated file's copy of its contract's markers (kinds and options, with
 * `never` for payloads and results), has exactly the contract's events, kinds and options.
 * One assignment does it, because a marker's options are invariant: `G` is assignable to the
 * contract only if it has each of the contract's events, with its kind and the very same
 * options; and no more events (the names compared as one union). Checked first because `Drift`
 * costs many type instantiations per event, and a generated file is in sync nearly always.
 */
type MarkersInSync<Events, G> = [G] extends [Events] ? ([keyof G] extends [keyof Events] ? true : false) : false;

/**
 * `true` when a generated file's markers `G` (see `MarkersInSync`) have exactly the contract's
 * events, kinds and options; otherwise messages naming each difference and saying to run
 * `clusterbus gen`. A generated file checks itself with `true satisfies InSyncWithContract<…>`,
 * so a file older than its contract does not compile.
 */
export type InSyncWithContract<Events, G> =
  MarkersInSync<Events, G> extends true
    ? true
    : [Drift<Events, G>] extends [never]
      ? `this generated file does not match its contract: ${Stale}`
      : // A template literal, so that the compiler's message spells the differences out.
        `${Drift<Events, G>}`;

/** Any event spec, as the run time sees it. */
export type EventSpec = EventSpecOf<AnyEvent>;

export type { HandlerContext, Settled } from '../core/endpoint/handler-types.js';
