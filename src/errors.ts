/**
 * Every error the bus raises, each with a stable `code`. The codes are documented in
 * `docs/errors.md`; a test keeps the two in step.
 */

import { describePeer, localHost } from './core/peer-id.js';

/** `worker 3`, or `worker 3 on host-b` for a worker on another host. */
function peerName(worker: number, host: string | undefined): string {
  return describePeer({ worker, host: host ?? localHost() });
}

/** The stable codes of the bus's errors. */
export const ErrorCodes = {
  TIMEOUT: 'CB_TIMEOUT',
  NO_HANDLER: 'CB_NO_HANDLER',
  WORKER_EXITED: 'CB_WORKER_EXITED',
  PAYLOAD_TOO_LARGE: 'CB_PAYLOAD_TOO_LARGE',
  HANDLER_FAILED: 'CB_HANDLER_FAILED',
  MAP_FAILED: 'CB_MAP_FAILED',
  BAD_PAYLOAD: 'CB_BAD_PAYLOAD',
  UNKNOWN_EVENT: 'CB_UNKNOWN_EVENT',
  WRONG_KIND: 'CB_WRONG_KIND',
  BAD_OPTIONS: 'CB_BAD_OPTIONS',
  NOT_CONNECTED: 'CB_NOT_CONNECTED',
  CONTRACT_CONFLICT: 'CB_CONTRACT_CONFLICT',
  CONTRACT_MISMATCH: 'CB_CONTRACT_MISMATCH',
  CLOSED: 'CB_CLOSED',
  RELOAD_FAILED: 'CB_RELOAD_FAILED',
  START_FAILED: 'CB_START_FAILED',
  CONTROL_SOCKET: 'CB_CONTROL_SOCKET',
} as const;

/** One of the bus's stable error codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error the bus raises. */
export class BusError extends Error {
  /** Stable, documented code; match on this rather than on the message. */
  readonly code: ErrorCode;
  /** The event the failed operation was about, when there is one. */
  readonly event: string | undefined;
  /** The worker id concerned (`0` is the master), when there is one. */
  readonly worker: number | undefined;
  /** The host of that worker, when a worker is named (see `PeerId`). */
  readonly host: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { event?: string; worker?: number; host?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.event = details.event;
    this.worker = details.worker;
    this.host = details.host ?? (details.worker === undefined ? undefined : localHost());
  }
}

/** A request did not settle before its deadline. */
export class TimeoutError extends BusError {
  readonly timeoutMs: number;
  constructor(event: string, timeoutMs: number, worker?: number, host?: string) {
    super(
      ErrorCodes.TIMEOUT,
      worker === undefined
        ? `"${event}" timed out after ${timeoutMs} ms`
        : `"${event}" timed out after ${timeoutMs} ms waiting for ${peerName(worker, host)}`,
      worker === undefined ? { event } : { event, worker, ...(host === undefined ? {} : { host }) },
    );
    this.timeoutMs = timeoutMs;
  }
}

/** No ready worker (nor the master) has a handler for the event. */
export class NoHandlerError extends BusError {
  constructor(event: string) {
    super(ErrorCodes.NO_HANDLER, `no ready worker has a handler for "${event}"`, { event });
  }
}

/** The worker that owed a reply exited, crashed or was replaced before answering. */
export class WorkerExitedError extends BusError {
  constructor(event: string, worker: number, reason?: string, host?: string) {
    super(
      ErrorCodes.WORKER_EXITED,
      `${peerName(worker, host)} exited before answering "${event}"${reason ? ` (${reason})` : ''}`,
      { event, worker, ...(host === undefined ? {} : { host }) },
    );
  }
}

/** A serialised payload or result is larger than its limit. */
export class PayloadTooLargeError extends BusError {
  readonly size: number;
  readonly limit: number;
  /** `payload` for what a caller sends, `result` for what a map handler returns. */
  readonly what: 'payload' | 'result';
  /**
   * @param limitName what the limit is when it is not the bus's own (e.g. "the NATS server's
   *   max_payload, less the envelope"), named in the message.
   */
  constructor(
    event: string,
    what: 'payload' | 'result',
    size: number,
    limit: number,
    worker: number,
    host?: string,
    limitName?: string,
  ) {
    super(
      ErrorCodes.PAYLOAD_TOO_LARGE,
      `${what} of "${event}" from ${peerName(worker, host)} is ${size} bytes, over the limit of ${limit} bytes` +
        (limitName === undefined ? '' : ` (${limitName})`),
      { event, worker, ...(host === undefined ? {} : { host }) },
    );
    this.size = size;
    this.limit = limit;
    this.what = what;
  }
}

/** What crosses the process boundary of an error thrown by a handler. */
export interface RemoteErrorInfo {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
}

/**
 * A handler threw or rejected. `name`, `message` and `code` of the original error are
 * on `remote` (and on `cause`, rebuilt as an `Error`); the stack travels only outside
 * production (`NODE_ENV !== 'production'`).
 */
export class HandlerError extends BusError {
  readonly remote: RemoteErrorInfo;
  constructor(event: string, worker: number, remote: RemoteErrorInfo, host?: string) {
    const cause = Object.assign(
      new Error(remote.message),
      { name: remote.name },
      remote.code ? { code: remote.code } : {},
    );
    if (remote.stack !== undefined) cause.stack = remote.stack;
    super(
      ErrorCodes.HANDLER_FAILED,
      `handler of "${event}" on ${peerName(worker, host)} failed: ${remote.name}: ${remote.message}`,
      { event, worker, cause, ...(host === undefined ? {} : { host }) },
    );
    this.remote = remote;
  }
}

/** One worker's failure inside a `MapError`. */
export interface MapFailure<R = unknown> {
  readonly worker: number;
  readonly host: string;
  readonly ok: boolean;
  readonly value?: R;
  readonly error?: BusError;
}

/** `map` failed on at least one worker; `outcomes` holds every worker's, results included. */
export class MapError<R = unknown> extends BusError {
  readonly outcomes: readonly MapFailure<R>[];
  constructor(event: string, outcomes: readonly MapFailure<R>[]) {
    const failed = outcomes.filter((o) => !o.ok);
    super(
      ErrorCodes.MAP_FAILED,
      `"${event}" failed on ${failed.length} of ${outcomes.length} workers: ` +
        failed.map((f) => `worker ${f.worker}: ${f.error?.message ?? 'unknown error'}`).join('; '),
      { event },
    );
    this.outcomes = outcomes;
  }
  /** The values of the workers that answered. */
  get results(): R[] {
    return this.outcomes.filter((o) => o.ok).map((o) => o.value as R);
  }
}

/** A payload or envelope could not be decoded, or tried to pollute a prototype. */
export class BadPayloadError extends BusError {
  constructor(message: string, details: { event?: string; worker?: number } = {}) {
    super(ErrorCodes.BAD_PAYLOAD, message, details);
  }
}

/** The event is not declared in any contract this process loaded. */
export class UnknownEventError extends BusError {
  constructor(event: string) {
    super(ErrorCodes.UNKNOWN_EVENT, `"${event}" is not an event of any loaded contract`, { event });
  }
}

/** The operation is not allowed for the event's kind (caught at compile time for typed code). */
export class WrongKindError extends BusError {
  constructor(event: string, kind: string, op: string) {
    super(ErrorCodes.WRONG_KIND, `"${event}" is a ${kind} event; ${op} is not allowed on it`, { event });
  }
}

/** A call option or bus option is out of range. */
export class BadOptionsError extends BusError {
  constructor(message: string, event?: string) {
    super(ErrorCodes.BAD_OPTIONS, message, event === undefined ? {} : { event });
  }
}

/**
 * The worker lost its channel to the master; or, across machines, the master cannot reach the
 * host of a target worker now (not connected to NATS, and its link to that host is full).
 */
export class NotConnectedError extends BusError {
  /**
   * @param reason why, when it is not this worker's own channel.
   * @param peer the unreachable worker and its host, when one is named.
   */
  constructor(event: string, reason?: string, peer?: { worker: number; host: string }) {
    super(
      ErrorCodes.NOT_CONNECTED,
      `cannot send "${event}": ${reason ?? 'this worker is not connected to the master'}`,
      peer === undefined ? { event } : { event, worker: peer.worker, host: peer.host },
    );
  }
}

/** Two loaded contracts declare the same event differently. */
export class ContractConflictError extends BusError {
  constructor(event: string, detail: string) {
    super(ErrorCodes.CONTRACT_CONFLICT, `"${event}" is declared twice with different specs: ${detail}`, { event });
  }
}

/**
 * A worker handles the event under another version of the contract (its fingerprint differs
 * from the caller's, as during a rolling reload that changed the event): it was not sent the
 * request, which it might misread.
 */
export class ContractMismatchError extends BusError {
  /** The caller's fingerprint of the event. */
  readonly expected: string;
  /** The worker's. */
  readonly actual: string;
  constructor(event: string, worker: number, expected: string, actual: string, host?: string) {
    super(
      ErrorCodes.CONTRACT_MISMATCH,
      `${peerName(worker, host)} handles "${event}" under another version of the contract ` +
        `(fingerprint ${actual}, the caller's ${expected}): it was not sent this request. ` +
        'This is expected while a rolling reload replaces the workers; otherwise run `clusterbus gen` and redeploy',
      { event, worker, ...(host === undefined ? {} : { host }) },
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The bus of this process was closed, or the cluster is shutting down (`reason` says so):
 * the call was not completed.
 */
export class ClosedError extends BusError {
  /** Why, when it is not this process's own bus that closed (e.g. `the cluster is shutting down`). */
  readonly reason: string | undefined;
  constructor(event?: string, reason?: string) {
    const what = reason ?? 'bus closed';
    super(ErrorCodes.CLOSED, event ? `${what}; "${event}" was not completed` : what, event ? { event } : {});
    this.reason = reason;
  }
}

/** A rolling reload stopped because a replacement did not become ready; the old workers keep serving. */
export class ReloadFailedError extends BusError {
  constructor(index: number, reason: string) {
    super(ErrorCodes.RELOAD_FAILED, `reload stopped: the replacement for worker slot ${index} failed (${reason})`);
  }
}

/** `startCluster` was misused or could not start (e.g. called twice). */
export class StartFailedError extends BusError {
  constructor(message: string) {
    super(ErrorCodes.START_FAILED, message);
  }
}

/** Why the control socket could not be used; the `reason` of a `ControlSocketError`. */
export type ControlSocketFailure =
  /** No master answers where the command looked (none runs for this directory, or not at that pid or path). */
  | 'no-master'
  /** More than one master runs for this directory: name one with `--pid` or `--socket`. */
  | 'ambiguous'
  /** The socket's directory is not private to this user (another owner, a symbolic link, open to others). */
  | 'unsafe'
  /** The operating system refused the connection (not this user's socket) or the path cannot be used. */
  | 'refused'
  /** The master closed the connection or answered something that is not a control answer. */
  | 'protocol';

/**
 * The control socket (`clusterbus status`, `clusterbus reload`) could not be reached or used,
 * from the command line, or by a master setting it up (which then runs without one, and logs
 * this error).
 */
export class ControlSocketError extends BusError {
  readonly reason: ControlSocketFailure;
  constructor(reason: ControlSocketFailure, message: string, cause?: unknown) {
    super(ErrorCodes.CONTROL_SOCKET, message, cause === undefined ? {} : { cause });
    this.reason = reason;
  }
}
