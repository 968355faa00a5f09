// The nats-server helper itself: the servers it starts are real, reachable, configured as asked,
// clustered when asked, and gone when stopped.
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { natsTest, startNatsCluster, startNatsServer, varz } from '../helpers/nats-server.js';

const ntest = natsTest(test);

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

ntest(
  'nats-server - a server starts on its own ports, carries a message and reports the default max_payload',
  async (t) => {
    const startedAt = Date.now();
    const server = await startNatsServer(t);
    t.log(`server ready in ${Date.now() - startedAt} ms`);
    t.not(new URL(server.url).port, '4222');
    t.regex(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    t.regex(server.monitorUrl, /^http:\/\/127\.0\.0\.1:\d+$/);

    const nc = await connect({ servers: server.url });
    try {
      const sub = nc.subscribe('helper.hello', { max: 1 });
      await nc.flush();
      nc.publish('helper.hello', 'hi');
      for await (const msg of sub) t.is(msg.string(), 'hi');
      t.is(sub.getReceived(), 1);
    } finally {
      await nc.close();
    }
    t.is((await varz(server)).max_payload, 1048576);
  },
);

ntest('nats-server - extra config text reaches the server', async (t) => {
  const server = await startNatsServer(t, { config: 'max_payload: 65536' });
  const nc = await connect({ servers: server.url });
  try {
    t.is(nc.info?.max_payload, 65536);
  } finally {
    await nc.close();
  }
  t.is((await varz(server)).max_payload, 65536);
});

ntest(
  'nats-server - a 3-node cluster forms and routes a message from server 1 to a subscriber on server 3',
  async (t) => {
    const startedAt = Date.now();
    const cluster = await startNatsCluster(t, 3);
    t.log(`cluster of 3 formed in ${Date.now() - startedAt} ms`);
    t.is(cluster.urls.length, 3);
    t.is(new Set(cluster.urls).size, 3);

    // Never let an undefined URL through: the client would fall back to localhost:4222.
    const [url1, , url3] = cluster.urls;
    if (!url1 || !url3) return t.fail(`cluster URLs missing: ${cluster.urls.join(', ')}`);
    const nc1 = await connect({ servers: url1 });
    try {
      const nc3 = await connect({ servers: url3 });
      try {
        t.is(nc1.info?.server_name, 's1');
        t.is(nc3.info?.server_name, 's3');
        const sub = nc3.subscribe('helper.routed', { max: 1 });
        await nc3.flush();
        // s1 learns of s3's subscription over the route asynchronously; publish until it has.
        let got: string | undefined;
        const done = (async () => {
          for await (const msg of sub) got = msg.string();
        })();
        let sent = 0;
        const until = Date.now() + 5000;
        while (got === undefined && Date.now() < until) {
          nc1.publish('helper.routed', `from s1 #${++sent}`);
          await nc1.flush();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        sub.unsubscribe();
        await done;
        t.regex(got ?? '(nothing received)', /^from s1 #\d+$/);
        t.log(`received after ${sent} publish(es)`);
      } finally {
        await nc3.close();
      }
    } finally {
      await nc1.close();
    }
  },
);

ntest('nats-server - after stop() the process is gone', async (t) => {
  const server = await startNatsServer(t);
  t.true(server.running());
  t.false(gone(server.pid));
  await server.stop();
  t.false(server.running());
  t.true(gone(server.pid));
  await server.stop(); // a second stop (and the teardown's) is a no-op
});
