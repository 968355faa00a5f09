// The host-to-host link over NATS, without a server: its message format, and the sequence,
// window and resend rules of each direction.
import test from 'ava';
import type { CallFrame, ReplyFrame } from '../../src/core/protocol/frames.js';
import {
  decodeDirect,
  decodeHeartbeat,
  encodeData,
  type DataMessage,
  type LinkEntry,
} from '../../src/transports/nats/link-codec.js';
import { InLink, OutLink } from '../../src/transports/nats/link.js';

const address = { h: 'host-a', i: 'inc-a', to: 'inc-b' };
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const call = (p: string, extra: Partial<CallFrame> = {}): CallFrame => ({
  cb: 1,
  t: 'call',
  id: 7,
  ev: 'orders.new',
  op: 'm',
  p,
  from: 2,
  ...extra,
});

test('nats link - data messages carry frames with raw payloads, whatever the payloads hold', (t) => {
  const tricky = JSON.stringify({ text: 'quote " backslash \\ newline \n line-sep \u2028 emoji 😀 nul \u0000' });
  const entries: LinkEntry[] = [
    { k: 'c', workers: [1, 2], frame: call(tricky) },
    { k: 'c', workers: [3], frame: call('', { id: 0, op: 'b', ps: [tricky, '{}', '"x"'] }) },
    { k: 'r', worker: 1, frame: { cb: 1, t: 'res', id: 9, ok: true, p: tricky } as ReplyFrame },
    {
      k: 'r',
      worker: 2,
      frame: { cb: 1, t: 'res', id: 10, ok: false, e: { c: 'CB_TIMEOUT', m: 'late' } } as ReplyFrame,
    },
    {
      k: 'm',
      gen: 4,
      peers: [
        [0, 'r', []],
        [1, 's', []],
        [2, 'd', ['a', 'b']],
      ],
    },
    { k: 'g', worker: 2, reason: 'killed by SIGKILL' },
  ];
  const text = encodeData(address, 12, entries);
  t.notThrows(() => JSON.parse(text.slice(0, text.indexOf('\n'))), 'a JSON header line');
  t.false(text.slice(0, text.indexOf('\n')).includes('quote'), 'payloads are not in the header');
  const m = decodeDirect(text) as DataMessage;
  t.is(m.k, 'd');
  t.is(m.s, 12);
  t.deepEqual(m.e, entries);
});

test('nats link - malformed messages are refused, never thrown', (t) => {
  const good = encodeData(address, 1, [{ k: 'c', workers: [1], frame: call('{"a":1}') }]);
  const header = good.slice(0, good.indexOf('\n'));
  const bad = [
    '',
    'not json',
    '{"k":"d"}',
    '[]',
    `${header}\n{"a":1}extra`,
    `${header}\n{"a"`,
    header.replace('"s":1', '"s":-1'),
    header.replace('"h":"host-a"', '"h":5'),
    JSON.stringify({ k: 'd', h: 'a', i: 'b', to: 'c', s: 1, e: [['z', 1]] }),
    JSON.stringify({ k: 'd', h: 'a', i: 'b', to: 'c', s: 1, e: [['m', 1, [[1, 'q', []]]]] }),
    JSON.stringify({ k: 'd', h: 'a', i: 'b', to: 'c', s: 1, e: [['c', ['1'], {}, 0]] }),
  ];
  for (const text of bad) t.is(decodeDirect(text), undefined, text);
  t.deepEqual(decodeDirect(JSON.stringify({ k: 'a', h: 'a', i: 'b', to: 'c', s: 3 })), {
    k: 'a',
    h: 'a',
    i: 'b',
    to: 'c',
    s: 3,
  });
  t.is(decodeHeartbeat('{"k":"hb","h":"a","i":"b","v":1,"g":1,"m":[[1,"x",[]]]}'), undefined);
  t.deepEqual(decodeHeartbeat('{"k":"hb","h":"a","i":"b","v":1,"g":2,"m":[[1,"r",["e"]]]}'), {
    k: 'hb',
    h: 'a',
    i: 'b',
    v: 1,
    g: 2,
    m: [[1, 'r', ['e']]],
    fp: [],
  });
});

function outLink(window = 1000, max = 1_000_000) {
  const sent: string[] = [];
  const dropped: number[] = [];
  const link = new OutLink(
    address,
    'cb.test.h.host-b',
    (_subject, text) => {
      sent.push(text);
      return true;
    },
    window,
    () => max,
    (_entries, bytes) => dropped.push(bytes),
  );
  return { link, sent, dropped, seqs: () => sent.map((s) => (decodeDirect(s) as DataMessage).s) };
}

test('nats link - the calls of a broadcast to several workers of a host travel once, in one message per turn', async (t) => {
  const { link, sent } = outLink();
  const broadcast = call('{}', { id: 0, op: 'b' });
  link.call(1, broadcast);
  link.call(2, broadcast);
  link.call(1, call('{"x":1}'));
  await tick();
  t.is(sent.length, 1);
  const m = decodeDirect(sent[0] as string) as DataMessage;
  t.deepEqual(
    m.e.map((e) => (e.k === 'c' ? e.workers : [])),
    [[1, 2], [1]],
  );
});

test('nats link - the window fills with unacknowledged bytes, and an acknowledgement frees it', async (t) => {
  const { link, seqs } = outLink(1000);
  let woke = 0;
  for (let i = 0; i < 3; i++) {
    link.call(1, call('x'.repeat(400)));
    await tick();
  }
  t.deepEqual(seqs(), [1, 2, 3]);
  t.true(link.congested);
  link.whenWritable(() => woke++);
  link.acked(1);
  t.is(woke, 0, 'still over the window');
  link.acked(3);
  t.is(woke, 1);
  t.false(link.congested);
  t.is(link.inFlightBytes, 0);
});

test('nats link - what is not acknowledged is sent again in order, after silence only if the receiver is heard from', async (t) => {
  const { link, sent, seqs } = outLink();
  link.call(1, call('a'));
  await tick();
  link.call(1, call('b'));
  await tick();
  link.acked(1);
  link.resend();
  t.deepEqual(seqs(), [1, 2, 2]);
  const later = Date.now() + 5_000;
  link.tick(later, 0);
  t.is(sent.length, 3, 'a silent receiver gets no copies');
  link.tick(later, later);
  t.deepEqual(seqs(), [1, 2, 2, 2]);
  t.is(link.resent, 2);
});

test('nats link - messages are cut below the server limit; an entry alone over it is dropped and reported', async (t) => {
  const { link, sent, dropped } = outLink(10_000_000, 4_000);
  for (let i = 0; i < 10; i++) link.call(1, call('y'.repeat(900)));
  link.call(2, call('z'.repeat(5_000)));
  await tick();
  t.true(sent.length >= 3);
  for (const text of sent) t.true(Buffer.byteLength(text) <= 4_000);
  const delivered = sent.flatMap((s) => (decodeDirect(s) as DataMessage).e);
  t.is(delivered.length, 10);
  t.is(dropped.length, 1);
});

test('nats link - the receiving side delivers each message once, in order', (t) => {
  const link = new InLink();
  t.true(link.accept(1));
  t.false(link.accept(1), 'a duplicate');
  t.false(link.accept(3), 'ahead of a gap: sent again later');
  t.true(link.accept(2));
  t.true(link.accept(3));
  t.is(link.delivered, 3);
  t.is(link.duplicates, 1);
  t.is(link.outOfOrder, 1);
});
