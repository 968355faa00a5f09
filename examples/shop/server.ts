// The clusterbus demo: a small shop served by several workers, supervised by a master.
// Run it with `npm start`, then try the curl commands in the README.
import cluster from 'node:cluster';
import http from 'node:http';
import { startCluster, reloadWorkers, type WorkerContext } from 'clusterbus';
import { messenger } from './shop.bus.js';

const port = Number(process.env.PORT ?? 3000);

await startCluster({
  workers: Number(process.env.WORKERS ?? 2),
  master(control) {
    // Raw cluster IPC still works next to the bus.
    cluster.on('message', (worker, message: { act?: string }) => {
      if (message?.act === 'hello-master') console.log(`master: worker ${worker.id} says hello over raw IPC`);
    });
    void control.ready().then(() => {
      console.log(`shop ready on http://127.0.0.1:${port} with ${control.status().workers.length} workers`);
    });
  },
  worker: (ctx) => serveShop(ctx),
});

async function serveShop(ctx: WorkerContext): Promise<void> {
  const cache = new Map<string, string>();
  const since = new Date();

  messenger.on('cache.invalidate', ({ keys }) => {
    for (const key of keys) cache.delete(key);
  });
  messenger.on('cache.stats', ({ detailed }) => ({
    worker: ctx.id,
    pid: process.pid,
    entries: cache.size,
    since,
    ...(detailed ? { keys: [...cache.keys()] } : {}),
  }));
  messenger.on('order.charge', async ({ orderId, amount }) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    console.log(`worker ${ctx.id}: charged order ${orderId} (${amount} cents)`);
  });
  messenger.on('prices.warmup', ({ requestedBy }) => {
    console.log(`worker ${ctx.id}: warming up prices once for the whole cluster (asked by worker ${requestedBy})`);
  });

  // Every worker asks; the dedupe key makes it run once cluster-wide.
  void messenger.consume('prices.warmup', { requestedBy: ctx.id }, { dedupeKey: 'prices.warmup' });
  process.send?.({ act: 'hello-master' });

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error & { code?: string }) => {
      reply(res, 500, { error: err.code ?? err.name, message: err.message });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, first, second] = url.pathname.split('/');
    if (req.method === 'GET' && url.pathname === '/') {
      return reply(res, 200, { worker: ctx.id, index: ctx.index, pid: process.pid });
    }
    if (req.method === 'GET' && first === 'cache' && second) {
      const hit = cache.has(second);
      if (!hit) cache.set(second, `value of ${second} from worker ${ctx.id}`);
      return reply(res, 200, { worker: ctx.id, key: second, value: cache.get(second), hit });
    }
    if (req.method === 'POST' && url.pathname === '/cache/invalidate') {
      const keys = (url.searchParams.get('keys') ?? '').split(',').filter(Boolean);
      await messenger.broadcast('cache.invalidate', { keys, at: new Date() });
      return reply(res, 200, { invalidated: keys });
    }
    if (req.method === 'POST' && first === 'orders' && second) {
      await messenger.consume('order.charge', {
        orderId: second,
        amount: BigInt(url.searchParams.get('amount') ?? '100'),
      });
      return reply(res, 200, { charged: second, acceptedBy: ctx.id });
    }
    if (req.method === 'GET' && url.pathname === '/stats') {
      const stats = await messenger.map('cache.stats', { detailed: url.searchParams.has('detailed') });
      return reply(res, 200, stats);
    }
    if (req.method === 'GET' && url.pathname === '/status') {
      const status = await ctx.status();
      return reply(
        res,
        200,
        status.workers.map((w) => ({ id: w.id, index: w.index, pid: w.pid, state: w.state })),
      );
    }
    if (req.method === 'POST' && url.pathname === '/crash') {
      reply(res, 202, { crashing: ctx.id });
      setImmediate(() => {
        throw new Error(`demo crash in worker ${ctx.id}`);
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/reload') {
      await reloadWorkers();
      return reply(res, 200, { reloaded: true });
    }
    reply(res, 404, { error: 'not found' });
  }

  server.listen(port);
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}
