/**
 * Who a peer is, everywhere a peer is named to a user: its host and its worker id on that
 * host. A worker id alone is unique on one machine only (node:cluster numbers workers from 1 in
 * every master), so results, errors and status name the host too.
 *
 * Order: `map` results and `status()` list peers by host name, then by worker id; on one
 * machine that is worker-id order, as it always was.
 */
import os from 'node:os';

/** A peer of the bus: a worker (or `0`, a master) on a host. */
export interface PeerId {
  /** The host's name: the bus option `host`, by default the machine's hostname. */
  readonly host: string;
  /** Worker id on that host (`0` is its master). */
  readonly worker: number;
}

let local: string | undefined;

/** This process's host name (`configureBus({ host })`, else `os.hostname()`). */
export function localHost(): string {
  local ??= os.hostname();
  return local;
}

/** Sets this process's host name; the bus does it from its options when it starts. */
export function setLocalHost(host: string): void {
  local = host;
}

/** Orders peers by host, then worker id. */
export function comparePeers(a: PeerId, b: PeerId): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  return a.worker - b.worker;
}

/** `worker 3` on this host, `worker 3 on host-b` elsewhere. */
export function describePeer(peer: PeerId): string {
  return peer.host === localHost() ? `worker ${peer.worker}` : `worker ${peer.worker} on ${peer.host}`;
}
