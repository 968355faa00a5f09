// The bus across machines under failure: a NATS server killed, a host frozen, a server with a
// small max_payload, a host joining mid-traffic. Real nats-server processes and real hosts
// (master processes with their workers, each in its own process group). Each scenario prints
// the figures it measures.
import test, { type ExecutionContext } from 'ava';
import { natsTest, startNatsCluster, startNatsServer, varz } from '../helpers/nats-server.js';
import { startHost, type Host, type MapLoopResult, type Outcome } from '../helpers/hosts.js';

const ntest = natsTest(test);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Records {
  host: string;
  worker: number;
  records: string[];
}

function value<T>(t: ExecutionContext, out: Outcome): T {
  if (!out.ok) t.fail(`call failed: ${JSON.stringify(out.error)}`);
  return (out as { value: T }).value;
}

interface Tally {
  host: string;
  worker: number;
  seen: number;
  problem?: string;
}

/** Every worker's tally of the notes `<prefix><i>`, once all have `count` or `ms` passed. */
async function tally(t: ExecutionContext, host: Host, prefix: string, count: number, ms = 30_000): Promise<Tally[]> {
  const end = Date.now() + ms;
  for (;;) {
    const all = value<Tally[]>(t, await host.call('map', 'hosts.tally', { prefix, count }));
    if (all.every((r) => r.seen >= count) || Date.now() > end) return all;
    await sleep(100);
  }
}

ntest.serial(
  'nats - a server of a 3-node cluster killed during a broadcast flood and a map loop: nothing lost, nothing hangs',
  async (t) => {
    t.timeout(120_000);
    const cluster = await startNatsCluster(t, 3);
    const [s1, s2, s3] = cluster.urls as [string, string, string];
    // host-a on server 1 (the one killed), host-b on server 3.
    const env = { HOST_NO_RANDOMIZE: '1' };
    const [a, b] = await Promise.all([
      startHost(t, { name: 'host-a', servers: [s1, s2, s3], env, log: true }),
      startHost(t, { name: 'host-b', servers: [s3, s2, s1], env, log: true }),
    ]);
    t.deepEqual(await Promise.all([a.peers(4), b.peers(4)]), [4, 4]);
    const count = 300_000;
    const flood = a.flood({ count, tag: 'f', inflight: 8 });
    const loop = a.mapLoop(5_000);
    const loopB = b.mapLoop(5_000);
    await sleep(1_000);
    // The server host-a is on (server 1, unless it had to pick another).
    const before = (await a.stats()) as { nats: { server: string } };
    const victim = cluster.servers.find((s) =>
      s.url.endsWith(before.nats.server.replace(/^.*\/\//, '')),
    ) as (typeof cluster.servers)[0];
    const killedAt = Date.now();
    await victim.kill();
    // The host stamps the client's disconnect and reconnect events as they happen; asking it
    // only reads the stamps, so a master busy with the flood does not inflate the figure.
    // Failover is from the moment the client lost its server to the moment it was connected
    // to another; before it, the busy master still has to notice the closed socket.
    let noticedMs: number | undefined;
    let failoverMs: number | undefined;
    for (let i = 0; i < 500 && failoverMs === undefined; i++) {
      const stats = (await a.stats()) as {
        nats?: { connected: boolean; disconnectedAt?: number; reconnectedAt?: number };
      };
      const { disconnectedAt, reconnectedAt } = stats.nats ?? {};
      if (stats.nats?.connected && disconnectedAt !== undefined && reconnectedAt !== undefined) {
        noticedMs = disconnectedAt - killedAt;
        failoverMs = reconnectedAt - disconnectedAt;
      } else await sleep(5);
    }
    const [sent, mapped, mappedB] = await Promise.all([flood, loop, loopB]);
    t.log(
      `host-a's server (${before.nats.server}) killed: host-a noticed after ${String(noticedMs)} ms, ` +
        `reconnected to another ${String(failoverMs)} ms later`,
    );
    t.log(`flood: ${sent.sent} broadcasts in ${sent.ms} ms, ${sent.failed} failed`);
    t.log(
      `map loops: host-a ${mapped.calls} calls (slowest ${mapped.slowest} ms, answers ${JSON.stringify(mapped.sizes)}), host-b ${mappedB.calls} calls (slowest ${mappedB.slowest} ms)`,
    );
    t.is(sent.failed, 0, sent.errors.join('; '));
    t.deepEqual(mapped.failures, []);
    t.deepEqual(mappedB.failures, []);
    t.true(mapped.slowest < 20_000 && mappedB.slowest < 20_000, 'no call hangs past its deadline');
    t.true(failoverMs !== undefined && failoverMs < 1_000, `failed over in ${String(failoverMs)} ms`);
    const records = await tally(t, a, 'f', count);
    t.is(records.length, 4);
    for (const r of records) t.is(r.problem, undefined, `${r.host}/${r.worker}`);
    const stats = (await a.stats()) as {
      nats: { stalls: number; hosts: { host: string; link: { resent: number } }[] };
    };
    t.log(`messages host-a sent again after the failover: ${stats.nats.hosts[0]?.link.resent ?? 0}`);
    t.log(`checks of host-b's silence that host-a ran late (its own stalls, not counted): ${stats.nats.stalls}`);
  },
);

ntest.serial(
  'nats - a frozen host holds the sender back: memory bounded, no slow consumer, everything arrives after it resumes',
  async (t) => {
    t.timeout(120_000);
    const server = await startNatsServer(t);
    const window = 4 * 1024 * 1024;
    const [a, b] = await Promise.all([
      startHost(t, { name: 'host-a', servers: [server.url], linkWindowBytes: window, deadAfterMs: 8_000 }),
      startHost(t, { name: 'host-b', servers: [server.url], deadAfterMs: 8_000 }),
    ]);
    t.deepEqual(await Promise.all([a.peers(4), b.peers(4)]), [4, 4]);
    const count = 16_000;
    const bytes = 10_000;
    b.signal('SIGSTOP');
    const frozenAt = Date.now();
    const flood = a.flood({ count, tag: 'z', bytes, inflight: 16, measure: true });
    await sleep(3_000);
    const during = (await a.stats()) as { nats: { hosts: { link: { inFlightBytes: number; congested: boolean } }[] } };
    const link = during.nats.hosts[0]?.link;
    b.signal('SIGCONT');
    const sent = await flood;
    t.log(
      `host-b frozen for ${Date.now() - frozenAt > 3_000 ? 3_000 : Date.now() - frozenAt} ms; in flight to it then: ${link?.inFlightBytes ?? '?'} bytes (window ${window}), congested: ${String(link?.congested)}`,
    );
    t.log(
      `flood of ${count} × ${bytes} bytes: done in ${sent.ms} ms, ${sent.failed} failed; host-a master's peak growth: ` +
        `RSS ${(sent.peakRssGrowth / 1024 / 1024).toFixed(1)} MiB, live heap ${(sent.peakHeapGrowth / 1024 / 1024).toFixed(1)} MiB`,
    );
    t.true(
      sent.peakHeapGrowth < 32 * 1024 * 1024,
      `the live heap grew by ${(sent.peakHeapGrowth / 1024 / 1024).toFixed(1)} MiB`,
    );
    const v = await varz(server);
    t.log(`server slow_consumers: ${v.slow_consumers}`);
    t.is(v.slow_consumers, 0);
    t.is(sent.failed, 0);
    const records = await tally(t, a, 'z', count, 60_000);
    t.is(records.length, 4);
    for (const r of records) t.is(r.problem, undefined, `${r.host}/${r.worker}`);
  },
);

ntest.serial(
  'nats - a server with a 64 KB max_payload: crossing payloads fail with an error naming it; local delivery works',
  async (t) => {
    t.timeout(60_000);
    const server = await startNatsServer(t, { config: 'max_payload: 65536' });
    const [a, b] = await Promise.all([
      startHost(t, { name: 'host-a', servers: [server.url] }),
      startHost(t, { name: 'host-b', servers: [server.url] }),
    ]);
    t.deepEqual(await Promise.all([a.peers(4), b.peers(4)]), [4, 4]);
    const pad = 'p'.repeat(100_000);
    const settled = value<
      { ok: boolean; host: string; worker: number; error?: { code: string; message: string; limit?: number } }[]
    >(t, await a.call('mapSettled', 'hosts.who', { pad }));
    t.deepEqual(
      settled.map((s) => `${s.host}/${s.worker}/${s.ok ? 'ok' : (s.error?.code ?? '?')}`),
      ['host-a/1/ok', 'host-a/2/ok', 'host-b/1/CB_PAYLOAD_TOO_LARGE', 'host-b/2/CB_PAYLOAD_TOO_LARGE'],
    );
    const message = settled[2]?.error?.message ?? '';
    t.log(message);
    t.regex(message, /NATS server's max_payload of 65536 bytes/);
    // A consume goes to a worker the payload can reach: this host's.
    for (let i = 0; i < 4; i++) t.true((await a.call('consume', 'hosts.blob', { blob: pad })).ok);
    const broadcast = await a.call('broadcast', 'hosts.note', { text: pad });
    t.false(broadcast.ok);
    t.is((broadcast as unknown as { error: { code: string } }).error.code, 'CB_PAYLOAD_TOO_LARGE');
    const records = value<Records[]>(t, await a.call('map', 'hosts.records', null));
    t.deepEqual(
      records.map((r) => `${r.host}/${r.worker}:${r.records.filter((x) => x.startsWith('blob:')).length}`),
      ['host-a/1:2', 'host-a/2:2', 'host-b/1:0', 'host-b/2:0'],
    );
    // Small payloads still cross.
    t.is(value<unknown[]>(t, await a.call('map', 'hosts.who', {})).length, 4);
  },
);

ntest.serial(
  'nats - a host joining while another maps in a loop: no call fails or counts it before its snapshot',
  async (t) => {
    t.timeout(90_000);
    const server = await startNatsServer(t);
    const [a, b] = await Promise.all([
      startHost(t, { name: 'host-a', servers: [server.url] }),
      startHost(t, { name: 'host-b', servers: [server.url] }),
    ]);
    t.deepEqual(await Promise.all([a.peers(4), b.peers(4)]), [4, 4]);
    // Maps run back to back from before host-c starts until 2 s after it is ready.
    let ready = false;
    const starting = startHost(t, { name: 'host-c', servers: [server.url] }).then((h) => {
      ready = true;
      return h;
    });
    const loops: MapLoopResult[] = [];
    while (!ready) loops.push(await a.mapLoop(250));
    loops.push(await a.mapLoop(2_000));
    const c = await starting;
    const sizes: Record<string, number> = {};
    for (const l of loops) for (const [n, k] of Object.entries(l.sizes)) sizes[n] = (sizes[n] ?? 0) + k;
    const failures = loops.flatMap((l) => l.failures);
    const calls = loops.reduce((n, l) => n + l.calls, 0);
    t.log(
      `${calls} maps while host-c joined: answers per call ${JSON.stringify(sizes)}, slowest ${Math.max(...loops.map((l) => l.slowest))} ms`,
    );
    t.deepEqual(failures, []);
    t.true(Object.keys(sizes).every((n) => ['4', '5', '6'].includes(n)));
    t.true((sizes['6'] ?? 0) > 0, 'host-c was counted once it had joined');
    t.is(await c.peers(6), 6);
  },
);

ntest.serial(
  'nats - cut off from NATS with a full link: new requests to the other host fail at once, local ones still run',
  async (t) => {
    t.timeout(90_000);
    const server = await startNatsServer(t);
    const window = 1024 * 1024;
    const [a, b] = await Promise.all([
      startHost(t, { name: 'host-a', servers: [server.url], linkWindowBytes: window, deadAfterMs: 20_000 }),
      startHost(t, { name: 'host-b', servers: [server.url], deadAfterMs: 20_000 }),
    ]);
    t.deepEqual(await Promise.all([a.peers(4), b.peers(4)]), [4, 4]);
    await server.kill();
    // Broadcasts fill the link to host-b, then wait for room that cannot come.
    const flood = a.flood({ count: 400, tag: 'w', bytes: 10_000, inflight: 16 });
    void flood.catch(() => undefined);
    for (let i = 0; i < 500; i++) {
      const stats = (await a.stats()) as { nats: { connected: boolean; hosts: { link: { congested: boolean } }[] } };
      if (!stats.nats.connected && stats.nats.hosts[0]?.link.congested) break;
      await sleep(10);
    }
    const startedAt = Date.now();
    const settled = value<{ ok: boolean; host: string; worker: number; error?: { code: string; message: string } }[]>(
      t,
      await a.call('mapSettled', 'hosts.who', {}),
    );
    const ms = Date.now() - startedAt;
    t.log(
      `mapSettled while cut off settled in ${ms} ms: ${settled.map((s) => `${s.host}/${s.worker}/${s.ok ? 'ok' : s.error?.code}`).join(' ')}`,
    );
    t.log(settled.find((s) => !s.ok)?.error?.message ?? '');
    t.deepEqual(
      settled.map((s) => `${s.host}/${s.worker}/${s.ok ? 'ok' : (s.error?.code ?? '?')}`),
      ['host-a/1/ok', 'host-a/2/ok', 'host-b/1/CB_NOT_CONNECTED', 'host-b/2/CB_NOT_CONNECTED'],
    );
    t.true(ms < 2_000, `${ms} ms`);
    const job = await a.call('consume', 'hosts.job', { id: 'local' });
    t.true(job.ok, 'a consume runs on this host');
    const stats = (await a.stats()) as { nats: { hosts: { link: { inFlightBytes: number } }[] } };
    // The window, plus the broadcasts in flight when it filled (16 of 10 KB): nothing more queues.
    const inFlight = stats.nats.hosts[0]?.link.inFlightBytes ?? Infinity;
    t.log(`in flight to host-b: ${inFlight} bytes (window ${window})`);
    t.true(inFlight <= window + 16 * 11_000, 'memory stays bounded');
  },
);
