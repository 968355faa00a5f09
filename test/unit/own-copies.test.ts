// Own copies on and off: a sender that handles its own broadcasts, maps and consumes runs them
// from the copies it kept (own deliveries by reference) or, when its link says it cannot honour
// them, from the payloads decoded like anyone's. Its handlers must not be able to tell.
import test from 'ava';
import type { Settled } from 'clusterbus';
import type { Endpoint } from '../../src/core/endpoint/endpoint.js';
import { OWN_CALL_MIN_CHARS, type AnyHandler, type RequestSpec } from '../../src/core/endpoint/endpoint.js';
import type { CallFrame, RequestFrame } from '../../src/core/protocol/frames.js';
import { DirectLink } from '../helpers/direct.js';
import { Net } from '../helpers/net.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A direct link that declares it cannot return an own delivery without its payload. */
class NoCopiesLink extends DirectLink {
  readonly ownCopies = false;
}

/** A direct link that says outright that it can (the default when it says nothing). */
class CopiesLink extends DirectLink {
  readonly ownCopies = true;
}

type Copies = 'default' | 'on' | 'off';

/** Adds peer `id` to `net` with a link that honours own copies by default, says so, or cannot. */
function addPeer(net: Net, id: number, copies: Copies, handlers: Record<string, AnyHandler>): Endpoint {
  const Link = copies === 'off' ? NoCopiesLink : copies === 'on' ? CopiesLink : DirectLink;
  return net.add(id, handlers, { link: (out) => new Link(out) });
}

function spec(ev: string, op: RequestSpec['op'], payload: unknown): RequestSpec {
  return { ev, op, payload, timeoutMs: 3000, maxPayloadBytes: 8 * 1024 * 1024 };
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Large enough that a call keeps its copy once the event's previous payload showed the size. */
const pad = 'x'.repeat(OWN_CALL_MIN_CHARS);
const plain = (n: number) => ({ n, list: [1, { k: 'v' }] as unknown[], pad });
const rich = (n: number) => ({ n, at: new Date(1_700_000_000_000 + n), tags: new Set(['a', 'b']), big: BigInt(n) });

/**
 * Peer 1 broadcasts, maps and consumes events it handles itself (peer 2 also gets the
 * broadcasts). Every payload is changed right after it is sent: what a handler sees is the
 * value as it was sent, whether it came from a copy or from the wire.
 */
async function scenario(copies: Copies) {
  const net = new Net();
  const seen = { note: [] as unknown[], ask: [] as unknown[], job: [] as unknown[], other: [] as unknown[] };
  const sender = addPeer(net, 1, copies, {
    note: (p) => void seen.note.push(p),
    ask: (p) => {
      seen.ask.push(p);
      return { echo: p };
    },
    job: (p) => void seen.job.push(p),
  });
  addPeer(net, 2, copies, { note: (p) => void seen.other.push(p) });
  try {
    await net.ready(1, 2);
    const changed = (p: { n: number; list?: unknown[] }): void => {
      p.n = -1;
      p.list?.push('changed after sending');
    };

    // One run of four broadcasts (one turn, one event).
    const notes = [plain(1), rich(2), plain(3), plain(4)];
    const broadcasts = notes.map((p) => sender.request(spec('note', 'broadcast', p)));
    notes.forEach(changed);
    await Promise.all(broadcasts);

    // Maps: the first of an event keeps no copy (its size is unknown), the second does; a rich
    // payload cannot be copied and goes whole. Consumes alike.
    const results: unknown[] = [];
    const heldDuringCall: number[] = [];
    for (const [op, ev, payloads] of [
      ['map', 'ask', [plain(5), plain(6), rich(7)]],
      ['mapSettled', 'ask', [plain(8)]],
      ['consume', 'job', [plain(9), plain(10)]],
    ] as const) {
      for (const p of payloads) {
        const pending = sender.request(spec(ev, op, p));
        heldDuringCall.push(sender.stats().ownCopyChars);
        changed(p);
        results.push(await pending);
      }
    }
    await until(() => seen.note.length === 4 && seen.other.length === 4, 'the broadcasts to be delivered');
    const requests = (net.up.get(1) ?? []).filter((f): f is RequestFrame => f.t === 'req');
    const calls = (net.down.get(1) ?? []).filter((f): f is CallFrame => f.t === 'call');
    return { seen, results, heldDuringCall, requests, calls, stats: sender.stats() };
  } finally {
    net.close();
  }
}

/** What every handler must see, copies or not: the values as sent, before they were changed. */
const expected = {
  note: [plain(1), rich(2), plain(3), plain(4)],
  ask: [plain(5), plain(6), rich(7), plain(8)],
  job: [plain(9), plain(10)],
  other: [plain(1), rich(2), plain(3), plain(4)],
};

test('endpoint - handlers see the same values with own copies on and off', async (t) => {
  const on = await scenario('default');
  const off = await scenario('off');
  t.deepEqual(on.seen, expected);
  t.deepEqual(off.seen, expected);
  t.deepEqual(on.results, off.results);
  const settled = on.results[3] as Settled<unknown>[];
  t.like(settled[0], { worker: 1, ok: true, value: { echo: plain(8) } });
  t.true((on.seen.note[1] as ReturnType<typeof rich>).at instanceof Date);
  t.true((off.seen.ask[2] as ReturnType<typeof rich>).tags instanceof Set);
  for (const run of [on, off]) t.like(run.stats, { ownCopyChars: 0, ignored: 0, pendingCalls: 0, runningHandlers: 0 });
});

test('endpoint - with own copies off, no request carries own and every own delivery brings its payload', async (t) => {
  const { requests, calls, heldDuringCall } = await scenario('off');
  t.is(requests.length, 7, 'one run of broadcasts, four maps, two consumes');
  t.true(
    requests.every((f) => !('own' in f)),
    'no request frame carries own',
  );
  t.true(
    calls.every((f) => f.own === undefined && (f.p !== '' || (f.ps?.length ?? 0) > 0)),
    'every delivery carries its payload',
  );
  t.deepEqual(heldDuringCall, [0, 0, 0, 0, 0, 0]);
});

test('endpoint - with own copies on, a large payload comes back to its sender as own with an empty p', async (t) => {
  const { requests, calls, heldDuringCall } = await scenario('default');
  const shape = (f: RequestFrame): unknown[] => [f.ev, f.op, f.own ?? false, f.ps?.length ?? 1];
  t.deepEqual(requests.map(shape), [
    ['note', 'b', true, 4],
    ['ask', 'm', false, 1], // the event's size is not known yet
    ['ask', 'm', true, 1],
    ['ask', 'm', false, 1], // a rich payload cannot be copied
    ['ask', 'm', false, 1], // the rich payload before it was small
    ['job', 'c', false, 1],
    ['job', 'c', true, 1],
  ]);
  const byId = new Map(calls.map((f) => [f.own, f]));
  for (const request of requests.filter((f) => f.own === true)) {
    const delivery = byId.get(request.id);
    t.like(delivery, { ev: request.ev, op: request.op, own: request.id, p: '', from: 1 }, request.ev);
    t.is(delivery?.ps, undefined);
  }
  t.is(calls.filter((f) => f.own !== undefined).length, 3);
  t.true(
    calls.filter((f) => f.own === undefined).every((f) => f.p.length > 0),
    'the others came back with their payloads',
  );
  t.true(heldDuringCall[1]! > 0 && heldDuringCall[5]! > 0, 'a call that keeps its copy holds it until it runs');
  t.deepEqual(
    heldDuringCall.filter((_, i) => i !== 1 && i !== 5),
    [0, 0, 0, 0],
  );
});

test('endpoint - a link that says it honours own copies is the default', async (t) => {
  const stated = await scenario('on');
  const silent = await scenario('default');
  t.deepEqual(stated.requests, silent.requests);
  t.deepEqual(stated.calls, silent.calls);
  t.deepEqual(stated.seen, expected);
});
