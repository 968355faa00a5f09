/**
 * `createMessenger`: the run time behind a generated messenger. It applies the contract's
 * per-event options, checks what the compiler cannot see (plain JavaScript callers, `any`),
 * and hands requests to this process's bus.
 */
import { getBus } from '../bus.js';
import type { AnyHandler, Endpoint, RequestBase, RequestSpec } from '../core/endpoint/endpoint.js';
import { BadOptionsError, ContractConflictError, UnknownEventError, WrongKindError } from '../errors.js';
import { isPositiveInt, type ResolvedBusOptions } from '../core/options.js';
import type {
  EventKinds,
  EventMap,
  EventNames,
  EventSpec,
  EventTable,
  EventTableInput,
  KindsOf,
  Messenger,
} from './types.js';

/** Every event this process has loaded from a contract, and which contract declared it. */
const loaded = new Map<string, { source: string; spec: EventSpec }>();

const kindOfOp = { broadcast: 'broadcast', consume: 'consume', map: 'map', mapSettled: 'map' } as const;

/**
 * Creates the typed messenger of a contract. Generated code calls this; you normally
 * import the generated `messenger` instead.
 * @param source - the contract file, for error messages.
 * @param table - each event's kind and contract options (the generated file checks that it has
 *   every event of the contract, with its options: `InSyncWithContract`).
 * @typeParam Kinds - the names of the events of each kind, written out by a generated file;
 *   default: worked out from `Events` ({@link EventKinds}).
 * @throws ContractConflictError if another loaded contract declares one of the events differently.
 */
export function createMessenger<Events extends EventMap<Events>, Kinds extends KindsOf<Events> = EventKinds<Events>>(
  source: string,
  table: EventTableInput<Events>,
): Messenger<Events, Kinds> {
  for (const [event, spec] of Object.entries(table) as [string, EventSpec][]) {
    const seen = loaded.get(event);
    if (seen && JSON.stringify(seen.spec) !== JSON.stringify(spec)) {
      throw new ContractConflictError(event, `${seen.source} and ${source}`);
    }
    loaded.set(event, { source, spec });
  }
  const messenger = build<Events>(table as EventTable<Events>, () => getBus());
  tables.set(messenger, table as EventTable<never>);
  // Which names are of which kind is the table's to say at run time (and the contract's at
  // compile time): `Kinds` only narrows what the compiler accepts.
  return messenger as Messenger<Events, Kinds>;
}

/**
 * The names of a generated table's events, each under its own name: what a generated file
 * exports as `eventNames` (see {@link EventNames}). Generated code calls this.
 */
export function eventNamesOf<Events>(table: object): EventNames<Events> {
  const names: Record<string, string> = {};
  for (const event of Object.keys(table)) names[event] = event;
  return Object.freeze(names) as EventNames<Events>;
}

/** The event table behind each messenger, so that it can be bound to another endpoint. */
const tables = new WeakMap<object, EventTable<never>>();

/**
 * The same typed messenger, acting as another endpoint of this process's bus: e.g. a
 * simulated worker of a `MemoryTransport` (`memory.addWorker()`), in a test.
 * @throws BadOptionsError if `messenger` was not made by `createMessenger`.
 */
export function bindMessenger<Events extends EventMap<Events>>(
  messenger: Messenger<Events>,
  peer: { readonly endpoint: Endpoint },
): Messenger<Events> {
  const table = tables.get(messenger);
  if (!table) throw new BadOptionsError('bindMessenger() takes a messenger made by createMessenger()');
  return build<Events>(table as EventTable<Events>, () => ({ options: getBus().options, endpoint: peer.endpoint }));
}

function build<Events extends EventMap<Events>>(
  table: EventTable<Events>,
  busOf: () => { readonly options: ResolvedBusOptions; readonly endpoint: Endpoint },
): Messenger<Events> {
  const specs = new Map<string, EventSpec>(Object.entries(table) as [string, EventSpec][]);

  const specFor = (event: unknown): EventSpec => {
    const spec = typeof event === 'string' ? specs.get(event) : undefined;
    if (!spec) throw new UnknownEventError(String(event));
    return spec;
  };

  // What a request of each event and operation needs besides its payload, worked out once.
  const bases = new Map<string, RequestBase>();
  const baseFor = (event: string, op: RequestSpec['op'], spec: EventSpec): RequestBase => {
    const key = op === 'mapSettled' ? `s:${event}` : event;
    let base = bases.get(key);
    if (!base) {
      const global = busOf().options;
      base = {
        ev: event,
        op,
        timeoutMs: ('timeoutMs' in spec ? spec.timeoutMs : undefined) ?? global.timeoutMs,
        maxPayloadBytes: Math.min(spec.maxPayloadBytes ?? global.maxPayloadBytes, global.maxPayloadBytes),
        ...(spec.kind === 'map' ? { maxResultBytes: spec.maxResultBytes ?? global.maxResultBytes } : {}),
        ...(spec.kind === 'consume' ? { redeliver: spec.redeliver ?? true } : {}),
        ...(spec.plainPayload !== undefined ? { plainPayload: spec.plainPayload } : {}),
        ...(spec.fp !== undefined ? { fingerprint: spec.fp } : {}),
      };
      bases.set(key, base);
    }
    return base;
  };

  const send = (op: RequestSpec['op'], event: string, payload: unknown, options: unknown): Promise<unknown> => {
    try {
      const spec = specFor(event);
      if (spec.kind !== kindOfOp[op]) throw new WrongKindError(event, spec.kind, op);
      const base = baseFor(event, op, spec);
      const endpoint = busOf().endpoint;
      return options === undefined
        ? endpoint.requestWith(base, payload)
        : endpoint.requestWith(base, payload, callOptions(event, op, options));
    } catch (err) {
      return Promise.reject(err);
    }
  };

  const messenger = {
    on(event: string, handler: AnyHandler): () => void {
      const spec = specFor(event);
      if (typeof handler !== 'function') throw new BadOptionsError(`handler of "${event}" must be a function`, event);
      return busOf().endpoint.on(event, handler, {
        ...(spec.kind === 'map' && spec.plainResult !== undefined ? { plainResult: spec.plainResult } : {}),
        ...(spec.fp !== undefined ? { fingerprint: spec.fp } : {}),
      });
    },
    off(event: string, handler: AnyHandler): void {
      busOf().endpoint.off(event, handler);
    },
    // Options are passed on (and refused) so that a JavaScript caller's `{ dedupeKey }` or
    // `{ timeoutMs }` on a broadcast is a BadOptionsError rather than silently ignored.
    // Both settle with `undefined`: the endpoint resolves them with nothing.
    broadcast: (event: string, payload: unknown, options?: unknown) => send('broadcast', event, payload, options),
    consume: (event: string, payload: unknown, options?: unknown) => send('consume', event, payload, options),
    map: (event: string, payload: unknown, options?: unknown) => send('map', event, payload, options),
    mapSettled: (event: string, payload: unknown, options?: unknown) => send('mapSettled', event, payload, options),
  };
  // The typed surface is the contract's; the implementation above is its untyped twin.
  return messenger as unknown as Messenger<Events>;
}

function callOptions(
  event: string,
  op: RequestSpec['op'],
  options: unknown,
): { timeoutMs?: number; dedupeKey?: string } {
  if (options === undefined) return {};
  if (op === 'broadcast') throw new BadOptionsError(`broadcast of "${event}" takes no options`, event);
  if (typeof options !== 'object' || options === null)
    throw new BadOptionsError(`options of "${event}" must be an object`, event);
  const { timeoutMs, dedupeKey, ...rest } = options as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0)
    throw new BadOptionsError(`unknown option ${unknownKeys.join(', ')} for ${op} of "${event}"`, event);
  if (timeoutMs !== undefined && !isPositiveInt(timeoutMs)) {
    throw new BadOptionsError(`timeoutMs of "${event}" must be a positive integer, got ${String(timeoutMs)}`, event);
  }
  if (dedupeKey !== undefined && (op !== 'consume' || typeof dedupeKey !== 'string' || dedupeKey === '')) {
    throw new BadOptionsError(`dedupeKey of "${event}" must be a non-empty string, and only consume takes one`, event);
  }
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(dedupeKey !== undefined ? { dedupeKey: dedupeKey as string } : {}),
  };
}
