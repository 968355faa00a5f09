/**
 * What a handler is told about a delivery, and one worker's outcome of a `mapSettled`: the
 * endpoint produces both; the typed messenger (`messenger/types.ts`) re-exports them.
 */
import type { BusError } from '../../errors.js';

/** What a handler learns about the message besides its payload. */
export interface HandlerContext<E extends string = string> {
  /** The event name. */
  readonly event: E;
  /** The kind of operation that delivered the message. */
  readonly op: 'broadcast' | 'consume' | 'map';
  /** Worker id of the sender (`0` is the master). */
  readonly from: number;
  /** Host of the sender (see `PeerId`). */
  readonly fromHost: string;
  /** Worker id of the process running this handler (`0` is the master). */
  readonly worker: number;
  /** Host of the process running this handler. */
  readonly host: string;
}

/**
 * One worker's outcome in `mapSettled`, named by its host and worker id. The outcomes come in
 * (host, worker) order: by host name, then worker id (on one machine: worker-id order).
 */
export type Settled<R> =
  | {
      readonly worker: number;
      readonly host: string;
      readonly ok: true;
      readonly value: R;
      /**
       * Never set on a success. Declared so that `else r.error` after `if (r.ok)` compiles in
       * projects without `strictNullChecks`, where the compiler does not narrow the `else`
       * branch by `ok`.
       */
      readonly error?: undefined;
    }
  | { readonly worker: number; readonly host: string; readonly ok: false; readonly error: BusError };
