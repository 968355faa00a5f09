// The `nats` bus options: checked when given, with errors naming the option; and a bus that
// cannot reach NATS says so instead of waiting for ever.
import net from 'node:net';
import test from 'ava';
import { BadOptionsError, MemoryTransport, StartFailedError, silentLogger } from 'clusterbus';
import { createRouterBus } from '../../src/bus.js';
import { resolveOptions } from '../../src/core/options.js';
import { hostToken, resolveNatsOptions } from '../../src/transports/nats/options.js';

test('nats options - defaults', (t) => {
  t.deepEqual(resolveNatsOptions({ servers: 'nats://127.0.0.1:4222' }), {
    servers: ['nats://127.0.0.1:4222'],
    namespace: 'default',
    heartbeatMs: 1000,
    deadAfterMs: 3000,
    linkWindowBytes: 8 * 1024 * 1024,
    connectTimeoutMs: 5000,
    connection: {},
  });
});

const bad: [string, unknown, RegExp][] = [
  ['no servers', {}, /nats\.servers must name at least one NATS server/],
  ['an empty server list', { servers: [] }, /nats\.servers/],
  ['a namespace with a dot', { servers: 'x', namespace: 'a.b' }, /nats\.namespace must be letters, digits/],
  ['a zero heartbeat', { servers: 'x', heartbeatMs: 0 }, /nats\.heartbeatMs must be a positive integer, got 0/],
  [
    'a dead-host threshold below two heartbeats',
    { servers: 'x', heartbeatMs: 1000, deadAfterMs: 1500 },
    /deadAfterMs \(1500\) must be at least twice nats\.heartbeatMs \(1000\)/,
  ],
  ['a fractional window', { servers: 'x', linkWindowBytes: 1.5 }, /nats\.linkWindowBytes must be a positive integer/],
  ['connection options that are not an object', { servers: 'x', connection: 5 }, /nats\.connection must be an object/],
];
for (const [name, options, message] of bad) {
  test(`nats options - ${name} is a BadOptionsError`, (t) => {
    t.throws(() => resolveOptions({ nats: options as never }), { instanceOf: BadOptionsError, message });
  });
}

test('nats options - a host name becomes one subject token, distinct names stay distinct', (t) => {
  t.is(hostToken('web-1'), 'web-1');
  t.not(hostToken('web.1'), hostToken('web_1'));
  t.regex(hostToken('web.1'), /^[A-Za-z0-9_-]+$/);
});

test('nats options - a bus that reaches no NATS server fails to start with StartFailedError', async (t) => {
  // A port nobody listens on.
  const port = await new Promise<number>((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as net.AddressInfo;
      server.close(() => resolve(p));
    });
  });
  const started = Date.now();
  const bus = createRouterBus(
    resolveOptions({
      host: 'lonely',
      logger: silentLogger,
      nats: { servers: `nats://127.0.0.1:${port}`, connectTimeoutMs: 500 },
    }),
    new MemoryTransport(),
  );
  const err = await t.throwsAsync(bus.ready, { instanceOf: StartFailedError });
  t.regex(
    err?.message ?? '',
    new RegExp(`no NATS server answered within 500 ms \\(servers: nats://127.0.0.1:${port}\\)`),
  );
  t.true(Date.now() - started < 3_000);
  bus.close();
});
