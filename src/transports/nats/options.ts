/**
 * The options of the bus across machines (`configureBus({ nats })`, or
 * `startCluster({ bus: { nats } })`): where the NATS servers are, how fast a silent host is
 * declared dead, and how much one host may have in flight to another.
 */
import { BadOptionsError } from '../../errors.js';

/** The bus across machines over NATS. Off unless given. */
export interface NatsOptions {
  /** NATS server URLs, e.g. `'nats://10.0.0.5:4222'`; list every server of a NATS cluster. Required. */
  servers: string | string[];
  /**
   * Keeps apps that share NATS servers apart: every subject starts with `cb.<namespace>.`.
   * Letters, digits, `_` and `-`. Default: `'default'`.
   */
  namespace?: string;
  /** How often this host tells the others it is alive, in ms. Default: 1000. */
  heartbeatMs?: number;
  /**
   * A host heard nothing from for this long is dead: its workers' calls fail or are redelivered
   * at once. At least twice `heartbeatMs`. Default: 3000.
   */
  deadAfterMs?: number;
  /**
   * Bytes sent to one host and not yet acknowledged by it before broadcasts to that host wait
   * (far below the server's `max_pending`, 64 MiB by default, past which it cuts a connection).
   * Default: 8 MiB.
   */
  linkWindowBytes?: number;
  /** How long starting waits for a first connection to NATS, in ms. Default: 5000. */
  connectTimeoutMs?: number;
  /**
   * More options for the NATS client (`user`, `pass`, `token`, `authenticator`, `tls`,
   * `name`, …), passed through as they are. They are never logged.
   */
  connection?: Record<string, unknown>;
}

export interface ResolvedNatsOptions {
  readonly servers: string[];
  readonly namespace: string;
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  readonly linkWindowBytes: number;
  readonly connectTimeoutMs: number;
  readonly connection: Record<string, unknown>;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Checks and completes `nats` options.
 * @throws BadOptionsError naming the option and the value.
 */
export function resolveNatsOptions(options: NatsOptions): ResolvedNatsOptions {
  if (typeof options !== 'object' || options === null) {
    throw new BadOptionsError(`bus option nats must be an object, got ${String(options)}`);
  }
  const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s !== '')) {
    throw new BadOptionsError(
      'bus option nats.servers must name at least one NATS server, e.g. "nats://127.0.0.1:4222"',
    );
  }
  const namespace = options.namespace ?? 'default';
  if (typeof namespace !== 'string' || !TOKEN.test(namespace)) {
    throw new BadOptionsError(
      `bus option nats.namespace must be letters, digits, "_" or "-", got ${JSON.stringify(namespace)}`,
    );
  }
  const resolved = {
    servers: [...servers],
    namespace,
    heartbeatMs: options.heartbeatMs ?? 1000,
    deadAfterMs: options.deadAfterMs ?? 3000,
    linkWindowBytes: options.linkWindowBytes ?? 8 * 1024 * 1024,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    connection: options.connection ?? {},
  };
  for (const key of ['heartbeatMs', 'deadAfterMs', 'linkWindowBytes', 'connectTimeoutMs'] as const) {
    if (!isPositiveInt(resolved[key])) {
      throw new BadOptionsError(`bus option nats.${key} must be a positive integer, got ${String(resolved[key])}`);
    }
  }
  if (resolved.deadAfterMs < 2 * resolved.heartbeatMs) {
    throw new BadOptionsError(
      `bus option nats.deadAfterMs (${resolved.deadAfterMs}) must be at least twice nats.heartbeatMs (${resolved.heartbeatMs}), ` +
        'or one late heartbeat would declare a live host dead',
    );
  }
  if (typeof resolved.connection !== 'object' || resolved.connection === null) {
    throw new BadOptionsError('bus option nats.connection must be an object of NATS client options');
  }
  return resolved;
}

/** A host's name as one subject token: as it is when it can be, else hex. */
export function hostToken(host: string): string {
  return TOKEN.test(host) ? host : `x${Buffer.from(host, 'utf8').toString('hex')}`;
}

/** The subjects of one namespace. */
export function subjects(namespace: string): { heartbeat: string; inbox: (host: string) => string } {
  const prefix = `cb.${namespace}`;
  return {
    heartbeat: `${prefix}.hb`,
    inbox: (host) => `${prefix}.h.${hostToken(host)}`,
  };
}
