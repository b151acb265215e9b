import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DiskUsageCache, diskUsage } from './disk.js';

describe('stats: writable layer disk usage', () => {
  let dir: string;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('counts allocated bytes and inodes, hard links once', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-du-'));
    await mkdir(path.join(dir, 'a/b'), { recursive: true });
    await writeFile(path.join(dir, 'a/b/f'), Buffer.alloc(1 << 20, 1));
    await link(path.join(dir, 'a/b/f'), path.join(dir, 'a/hard'));
    await writeFile(path.join(dir, 'small'), 'x');
    const u = await diskUsage(dir);
    assert.equal(u.inodes, 5n, 'root, a, a/b, f (twice linked), small');
    assert.ok(u.bytes >= 1n << 20n && u.bytes < (1n << 20n) + 64n * 1024n, `bytes ${u.bytes}`);
  });

  it('answers from the cache, refreshes in the background at most every refreshMs', async () => {
    const cache = new DiskUsageCache({ refreshMs: 200, concurrency: 1 });
    try {
      assert.equal(cache.get(dir), undefined, 'first call never waits for a walk');
      const first = await cache.refresh(dir);
      assert.ok(first);
      await writeFile(path.join(dir, 'big'), Buffer.alloc(10 << 20, 1));
      assert.equal(cache.get(dir)?.bytes, first.bytes, 'still the cached value within refreshMs');
      await new Promise((r) => setTimeout(r, 250));
      cache.get(dir); // stale: kicks a walk
      const fresh = await cache.refresh(dir);
      assert.ok(fresh!.bytes >= first.bytes + (10n << 20n), `grew to ${fresh!.bytes}`);
      assert.equal(fresh!.inodes, first.inodes + 1n);
    } finally {
      cache.close();
    }
  });

  it('bounds concurrent walks and survives a vanished directory', async () => {
    const cache = new DiskUsageCache({ refreshMs: 0, concurrency: 1 });
    try {
      const dirs = await Promise.all([0, 1, 2].map(async (i) => {
        const d = path.join(dir, `c${i}`);
        await mkdir(d);
        await writeFile(path.join(d, 'f'), Buffer.alloc(4096 * (i + 1), 1));
        return d;
      }));
      const vals = await Promise.all([...dirs.map((d) => cache.refresh(d)), cache.refresh(path.join(dir, 'gone'))]);
      assert.deepEqual(vals.slice(0, 3).map((v) => v!.inodes), [2n, 2n, 2n]);
      assert.equal(vals[3], undefined);
      assert.equal(cache.peak, 1, 'one walk at a time');
    } finally {
      cache.close();
    }
  });
});
