import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { trimNow } from './malloc-trim.js';

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
