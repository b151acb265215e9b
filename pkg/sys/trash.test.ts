import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../log/log.js';
import { flushDelay, Trash } from './trash.js';

async function tree(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'a', 'b'), { recursive: true });
  await writeFile(path.join(dir, 'a', 'b', 'f'), 'x');
  await writeFile(path.join(dir, 'g'), 'y');
}

test('discard: the name is free when it returns, the tree is gone once idle; a missing dir is fine', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-trash-'));
  try {
    const trash = new Trash(path.join(tmp, 'trash'), silentLogger());
    await mkdir(trash.dir);
    await writeFile(path.join(trash.dir, 'left-by-a-crash'), 'z');
    await trash.reset();
    assert.deepEqual(await readdir(trash.dir), [], 'reset empties what an earlier run left');
    const dir = path.join(tmp, 'containers', 'c1');
    await tree(dir);
    await trash.discard(dir);
    assert.equal(existsSync(dir), false);
    await mkdir(dir); // the name can be used again at once
    await trash.idle();
    assert.deepEqual(await readdir(trash.dir), []);
    await trash.discard(path.join(tmp, 'containers', 'missing'));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('discard without a trash directory removes the tree in place before returning', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-trash-'));
  try {
    const trash = new Trash(path.join(tmp, 'no-trash'), silentLogger());
    const dir = path.join(tmp, 'c2');
    await tree(dir);
    await trash.discard(dir);
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync(trash.dir), false);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('discard of a file; the deletion waits for discards to pause (a burst is one batch after it), idle() deletes at once', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-trash-'));
  try {
    const trash = new Trash(path.join(tmp, 'trash'), silentLogger());
    await trash.reset();
    const file = path.join(tmp, 'exit-file');
    await writeFile(file, '0');
    const dir = path.join(tmp, 'c3');
    await tree(dir);
    await Promise.all([trash.discard(file), trash.discard(dir)]);
    assert.equal(existsSync(file), false);
    await new Promise((r) => setImmediate(r));
    assert.equal(readdirSync(trash.dir).length, 2, 'nothing deleted yet: the next call runs without the deletions');
    await trash.idle();
    assert.deepEqual(await readdir(trash.dir), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('a batch is deleted once discards pause, on its own timer', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-trash-'));
  try {
    const trash = new Trash(path.join(tmp, 'trash'), silentLogger(), 1, 1);
    await trash.reset();
    const dir = path.join(tmp, 'c4');
    await tree(dir);
    await trash.discard(dir);
    // The timer is unref'd; this keeps the test alive until the trash is empty.
    while (readdirSync(trash.dir).length) await new Promise((r) => setTimeout(r, 5));
    await trash.idle();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('flushDelay: the quiet time after each discard, never past the batch\'s longest wait', () => {
  assert.equal(flushDelay(1000, 1000, 500, 3000), 500, 'first discard of a batch');
  assert.equal(flushDelay(3200, 1000, 500, 3000), 500, 'a discard 2.2 s in: still the quiet time');
  assert.equal(flushDelay(3800, 1000, 500, 3000), 200, 'a discard 2.8 s in: what is left of the 3 s');
  assert.equal(flushDelay(4500, 1000, 500, 3000), 0, 'past the longest wait: at once');
});
