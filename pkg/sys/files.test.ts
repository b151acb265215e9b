import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HostPathError, kernelRootOf, mkdirHostPath, readRegularFile } from './files.js';

describe('host files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-files-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('kernelRootOf: /proc, /sys and /dev after normalisation, nothing else', () => {
    assert.equal(kernelRootOf('/proc/sysrq-trigger/x'), '/proc');
    assert.equal(kernelRootOf('/var/../sys/kernel'), '/sys');
    assert.equal(kernelRootOf('/dev'), '/dev');
    assert.equal(kernelRootOf('//dev//shm'), '/dev');
    assert.equal(kernelRootOf('/devices'), undefined);
    assert.equal(kernelRootOf('/var/lib/proc'), undefined);
  });

  it('mkdirHostPath creates missing components and keeps existing ones and symlinks to directories', async () => {
    await mkdirHostPath(path.join(dir, 'a/b/c'));
    assert.ok((await stat(path.join(dir, 'a/b/c'))).isDirectory());
    await symlink(path.join(dir, 'a'), path.join(dir, 'link'));
    await mkdirHostPath(path.join(dir, 'link/b/d'));
    assert.ok((await stat(path.join(dir, 'a/b/d'))).isDirectory());
    await mkdirHostPath(path.join(dir, 'a/b/c')); // all there: fine
  });

  it('mkdirHostPath refuses kernel filesystems, relative paths, and files in the way, without spinning', async () => {
    for (const p of ['/proc/sysrq-trigger/x', '/proc/x', '/sys/kernel/x/y', '/dev/berth-test-x', '/var/../proc/y']) {
      await assert.rejects(mkdirHostPath(p), (e: Error) => e instanceof HostPathError && /does not create paths under \/(proc|sys|dev)/.test(e.message), p);
    }
    await assert.rejects(mkdirHostPath('../../etc/x'), /not an absolute path/);
    await writeFile(path.join(dir, 'file'), 'x');
    await assert.rejects(mkdirHostPath(path.join(dir, 'file/sub')), /ENOTDIR|not a directory/);
    await assert.rejects(mkdirHostPath(path.join(dir, 'file')), /exists and is not a directory/);
  });

  it('readRegularFile reads at most max bytes and says when it cut', async () => {
    const f = path.join(dir, 'data');
    await writeFile(f, 'x'.repeat(10_000));
    const r = await readRegularFile(f, 4096);
    assert.equal(r.data.length, 4096);
    assert.equal(r.truncated, true);
    const small = await readRegularFile(f, 20_000);
    assert.equal(small.data.length, 10_000);
    assert.equal(small.truncated, false);
    const exact = await readRegularFile(f, 10_000);
    assert.equal(exact.truncated, false);
  });

  it('readRegularFile refuses a FIFO without a writer at once, /dev/zero, a directory and a missing file', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(readRegularFile(fifo, 4096), /not a regular file/);
    await assert.rejects(readRegularFile('/dev/zero', 4096), /not a regular file/);
    await assert.rejects(readRegularFile(dir, 4096), /not a regular file/);
    await assert.rejects(readRegularFile(path.join(dir, 'missing'), 4096), /ENOENT/);
  });
});
