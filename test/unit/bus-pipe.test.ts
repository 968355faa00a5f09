// The bus pipe's framing, without processes: what `writeFrame` writes, fed to `readFrames` in
// reads of every size, must come back batch for batch.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import test from 'ava';
import { readFrames, writeFrame } from '../../src/transports/cluster/bus-pipe.js';
import { prng } from '../helpers/fuzz.js';

/** Just enough of a socket: writes are collected, reads are emitted by hand. */
class FakeEnd extends EventEmitter {
  readonly written: Buffer[] = [];
  destroyed = false;
  writable = true;
  write(chunk: Buffer, done: () => void): boolean {
    this.written.push(chunk);
    done();
    return true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}
const asSocket = (end: FakeEnd): Socket => end as unknown as Socket;

const batches = [
  '',
  '\u0001cb1\u0001{"json":1}',
  'é€😀 "quoted" \\ \u2028 two-byte text',
  'x'.repeat(2047),
  'y'.repeat(2048),
  `${'é'.repeat(5000)}😀`,
  'z'.repeat(300_000),
];

test('bus pipe - frames come back whole whatever the reads split them into', (t) => {
  const writer = new FakeEnd();
  let flushed = 0;
  for (const b of batches) t.true(writeFrame(asSocket(writer), b, () => flushed++));
  t.is(flushed, batches.length);
  const stream = Buffer.concat(writer.written);
  const seed = Number(process.env.CODEC_SEED ?? 0x919e);
  const rnd = prng(seed);
  for (let round = 0; round < 50; round++) {
    const reader = new FakeEnd();
    const got: string[] = [];
    readFrames(asSocket(reader), (b) => got.push(b));
    // Reads of 1 byte up to a few KB, as a pipe may deliver them.
    for (let at = 0; at < stream.length;) {
      const size = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 5 : 9000));
      reader.emit('data', stream.subarray(at, at + size));
      at += size;
    }
    if (got.length !== batches.length || got.some((b, i) => b !== batches[i])) {
      return t.fail(`seed ${seed}, round ${round}: batches differ`);
    }
    t.false(reader.destroyed);
  }
});

test('bus pipe - a frame that holds no batch closes the pipe; nothing after it is read', (t) => {
  for (const bad of [
    Buffer.from([3, 0, 0, 0, 7, 1, 2, 3]), // an unknown kind
    Buffer.from([3, 0, 0, 0, 1, 0xff, 0xff, 0xff]), // not V8 serialization
  ]) {
    const reader = new FakeEnd();
    const got: string[] = [];
    readFrames(asSocket(reader), (b) => got.push(b));
    const writer = new FakeEnd();
    writeFrame(asSocket(writer), 'after', () => {});
    reader.emit('data', Buffer.concat([bad, ...writer.written]));
    t.true(reader.destroyed);
    t.deepEqual(got, []);
  }
});

test('bus pipe - nothing is written to a pipe that is gone', (t) => {
  const gone = new FakeEnd();
  gone.destroyed = true;
  t.false(writeFrame(asSocket(gone), 'x', () => t.fail('no callback for an unwritten frame')));
  t.deepEqual(gone.written, []);
});
