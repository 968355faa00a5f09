/**
 * Run-once jobs (`dedupeKey`) once across every host, in a NATS KV bucket. `create` succeeds
 * for exactly one host (the key must not exist): that host runs the job and writes its
 * outcome; the others wait for it, reading the key. If the owner is declared dead while the
 * job runs, one waiter takes it over with a compare-and-set on the key's revision and runs it
 * again. An outcome lives in the bucket for its TTL.
 */
import { createHash } from 'node:crypto';
import type { SharedDedupe, SharedOutcome } from '../../core/transport.js';
import type { WireError } from '../../core/protocol/frames.js';
import { TimeoutError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { NatsConnection } from './client.js';

/** What the bus uses of a KV bucket. */
interface KvEntry {
  readonly revision: number;
  readonly operation: string;
  string(): string;
}
interface Kv {
  create(key: string, value: string): Promise<number>;
  update(key: string, value: string, revision: number): Promise<number>;
  put(key: string, value: string): Promise<number>;
  get(key: string): Promise<KvEntry | null>;
}
interface KvModule {
  Kvm: new (nc: unknown) => { create(name: string, options: Record<string, unknown>): Promise<Kv> };
}

/** A key's value: owner host and incarnation, `r`unning or `d`one, and the outcome once done. */
interface Record_ {
  o: string;
  i: string;
  s: 'r' | 'd';
  ok?: boolean;
  e?: WireError;
}

const POLL_MS = 100;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens (or creates) the namespace's dedupe bucket. Resolves `undefined` when the servers have
 * no JetStream: run-once jobs are then once per host, and a warning says so.
 */
export async function openKvDedupe(
  nc: NatsConnection,
  namespace: string,
  ttlMs: number,
  owner: () => { host: string; inc: string },
  alive: (host: string, inc: string) => boolean,
  log: Logger,
): Promise<KvDedupe | undefined> {
  try {
    const { Kvm } = (await import('@nats-io/kv')) as unknown as KvModule;
    const kv = await new Kvm(nc).create(`cb_${namespace}_dedupe`, { history: 1, ttl: ttlMs });
    return new KvDedupe(kv, owner, alive, log);
  } catch (err) {
    log.warn(
      'no NATS KV for run-once jobs (dedupeKey): each host runs them once on its own; ' +
        'enable JetStream on the NATS servers (nats-server -js) and install @nats-io/kv for once across hosts',
      { error: String(err) },
    );
    return undefined;
  }
}

export class KvDedupe implements SharedDedupe {
  constructor(
    private readonly kv: Kv,
    private readonly owner: () => { host: string; inc: string },
    private readonly alive: (host: string, inc: string) => boolean,
    private readonly log: Logger,
  ) {}

  async claim(key: string, ev: string, ms: number): Promise<SharedOutcome> {
    const deadline = Date.now() + ms;
    const k = keyOf(key);
    const mine = (): string => {
      const me = this.owner();
      return JSON.stringify({ o: me.host, i: me.inc, s: 'r' } satisfies Record_);
    };
    try {
      await this.kv.create(k, mine());
      return { run: true };
    } catch {
      // Taken, or a failure: reading the key tells which.
    }
    for (;;) {
      const entry = await this.kv.get(k);
      const record = entry && entry.operation === 'PUT' ? parse(entry.string()) : undefined;
      if (!entry || !record) {
        // Gone (expired between the two calls) or unreadable: claim it afresh.
        try {
          if (entry) await this.kv.update(k, mine(), entry.revision);
          else await this.kv.create(k, mine());
          return { run: true };
        } catch {
          // Someone else was faster; look again.
        }
      } else if (record.s === 'd') {
        return record.ok ? { run: false, ok: true } : { run: false, ok: false, e: record.e as WireError };
      } else if (!this.alive(record.o, record.i)) {
        try {
          await this.kv.update(k, mine(), entry.revision);
          this.log.warn('took over a run-once job whose host is gone', { event: ev, owner: record.o });
          return { run: true };
        } catch {
          // Another waiter took it over first.
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(ev, ms);
      await sleep(Math.min(POLL_MS, left));
    }
  }

  settle(key: string, outcome: { ok: boolean; e?: WireError }): void {
    const me = this.owner();
    const record: Record_ = { o: me.host, i: me.inc, s: 'd', ok: outcome.ok, ...(outcome.e ? { e: outcome.e } : {}) };
    this.kv.put(keyOf(key), JSON.stringify(record)).catch((err: unknown) => {
      this.log.error('could not record a run-once job as done in NATS KV; waiting hosts will run it again', {
        error: String(err),
      });
    });
  }
}

/** A KV key for any event and dedupe key (KV keys allow few characters). */
function keyOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function parse(text: string): Record_ | undefined {
  try {
    const v = JSON.parse(text) as Partial<Record_>;
    if (typeof v.o !== 'string' || typeof v.i !== 'string' || (v.s !== 'r' && v.s !== 'd')) return undefined;
    return v as Record_;
  } catch {
    return undefined;
  }
}
