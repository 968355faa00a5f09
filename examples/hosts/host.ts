// One host of the across-machines demo: a master with its workers serving HTTP, its bus joined
// to the other hosts' over NATS. `npm run demo:hosts` (demo.ts) starts two of them; on real
// machines, run this file on each with its own HOST_NAME and the same NATS_URL.
import http from 'node:http';
import { startCluster, type WorkerContext } from 'clusterbus';
import { messenger } from './hosts.bus.js';

const host = process.env.HOST_NAME ?? 'east';
const port = Number(process.env.PORT ?? 3001);
const servers = (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',');

await startCluster({
  workers: Number(process.env.WORKERS ?? 2),
  bus: { host, nats: { servers, namespace: 'demo' } },
  master(control) {
    void control.ready().then(() => {
      console.log(`${host}: ready on http://127.0.0.1:${port}, master pid ${process.pid} (its process group)`);
    });
  },
  worker: (ctx) => serve(ctx),
});

function serve(ctx: WorkerContext): void {
  messenger.on('demo.who', async ({ delayMs }) => {
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { host, worker: ctx.id, pid: process.pid };
  });
  messenger.on('demo.job', ({ id, from }) => {
    console.log(`${host} worker ${ctx.id}: ran job ${id} (sent from ${from})`);
  });
  messenger.on('demo.note', ({ text, from }) => {
    console.log(`${host} worker ${ctx.id}: note "${text}" from ${from}`);
  });

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error & { code?: string }) => {
      reply(res, 500, { error: err.code ?? err.name, message: err.message });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, first, second] = url.pathname.split('/');
    if (req.method === 'GET' && url.pathname === '/who') {
      // mapSettled: one outcome per worker of every host, failures included, named by host.
      const settled = await messenger.mapSettled('demo.who', { delayMs: Number(url.searchParams.get('delayMs') ?? 0) });
      return reply(
        res,
        200,
        settled.map((s) =>
          s.ok
            ? { host: s.host, worker: s.worker, ok: true, pid: s.value.pid }
            : { host: s.host, worker: s.worker, ok: false, error: s.error.code, message: s.error.message },
        ),
      );
    }
    if (req.method === 'POST' && first === 'jobs' && second) {
      await messenger.consume('demo.job', { id: second, from: host });
      return reply(res, 200, { done: second });
    }
    if (req.method === 'POST' && url.pathname === '/notes') {
      await messenger.broadcast('demo.note', { text: url.searchParams.get('text') ?? 'hello', from: host });
      return reply(res, 200, { sent: true });
    }
    if (req.method === 'GET' && url.pathname === '/status') {
      const status = await ctx.status();
      return reply(res, 200, {
        host,
        workers: status.workers.map((w) => ({ id: w.id, state: w.state })),
        otherHosts: status.nats?.hosts.map((h) => ({
          host: h.host,
          lastHeardMs: h.lastHeardMs,
          workers: h.workers.map((w) => `${w.worker}:${w.state}`),
          link: h.link,
        })),
      });
    }
    reply(res, 404, { error: 'not found' });
  }

  server.listen(port);
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}
