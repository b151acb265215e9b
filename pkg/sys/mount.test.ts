import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MS_NODEV, MS_NOSUID, mount, umount, umountAsync, SyscallError } from './mount.js';

test('mount a tmpfs, see it in mountinfo, unmount it; unmounting again is fine', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-sys-'));
  try {
    mount('tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV, 'size=1m,mode=1777');
    await writeFile(path.join(dir, 'x'), 'y');
    assert.match(await readFile('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} `));
    umount(dir);
    assert.doesNotMatch(await readFile('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} `));
    umount(dir);
    assert.throws(() => umount(dir, 0, false), (e: SyscallError) => e.code === 'EINVAL');
    assert.throws(() => mount('none', path.join(dir, 'missing'), 'tmpfs', 0, null), /ENOENT/);
  } finally {
    umount(dir);
    await rm(dir, { recursive: true, force: true });
  }
});

test('umountAsync unmounts on a worker thread; a path not mounted is fine, or says why when asked', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-sys-'));
  try {
    mount('tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV, 'size=1m,mode=1777');
    await umountAsync(dir);
    assert.doesNotMatch(await readFile('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} `));
    await umountAsync(dir);
    await assert.rejects(umountAsync(dir, 0, false), (e: SyscallError) => e.code === 'EINVAL');
  } finally {
    umount(dir);
    await rm(dir, { recursive: true, force: true });
  }
});
