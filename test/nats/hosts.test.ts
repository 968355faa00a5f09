// The bus across machines: "hosts" (master processes with their own workers, each in its own
// process group) joined over a real nats-server started by the test. Each scenario prints the
// figure it measures.
import test, { type ExecutionContext } from 'ava';
import { natsTest, startNatsServer } from '../helpers/nats-server.js';
import { startHost, type Host, type Outcome } from '../helpers/hosts.js';

const ntest = natsTest(test);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface SettledJson {
  ok: boolean;
  host: string;
  worker: number;
  value?: { host: string; worker: number };
  error?: { code: string; message: string; host?: string; worker?: number };
}

function value<T>(t: ExecutionContext, out: Outcome): T {
  if (!out.ok) t.fail(`call failed: ${JSON.stringify(out.error)}`);
  return (out as { value: T }).value;
}

async function twoHosts(
  t: ExecutionContext,
  extra: { heartbeatMs?: number; deadAfterMs?: number } = {},
  jetstream = false,
): Promise<[Host, Host]> {
  const server = await startNatsServer(t, { jetstream });
  const [a, b] = await Promise.all([
    startHost(t, { name: 'host-a', servers: [server.url], ...extra, log: !!process.env.HOSTS_LOG }),
    startHost(t, { name: 'host-b', servers: [server.url], ...extra, log: !!process.env.HOSTS_LOG }),
  ]);
  t.deepEqual(await Promise.all([a.peers(4), b.peers(4)]), [4, 4]);
  return [a, b];
}

ntest.serial(
  'nats - a map from either host is answered by every worker of both, in (host, worker) order',
  async (t) => {
    t.timeout(60_000);
    const [a, b] = await twoHosts(t);
    for (const from of [a, b]) {
      const who = value<{ host: string; worker: number; pid: number }[]>(t, await from.call('map', 'hosts.who', {}));
      t.deepEqual(
        who.map((w) => `${w.host}/${w.worker}`),
        ['host-a/1', 'host-a/2', 'host-b/1', 'host-b/2'],
        `from ${from.name}`,
      );
    }
    const settled = value<SettledJson[]>(t, await a.call('mapSettled', 'hosts.who', {}));
    t.deepEqual(
      settled.map((s) => `${s.host}/${s.worker}/${String(s.ok)}`),
      ['host-a/1/true', 'host-a/2/true', 'host-b/1/true', 'host-b/2/true'],
    );
  },
);

ntest.serial('nats - a handler error on another host names that host and worker', async (t) => {
  t.timeout(60_000);
  const [a] = await twoHosts(t);
  const settled = value<SettledJson[]>(t, await a.call('mapSettled', 'hosts.fail', null));
  t.is(settled.length, 4);
  for (const s of settled) {
    t.false(s.ok);
    t.is(s.error?.code, 'CB_HANDLER_FAILED');
    t.is(s.error?.host, s.host);
    t.is(s.error?.worker, s.worker);
    t.true(s.error?.message.includes(`failed on ${s.host} worker ${s.worker}`), s.error?.message);
  }
  const remote = settled.find((s) => s.host === 'host-b');
  t.regex(remote?.error?.message ?? '', /on worker \d on host-b failed/);
});

ntest.serial('nats - broadcasts from one host reach every worker of every host, in the order sent', async (t) => {
  t.timeout(60_000);
  const [a] = await twoHosts(t);
  const sent = await Promise.all(
    Array.from({ length: 200 }, (_, i) => a.call('broadcast', 'hosts.note', { text: `n${i}` })),
  );
  t.true(sent.every((s) => s.ok));
  const expected = Array.from({ length: 200 }, (_, i) => `note:n${i}`);
  let records: { host: string; worker: number; records: string[] }[] = [];
  for (let i = 0; i < 100; i++) {
    records = value(t, await a.call('map', 'hosts.records', null));
    if (records.every((r) => r.records.length >= 200)) break;
    await sleep(50);
  }
  t.is(records.length, 4);
  for (const r of records) t.deepEqual(r.records, expected, `${r.host}/${r.worker}`);
});

ntest.serial('nats - consume spreads round-robin over the workers of every host', async (t) => {
  t.timeout(60_000);
  const [a] = await twoHosts(t);
  const done = await Promise.all(Array.from({ length: 40 }, (_, i) => a.call('consume', 'hosts.job', { id: `j${i}` })));
  t.true(
    done.every((d) => d.ok),
    JSON.stringify(done.find((d) => !d.ok)),
  );
  const records = value<{ host: string; worker: number; records: string[] }[]>(
    t,
    await a.call('map', 'hosts.records', null),
  );
  const counts = records.map((r) => `${r.host}/${r.worker}=${r.records.filter((x) => x.startsWith('job:')).length}`);
  t.log(counts.join(' '));
  t.deepEqual(counts, ['host-a/1=10', 'host-a/2=10', 'host-b/1=10', 'host-b/2=10']);
});

ntest.serial('nats - a worker killed on another host is reported to the caller at once', async (t) => {
  t.timeout(60_000);
  const [a, b] = await twoHosts(t);
  // The other workers answer after 2 s; the map's deadline is 20 s. Without the report the
  // dead worker's slot would only fail at that deadline.
  const startedAt = Date.now();
  const call = a.call('mapSettled', 'hosts.who', { delayMs: 2000 });
  await sleep(300);
  await b.killWorker(2);
  const settled = value<SettledJson[]>(t, await call);
  const ms = Date.now() - startedAt;
  t.log(`mapSettled settled ${ms} ms after it started (others answer at 2000 ms, deadline 20000 ms)`);
  const dead = settled.find((s) => s.host === 'host-b' && s.worker === 2);
  t.is(dead?.error?.code, 'CB_WORKER_EXITED');
  t.regex(
    dead?.error?.message ?? '',
    /worker 2 on host-b exited before answering "hosts.who" \(killed by SIGKILL\)/,
    dead?.error?.message,
  );
  t.is(settled.filter((s) => s.ok).length, 3);
  t.true(ms < 5000, `${ms} ms`);
});

ntest.serial(
  'nats - a whole host killed mid-map is reported within the dead-host threshold; its consume runs again',
  async (t) => {
    t.timeout(60_000);
    const [a, b] = await twoHosts(t);
    // Four jobs of 4 s: two land on host-b's workers (round-robin), which dies with them. The
    // map's workers answer after 1 s, its deadline is 20 s.
    const jobs = Array.from({ length: 4 }, (_, i) => a.call('consume', 'hosts.job', { id: `slow${i}`, delayMs: 4000 }));
    const call = a.call('mapSettled', 'hosts.who', { delayMs: 1000 });
    await sleep(500);
    const killedAt = Date.now();
    b.signal('SIGKILL');
    const settled = value<SettledJson[]>(t, await call);
    const ms = Date.now() - killedAt;
    t.log(`host death reported after ${ms} ms (threshold 3000 ms)`);
    t.deepEqual(
      settled.filter((s) => !s.ok).map((s) => `${s.host}/${s.worker}/${s.error?.code}`),
      ['host-b/1/CB_WORKER_EXITED', 'host-b/2/CB_WORKER_EXITED'],
    );
    t.regex(settled.find((s) => !s.ok)?.error?.message ?? '', /host host-b unreachable/);
    t.true(ms <= 3500, `${ms} ms`);
    const done = await Promise.all(jobs);
    t.true(
      done.every((d) => d.ok),
      JSON.stringify(done),
    );
    const records = value<{ host: string; worker: number; records: string[] }[]>(
      t,
      await a.call('map', 'hosts.records', null),
    );
    const jobsOnA = records.flatMap((r) => r.records.filter((x) => x.startsWith('job:slow')));
    t.log(`jobs run on host-a: ${jobsOnA.join(' ')}`);
    t.deepEqual([...jobsOnA].sort(), ['job:slow0', 'job:slow1', 'job:slow2', 'job:slow3']);
    const status = (await a.status()) as { nats: { hosts: unknown[] } };
    t.deepEqual(status.nats.hosts, []);
  },
);

ntest.serial('nats - a host that shuts down says so: the others drop it at once', async (t) => {
  t.timeout(60_000);
  const [a, b] = await twoHosts(t);
  const before = (await a.status()) as { nats: { hosts: { host: string; workers: { worker: number }[] }[] } };
  t.deepEqual(
    before.nats.hosts.map((h) => `${h.host}:${h.workers.map((w) => w.worker).join(',')}`),
    ['host-b:0,1,2'],
  );
  b.signal('SIGTERM');
  t.is(await b.exited, 0);
  const who = value<{ host: string }[]>(t, await a.call('map', 'hosts.who', {}));
  t.deepEqual(
    who.map((w) => w.host),
    ['host-a', 'host-a'],
  );
});

ntest.serial('nats - a dedupeKey job runs once across hosts, and is taken over once when its host dies', async (t) => {
  t.timeout(60_000);
  const [a, b] = await twoHosts(t, {}, true);
  const calls = [];
  for (let i = 0; i < 3; i++) {
    for (const h of [a, b]) calls.push(h.call('consume', 'hosts.job', { id: 'boot' }, { dedupeKey: 'boot' }));
  }
  const outs = await Promise.all(calls);
  t.true(
    outs.every((o) => o.ok),
    JSON.stringify(outs.find((o) => !o.ok)),
  );
  const records = value<{ records: string[] }[]>(t, await a.call('map', 'hosts.records', null));
  const runs = records.flatMap((r) => r.records).filter((r) => r === 'job:boot').length;
  t.log(`6 callers on 2 hosts, job run ${runs} time(s)`);
  t.is(runs, 1);
  // host-b claims a slow job, then dies while it runs; host-a's caller waits, then takes it over.
  const owned = b.call('consume', 'hosts.job', { id: 'own', delayMs: 20_000 }, { dedupeKey: 'own', timeoutMs: 30_000 });
  void owned.catch(() => undefined);
  await sleep(500);
  const waiting = a.call('consume', 'hosts.job', { id: 'own' }, { dedupeKey: 'own', timeoutMs: 30_000 });
  await sleep(300);
  const killedAt = Date.now();
  b.signal('SIGKILL');
  const out = await waiting;
  t.log(`taken over and done ${Date.now() - killedAt} ms after host-b was killed`);
  t.true(out.ok, JSON.stringify(out));
  const after = value<{ records: string[] }[]>(t, await a.call('map', 'hosts.records', null));
  const own = after.flatMap((r) => r.records).filter((r) => r.startsWith('job:own')).length;
  t.log(`runs of the job on host-a: ${own} (1 by the takeover, plus 1 if host-b had routed it to host-a)`);
  t.true(own >= 1 && own <= 2);
});
