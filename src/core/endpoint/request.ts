/**
 * What a request is to the endpoint, and the two steps every request takes on its way out,
 * whatever its operation: its payload checked and encoded, and its envelope. Kept apart from
 * the paths that use them (calls in `endpoint.ts`, broadcasts in `broadcast-runs.ts`) so that
 * both encode and address a payload the same way.
 */
import { encode, exceeds } from '../../codec/codec.js';
import { plainText } from '../../codec/plain-json.js';
import { PayloadTooLargeError } from '../../errors.js';
import { PROTOCOL_VERSION, type RequestFrame, type WireOp } from '../protocol/frames.js';

/** What the endpoint needs to send a request; the messenger fills it from the contract. */
export interface RequestSpec extends RequestBase {
  readonly payload: unknown;
}

/** Per-call options that override the event's. */
export interface CallOverrides {
  readonly timeoutMs?: number;
  readonly dedupeKey?: string;
}

/** The part of a request that is the same for every call of one event and operation. */
export interface RequestBase {
  readonly ev: string;
  readonly op: 'broadcast' | 'consume' | 'map' | 'mapSettled';
  readonly timeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly maxResultBytes?: number;
  readonly redeliver?: boolean;
  readonly dedupeKey?: string;
  /**
   * The generator's verdict on the payload type: `false` when JSON cannot carry it (straight
   * to superjson); otherwise the fast codec is tried first and checks the value itself.
   */
  readonly plainPayload?: boolean;
  /** The event's fingerprint from the generator, if the contract was generated with one. */
  readonly fingerprint?: string;
}

const wireOps: Record<RequestSpec['op'], WireOp> = { broadcast: 'b', consume: 'c', map: 'm', mapSettled: 'm' };

/**
 * `payload` encoded and within the event's limit; throws the error the call rejects with.
 * `copied`: `payload` is a `copyPlain` copy, plain data for sure, so its encoding needs no check.
 */
export function encodePayload(base: RequestBase, payload: unknown, copied: boolean, worker: number): string {
  const p = copied ? plainText(payload) : encode(payload, base.ev, worker, base.plainPayload);
  const size = exceeds(p, base.maxPayloadBytes);
  if (size !== undefined) {
    throw new PayloadTooLargeError(base.ev, 'payload', size, base.maxPayloadBytes, worker);
  }
  return p;
}

/**
 * The part of a request envelope every operation has. `mp` travels only when the event's limit
 * differs from the bus's (`busMaxPayloadBytes`), which the router already knows.
 */
export function requestFrame(base: RequestBase, id: number, p: string, busMaxPayloadBytes: number): RequestFrame {
  const frame: RequestFrame = { cb: PROTOCOL_VERSION, t: 'req', id, ev: base.ev, op: wireOps[base.op], p };
  if (base.maxPayloadBytes !== busMaxPayloadBytes) frame.mp = base.maxPayloadBytes;
  if (base.fingerprint !== undefined) frame.fp = base.fingerprint;
  return frame;
}
