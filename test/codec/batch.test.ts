import test from 'ava';
import {
  BATCH_TAG,
  BatchWriter,
  appendRecord,
  isBatch,
  newBatch,
  readBatch,
} from '../../src/transports/stream/batch.js';
import {
  PROTOCOL_VERSION,
  type CallFrame,
  type DownFrame,
  type RequestFrame,
  type UpFrame,
} from '../../src/core/protocol/frames.js';
import { prng } from '../helpers/fuzz.js';

const cb = PROTOCOL_VERSION;
const frames: (UpFrame | DownFrame)[] = [
  { cb, t: 'hello', ev: ['a', 'b'] },
  { cb, t: 'req', id: 1, ev: 'e', op: 'm', p: '{"json":{"x":"a:b\\"c"}}', ms: 10 },
  { cb, t: 'req', id: 2, ev: 'e', op: 'b', p: '' },
  { cb, t: 'res', id: 3, ok: false, e: { c: 'CB_TIMEOUT', m: 'late' } },
  { cb, t: 'call', id: 4, ev: 'e', op: 'c', p: '12:34:😀', from: 2 },
  { cb, t: 'done', id: 5, ok: true },
  { cb, t: 'req', id: 7, ev: 'e', op: 'b', p: '', ps: ['{"json":1}', '', '3:x'] },
  { cb, t: 'call', id: 0, ev: 'e', op: 'b', p: '', ps: ['{"json":"😀"}'], from: 1 },
  { cb, t: 'req', id: 8, ev: 'e', op: 'b', p: '', ps: ['{"json":2}'], own: true },
  { cb, t: 'call', id: 0, ev: 'e', op: 'b', p: '', from: 1, own: 8 },
  {
    cb,
    t: 'mapped',
    id: 6,
    r: [
      [0, true, '{"json":0}'],
      [1, false, { c: 'CB_HANDLER_FAILED', m: 'x' }],
      [2, true, ''],
    ],
  },
];

test('batch - every envelope kind survives a batch unchanged, payloads included', (t) => {
  const parts = newBatch();
  for (const f of frames) appendRecord(parts, f);
  const batch = parts.join('');
  t.true(isBatch(batch));
  const read = readBatch(batch);
  t.true(read.complete);
  t.deepEqual(read.frames, frames);
});

test('batch - a truncated or corrupted batch yields the records before the damage, and says so', (t) => {
  const parts = newBatch();
  for (const f of frames) appendRecord(parts, f);
  const batch = parts.join('');
  for (let cut = BATCH_TAG.length; cut < batch.length; cut += 7) {
    const read = readBatch(batch.slice(0, cut));
    t.true(read.frames.length < frames.length);
    t.deepEqual(read.frames, frames.slice(0, read.frames.length));
  }
  for (const bad of ['x', '99999999999:', '5:{"t":', '2:{}x:', '2:{}1:9:ab', '4:null0:', '2:[]0:', '8:{"ps":2}1:1:a']) {
    const read = readBatch(BATCH_TAG + bad);
    t.false(read.complete, bad);
    t.deepEqual(read.frames, []);
  }
});

test('batch - neighbours that differ only in id and payloads share one header and come back whole', (t) => {
  const call = (id: number, p: string, ev = 'ask'): DownFrame => ({
    cb,
    t: 'call',
    id,
    ev,
    op: 'm',
    p,
    from: 1,
    mr: 9,
  });
  const ok = (id: number, p: string): UpFrame => ({ cb, t: 'res', id, ok: true, p });
  const req = (id: number, p: string, ms = 5): UpFrame => ({ cb, t: 'req', id, ev: 'ask', op: 'm', p, ms });
  const ownCall = (id: number, own: number): DownFrame => ({ ...(call(id, '') as CallFrame), own });
  const ownReq = (id: number, p: string): UpFrame => ({ ...(req(id, p) as RequestFrame), own: true });
  const mapped = (id: number, ...ps: string[]): DownFrame => ({
    cb,
    t: 'mapped',
    id,
    r: ps.map((p, i): [number, true, string] => [i + 1, true, p]),
  });
  const sequence: (UpFrame | DownFrame)[] = [
    call(1, '{"json":1}'),
    call(2, ''),
    call(3, '3:x:'),
    call(4, '{"json":4}', 'other'),
    ok(5, '{"json":"a"}'),
    ok(6, ''),
    { cb, t: 'res', id: 7, ok: false, e: { c: 'CB_TIMEOUT', m: 'late' } },
    ok(8, '😀'),
    req(9, '{"json":9}'),
    req(10, '{"json":10}'),
    req(11, '{"json":11}', 6),
    mapped(12, 'a', 'b'),
    mapped(13, 'c', 'd'),
    mapped(14, 'e'),
    { cb, t: 'mapped', id: 15, r: [[1, false, { c: 'CB_TIMEOUT', m: 'late' }]] },
    mapped(16, 'f'),
    mapped(17, 'g'),
    { cb, t: 'oks', ids: [1, 2] },
    { cb, t: 'call', id: 0, ev: 'ask', op: 'b', p: '{"json":0}', from: 1 },
    call(18, 'z'),
    ownCall(19, 7),
    ownCall(20, 8),
    ownReq(21, '{"json":21}'),
    ownReq(22, '{"json":22}'),
    req(23, '{"json":23}'),
  ];
  const writer = new BatchWriter();
  for (const f of sequence) writer.add(f);
  t.is(writer.records, sequence.length);
  const batch = writer.finish();
  const read = readBatch(batch);
  t.true(read.complete);
  t.deepEqual(read.frames, sequence);
  // Runs: calls 1-3, replies 5-6, requests 9-10, outcomes 12-13 and 16-17, calls back to their
  // own callers 19-20 (naming requests 7 and 8), requests keeping their own copies 21-22.
  t.is(batch.split('"cb":1').length - 1, sequence.length - 8);
  t.true(batch.includes('"own":[7,8]'));
  t.true(writer.empty);
  t.is(writer.finish(), BATCH_TAG);
});

test('batch - a run record whose header and payloads disagree is malformed', (t) => {
  const writer = new BatchWriter();
  for (const id of [1, 2]) writer.add({ cb, t: 'res', id, ok: true, p: 'x' });
  const good = writer.finish();
  t.true(readBatch(good).complete);
  const header = '{"cb":1,"t":"res","ok":true,"run":[1,2]}';
  t.is(good, `${BATCH_TAG}${header.length}:${header}2:1:x1:x`);
  const record = (h: string, payloads: string): string => `${BATCH_TAG}${h.length}:${h}${payloads}`;
  for (const bad of [
    record(header.replace('[1,2]', '[1,2,3]'), '2:1:x1:x'),
    record(header.replace('[1,2]', '[1]'), '1:1:x'),
    record(header.replace('[1,2]', '{"a":1}'), '2:1:x1:x'),
    record('{"cb":1,"t":"mapped","run":[1,2],"r":[[1,true]]}', '3:1:x1:x1:x'),
    record('{"cb":1,"t":"mapped","run":[1,2],"r":[[1,false]]}', '2:1:x1:x'),
    record('{"cb":1,"t":"call","ev":"a","op":"m","from":1,"own":[3],"run":[1,2]}', '2:0:0:'),
    record('{"cb":1,"t":"call","ev":"a","op":"m","from":1,"own":3,"run":[1,2]}', '2:0:0:'),
  ]) {
    const read = readBatch(bad);
    t.false(read.complete, bad);
    t.deepEqual(read.frames, []);
  }
});

test('batch - strings that are not batches are left alone', (t) => {
  t.false(isBatch('think-cluster-reload-workers'));
  t.false(isBatch({ cb: 1 }));
  t.false(isBatch(''));
});

test('batch - random sequences of envelopes come back whole, runs or not', (t) => {
  const seed = Number(process.env.CODEC_SEED ?? 0xba7c4);
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const text = (): string => ['', '{"json":1}', 'a:b', '3:x:', '😀é"\\', 'x'.repeat(int(40))][int(6)] as string;
  // Few events and workers, so that neighbours often share a shape.
  const ev = (): string => ['a', 'b'][int(2)] as string;
  const maker: (() => UpFrame | DownFrame)[] = [
    () => ({
      cb,
      t: 'call',
      id: 1 + int(1e6),
      ev: ev(),
      op: int(2) ? 'm' : 'c',
      p: text(),
      from: int(3),
      ...(int(2) ? { mr: 100 } : {}),
      ...(int(3) === 0 ? { p: '', own: 1 + int(1e6) } : {}),
    }),
    () => ({ cb, t: 'res', id: 1 + int(1e6), ok: true, p: text() }),
    () => ({ cb, t: 'res', id: 1 + int(1e6), ok: false, e: { c: 'CB_TIMEOUT', m: text() } }),
    () => ({
      cb,
      t: 'req',
      id: 1 + int(1e6),
      ev: ev(),
      op: int(2) ? 'm' : 'c',
      p: text(),
      ms: 10 * (1 + int(2)),
      ...(int(2) ? { own: true as const } : {}),
    }),
    () => ({ cb, t: 'req', id: 1 + int(1e6), ev: ev(), op: 'b', p: '', ps: [text(), text()] }),
    () => ({ cb, t: 'req', id: 1 + int(1e6), ev: ev(), op: 'b', p: '', ps: [text()], own: true }),
    () => ({ cb, t: 'call', id: 0, ev: ev(), op: 'b', p: '', from: int(3), own: 1 + int(1e6) }),
    () => ({
      cb,
      t: 'mapped',
      id: 1 + int(1e6),
      r: Array.from({ length: 1 + int(2) }, (_, w): [number, true, string] => [w + 1, true, text()]),
    }),
    () => ({ cb, t: 'mapped', id: 1 + int(1e6), r: [[1, false, { c: 'CB_TIMEOUT', m: 'late' }]] }),
    () => ({ cb, t: 'oks', ids: [1 + int(9), 1 + int(9)] }),
    () => ({ cb, t: 'done', id: 1 + int(1e6), ok: true }),
  ];
  const writer = new BatchWriter();
  for (let round = 0; round < 2000; round++) {
    const sequence = Array.from({ length: 1 + int(30) }, () =>
      (maker[int(maker.length)] as () => UpFrame | DownFrame)(),
    );
    for (const f of sequence) writer.add(f);
    const batch = writer.finish();
    const read = readBatch(batch);
    if (!read.complete) return t.fail(`seed ${seed}, round ${round}: incomplete`);
    // Compare as JSON text: field order may differ between a run's envelopes and the originals.
    const canon = (v: unknown): string =>
      JSON.stringify(v, (_k, x: unknown) =>
        x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x,
      );
    if (canon(read.frames) !== canon(sequence)) return t.fail(`seed ${seed}, round ${round}: frames differ`);
    // Damage anywhere must never throw, only stop the reading.
    const at = int(batch.length);
    const damaged = batch.slice(0, at) + String.fromCharCode(int(128)) + batch.slice(at + 1);
    t.notThrows(() => readBatch(damaged));
  }
  t.log(`seed ${seed}: 2000 sequences`);
});
