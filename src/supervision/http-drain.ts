/**
 * Draining a worker's servers without failing a request. A draining worker stops accepting
 * connections, answers every request that reached it, and closes each connection only when no
 * request can be in flight on it:
 *
 * - HTTP/1.x: a request that starts (or whose response has not started) while draining is
 *   answered with `Connection: close`, and Node closes the connection after that response.
 *   A keep-alive connection that stays idle is closed once it has been idle for `idleMs`.
 * - HTTP/2: every session is told `GOAWAY` (`session.close()`): its open streams finish,
 *   clients open new streams on a new connection, then the session closes.
 *
 * Closing an idle HTTP/1.1 connection is the one step that can fail a request: a client that
 * sends on it at the very instant it closes gets a reset, as with any server's keep-alive
 * timeout. Waiting `idleMs` first leaves that window only to clients that send after exactly
 * that long a pause; a client that sends continuously is told to leave by a response instead.
 *
 * Servers and connections are found through Node's diagnostics channels, so the application
 * registers nothing: any server a worker listens on is covered.
 */
import dc from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';

interface Connection {
  readonly socket: net.Socket;
  /** Requests started and not finished. */
  active: number;
  /** Those requests, for `inFlight()`: what was cut if the worker is killed. */
  readonly requests: Map<ServerResponse, { method: string; url: string; startedAt: number }>;
  /** When it last became idle (no request in flight). */
  idleSince: number;
  /** It belongs to an HTTP/2 server: its session closes it. */
  http2: boolean;
}

interface RequestStart {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly socket: net.Socket;
}

/** How often a draining worker looks for connections that have been idle long enough. */
const SWEEP_MS = 25;
/** An ended connection whose client does not close its side is destroyed after this. */
const END_GRACE_MS = 1_000;

/** The connections of this process's servers, and how to drain them. */
export class HttpDrainer {
  private readonly servers = new Set<net.Server>();
  private readonly connections = new Map<net.Socket, Connection>();
  private readonly sessions = new Set<Http2Session>();
  private draining = false;
  private idleMs = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private finished: (() => void) | undefined;

  private readonly onSocket = (message: unknown): void => {
    const socket = (message as { socket?: unknown }).socket;
    if (socket instanceof net.Socket) this.track(socket);
  };

  private readonly onRequestStart = (message: unknown): void => {
    const { request, response, socket } = message as RequestStart;
    const conn = this.connections.get(socket) ?? this.track(socket);
    if (!conn) return;
    conn.active++;
    conn.requests.set(response, { method: request.method ?? '?', url: request.url ?? '?', startedAt: Date.now() });
    // Before the application's handler runs: the response it writes tells the client to go.
    if (this.draining && !response.headersSent) response.shouldKeepAlive = false;
  };

  private readonly onResponseFinish = (message: unknown): void => {
    const { response, socket } = message as RequestStart;
    const conn = this.connections.get(socket);
    if (!conn) return;
    conn.requests.delete(response);
    conn.active = Math.max(0, conn.active - 1);
    if (conn.active === 0) conn.idleSince = Date.now();
  };

  /** Starts watching this process's servers and connections. */
  install(): void {
    dc.subscribe('net.server.socket', this.onSocket);
    dc.subscribe('http.server.request.start', this.onRequestStart);
    dc.subscribe('http.server.response.finish', this.onResponseFinish);
  }

  /** Open connections, for tests and logs. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** The HTTP/1 requests being served now, oldest first, with when each started. */
  inFlight(): { method: string; url: string; startedAt: number }[] {
    const all = [...this.connections.values()].flatMap((c) => [...c.requests.values()]);
    return all.sort((a, b) => a.startedAt - b.startedAt);
  }

  /**
   * Stops accepting connections on every server seen and closes each connection once nothing
   * can be in flight on it (see the module comment). Resolves when none is left open.
   * @param idleMs how long an idle HTTP/1.1 keep-alive connection is kept for a last request.
   */
  drain(idleMs: number): Promise<void> {
    this.draining = true;
    this.idleMs = idleMs;
    for (const server of this.servers) stopAccepting(server);
    for (const session of this.sessions) closeSession(session);
    for (const conn of this.connections.values()) {
      // A request whose response has not started yet is answered with `Connection: close`
      // too; one whose response is under way makes its connection idle when it ends.
      if (conn.active === 0) conn.idleSince = Date.now();
    }
    return new Promise((resolve) => {
      this.finished = resolve;
      this.sweep();
    });
  }

  private track(socket: net.Socket): Connection | undefined {
    const server = (socket as net.Socket & { server?: unknown }).server;
    if (!(server instanceof net.Server)) return undefined;
    let conn = this.connections.get(socket);
    if (conn) return conn;
    if (!this.servers.has(server)) this.adopt(server);
    conn = { socket, active: 0, requests: new Map(), idleSince: Date.now(), http2: isHttp2Server(server) };
    this.connections.set(socket, conn);
    socket.once('close', () => {
      this.connections.delete(socket);
      if (this.draining) this.sweep();
    });
    if (this.draining) stopAccepting(server);
    return conn;
  }

  private adopt(server: net.Server): void {
    this.servers.add(server);
    if (!isHttp2Server(server)) return;
    // A session is known from its 'session' event, or from its first stream when the session
    // of a server's very first connection was created before the server was seen.
    server.prependListener('session', (session: Http2Session) => this.adoptSession(session));
    server.prependListener('stream', (stream: ServerHttp2Stream) => this.adoptSession(stream.session));
  }

  private adoptSession(session: Http2Session | undefined): void {
    if (!session || this.sessions.has(session)) return;
    this.sessions.add(session);
    session.once('close', () => {
      this.sessions.delete(session);
      if (this.draining) this.sweep();
    });
    if (this.draining) closeSession(session);
  }

  private hasSession(socket: net.Socket): boolean {
    // `session.socket` is a proxy of the socket, not the socket: match on the peer's address.
    for (const session of this.sessions) {
      try {
        const s = session.socket;
        if (s.remotePort === socket.remotePort && s.remoteAddress === socket.remoteAddress) return true;
      } catch {
        // A session being destroyed has no socket any more; its 'close' follows.
      }
    }
    return false;
  }

  /** Closes the connections idle long enough; resolves the drain once none is left. */
  private sweep(): void {
    if (this.sweeper) clearTimeout(this.sweeper);
    this.sweeper = undefined;
    const now = Date.now();
    for (const conn of this.connections.values()) {
      // An HTTP/2 connection closes with its session, unless its session was never seen (it
      // opened no stream since the server was first seen): then nothing can be in flight on it.
      if (conn.active > 0 || (conn.http2 && this.hasSession(conn.socket)) || now - conn.idleSince < this.idleMs) {
        continue;
      }
      endConnection(conn.socket);
    }
    if (this.connections.size === 0 && this.sessions.size === 0) {
      const finished = this.finished;
      this.finished = undefined;
      finished?.();
      return;
    }
    this.sweeper = setTimeout(() => this.sweep(), SWEEP_MS);
  }
}

function isHttp2Server(server: net.Server): boolean {
  // Both HTTP/2 server classes emit 'session'; HTTP/1 servers never do.
  const name = server.constructor.name;
  return name === 'Http2Server' || name === 'Http2SecureServer';
}

/**
 * Closes the listening socket only. `http.Server#close` would also close every idle keep-alive
 * connection at once, which fails the requests their clients are sending at that instant.
 */
function stopAccepting(server: net.Server): void {
  if (!server.listening) return;
  net.Server.prototype.close.call(server, () => {});
}

function closeSession(session: Http2Session): void {
  if (!session.closed && !session.destroyed) session.close();
}

function endConnection(socket: net.Socket): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.end();
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}
