import test from 'ava';
import { Deadlines } from '../../src/core/deadlines.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('deadlines - only what is not cancelled expires, oldest first, in every lane', async (t) => {
  const expired: string[] = [];
  const deadlines = new Deadlines<string>((key) => expired.push(key));
  deadlines.schedule('a', 30);
  deadlines.schedule('b', 30);
  deadlines.schedule('c', 60);
  deadlines.schedule('d', 30);
  deadlines.cancel('b', 30);
  t.is(deadlines.size, 3);
  await sleep(45);
  t.deepEqual(expired, ['a', 'd']);
  await sleep(40);
  t.deepEqual(expired, ['a', 'd', 'c']);
  t.is(deadlines.size, 0);
});

test('deadlines - a deadline scheduled while others expire is kept, and fires once', async (t) => {
  const expired: string[] = [];
  const deadlines = new Deadlines<string>((key) => {
    expired.push(key);
    if (key === 'first') deadlines.schedule('again', 20);
  });
  deadlines.schedule('first', 10);
  await sleep(60);
  t.deepEqual(expired, ['first', 'again']);
});

test('deadlines - cancelling an unknown or expired key is harmless', (t) => {
  const deadlines = new Deadlines<number>(() => t.fail('nothing should expire'));
  deadlines.cancel(1, 10);
  deadlines.schedule(2, 10_000);
  deadlines.cancel(2, 10_000);
  deadlines.cancel(2, 10_000);
  t.is(deadlines.size, 0);
});
