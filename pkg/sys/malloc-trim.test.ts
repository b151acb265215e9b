import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { shouldTrim, trimNow } from './malloc-trim.js';

const MiB = 1 << 20;

test('trims only when the loop is quiet and RSS grew by a MiB since the last trim', () => {
  assert.equal(shouldTrim({ utilization: 0.02, rss: 80 * MiB, rssAfterLastTrim: 70 * MiB }), true);
  assert.equal(shouldTrim({ utilization: 0.5, rss: 80 * MiB, rssAfterLastTrim: 70 * MiB }), false, 'busy: a pull is running');
  assert.equal(shouldTrim({ utilization: 0.02, rss: 70.5 * MiB, rssAfterLastTrim: 70 * MiB }), false, 'no growth: steady polling');
  assert.equal(shouldTrim({ utilization: 0.02, rss: 60 * MiB, rssAfterLastTrim: 70 * MiB }), false, 'shrunk');
});

test('malloc_trim hands back what freed malloc chunks held', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Buffers of 64 KiB come from malloc's arenas (below its mmap threshold); holding every other
  // one while freeing the rest leaves free chunks in the middle of the heap, which free() keeps.
  let held: Buffer[] = [];
  for (let i = 0; i < 1000; i++) held.push(Buffer.allocUnsafeSlow(64 * 1024).fill(i));
  held = held.filter((_, i) => i % 2 === 0);
  gc();
  assert.equal(trimNow(), true, 'malloc_trim released memory');
  assert.equal(held.length, 500);
});
