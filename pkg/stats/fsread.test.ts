import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OpenFiles } from './fsread.js';

describe('stats: files kept open for re-reading', () => {
  let dir: string;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('re-reads fresh contents, bounds open files, forgets by path part, missing is undefined', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-of-'));
    const f = new OpenFiles(3);
    const a = path.join(dir, 'aaa-usage');
    await writeFile(a, '1\n');
    assert.equal(await f.read(a), '1\n');
    await writeFile(a, '22\n'); // same inode, new contents
    assert.equal(await f.read(a), '22\n');
    assert.equal(f.size, 1);
    for (const n of ['b', 'c', 'd']) {
      await writeFile(path.join(dir, n), n);
      assert.equal(await f.read(path.join(dir, n)), n);
    }
    assert.equal(f.size, 3, 'the least recently read file was closed');
    f.forget(`${path.sep}d`);
    assert.equal(f.size, 2);
    assert.equal(await f.read(path.join(dir, 'none')), undefined);
    assert.equal(await f.read(undefined), undefined);
    const big = path.join(dir, 'big');
    await writeFile(big, 'x'.repeat(40_000));
    assert.equal((await f.read(big))?.length, 40_000, 'larger than one read falls back to a full read');
    await unlink(path.join(dir, 'c'));
    assert.equal(await f.read(path.join(dir, 'c')), 'c', 'an open file outlives its name (cgroup files read ENODEV instead)');
    f.close();
    assert.equal(f.size, 0);
  });

  it('forgets the files of one cgroup in every hierarchy, not those of its children or siblings', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-cg-'));
    try {
      const f = new OpenFiles();
      const files = [
        'memory/kubepods/podA/memory.stat', 'cpuacct/kubepods/podA/cpuacct.usage',
        'memory/kubepods/podA/ctr1/memory.stat', 'memory/kubepods/podAB/memory.stat',
      ].map((p) => path.join(root, p));
      for (const file of files) {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, '1');
        await f.read(file);
      }
      f.forgetCgroup('/kubepods/podA/');
      assert.equal(f.size, 2, 'the pod\'s own two files are closed');
      assert.equal(await f.read(files[2]), '1');
      f.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

