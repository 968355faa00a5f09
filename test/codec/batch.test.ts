import test from 'ava';
import { BATCH_TAG, appendRecord, isBatch, newBatch, readBatch } from '../../src/batch.js';
import { PROTOCOL_VERSION, type DownFrame, type UpFrame } from '../../src/protocol.js';

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

test('batch - strings that are not batches are left alone', (t) => {
  t.false(isBatch('think-cluster-reload-workers'));
  t.false(isBatch({ cb: 1 }));
  t.false(isBatch(''));
});
