/**
 * The host's one connection to NATS. The client package is an optional peer dependency, loaded
 * only when the bus is configured for NATS, so a single-host install needs none of it. The
 * parts of its API the bus uses are typed here, so that no type of the bus depends on it.
 */
import { StartFailedError } from '../../errors.js';
import type { ResolvedNatsOptions } from './options.js';

/** A received message. */
export interface NatsMessage {
  readonly subject: string;
  string(): string;
}

/** A connection status event (`disconnect`, `reconnect`, `slowConsumer`, …). */
export interface NatsStatus {
  readonly type: string;
  readonly server?: string;
}

/** What the bus uses of a NATS connection. */
export interface NatsConnection {
  readonly info?: { readonly max_payload: number; readonly server_id: string } | undefined;
  publish(subject: string, data: string): void;
  subscribe(subject: string, options: { callback: (err: Error | null, msg: NatsMessage) => void }): unknown;
  status(): AsyncIterable<NatsStatus>;
  flush(): Promise<void>;
  drain(): Promise<void>;
  close(): Promise<void>;
  closed(): Promise<void | Error>;
  getServer(): string;
}

interface NatsModule {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
}

const PACKAGE = '@nats-io/transport-node';

/**
 * Connects to NATS: reconnecting forever, to every listed server, pinging every 5 s so that a
 * half-open link is noticed in seconds rather than minutes (the client's default is 2 min).
 * @throws StartFailedError if the client package is missing or no server answers in time.
 */
export async function connectNats(options: ResolvedNatsOptions, name: string): Promise<NatsConnection> {
  let mod: NatsModule;
  try {
    mod = (await import(PACKAGE)) as NatsModule;
  } catch (err) {
    throw new StartFailedError(
      `the bus is configured for NATS but ${PACKAGE} cannot be loaded (${String(err)}); ` +
        `install it: npm install ${PACKAGE}`,
    );
  }
  // The first connection is retried here rather than by the client (`waitOnFirstConnect`),
  // whose retries cannot be stopped when the deadline passes.
  const deadline = Date.now() + options.connectTimeoutMs;
  let last: unknown;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await mod.connect({
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 5_000,
        maxPingOut: 2,
        ...options.connection,
        timeout: Math.max(100, Math.min(left, 2_000)),
        servers: options.servers,
      });
    } catch (err) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(0, deadline - Date.now()))));
    }
  }
  throw new StartFailedError(
    `no NATS server answered within ${options.connectTimeoutMs} ms (servers: ${options.servers.join(', ')})` +
      (last === undefined ? '' : `: ${String(last)}`),
  );
}
