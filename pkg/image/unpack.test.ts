import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { buildTar, type TarEntry } from '../../e2e/fixtures/tar.js';
import { entryComponents, unpackTar, UnsafeEntryError } from './unpack.js';

describe('tar path safety', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-img-unit-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('cleans entry names and refuses absolute paths and escapes', () => {
    assert.deepEqual(entryComponents('./a//b/./c/'), ['a', 'b', 'c']);
    assert.deepEqual(entryComponents('a/../b'), ['b']);
    assert.throws(() => entryComponents('../x'), UnsafeEntryError);
    assert.throws(() => entryComponents('a/../../x'), UnsafeEntryError);
    assert.throws(() => entryComponents('/etc/passwd'), UnsafeEntryError);
  });

  const unpack = async (name: string, entries: TarEntry[]) => {
    const root = path.join(tmp, name, 'root');
    await mkdir(root, { recursive: true });
    const tar = buildTar(entries);
    const stats = await unpackTar(Readable.from([tar.subarray(0, 700), tar.subarray(700)]), root);
    assert.equal(stats.diffId, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
    return root;
  };

  it('follows symlinks that stay inside, refuses those that leave', async () => {
    const root = await unpack('inside', [
      { type: 'dir', path: 'usr/lib/' },
      { type: 'symlink', path: 'lib', target: 'usr/lib' },
      { type: 'file', path: 'lib/x.so', data: 'x' },
    ]);
    assert.equal(await readFile(path.join(root, 'usr/lib/x.so'), 'utf8'), 'x');
    for (const [name, target] of [['rel', '../../..'], ['abs', '/tmp'], ['chain', 'b']] as const) {
      const entries: TarEntry[] = [{ type: 'symlink', path: 'esc', target }, { type: 'file', path: 'esc/pwned', data: 'x' }];
      if (name === 'chain') entries.unshift({ type: 'symlink', path: 'b', target: '../outside' });
      await assert.rejects(unpack(name, entries), (err: Error) => {
        assert.ok(err instanceof UnsafeEntryError, err.message);
        assert.match(err.message, /esc\/pwned/);
        return true;
      });
      assert.deepEqual((await readdir(path.join(tmp, name))).sort(), ['root']);
    }
  });

  it('refuses hardlinks to outside and to absent targets; replaces a symlink instead of writing through it', async () => {
    await assert.rejects(unpack('hl', [{ type: 'hardlink', path: 'h', target: '../../etc/passwd' }]), /hardlink to "..\/..\/etc\/passwd", outside/);
    await assert.rejects(unpack('hl2', [{ type: 'hardlink', path: 'h', target: 'missing' }]), /not in this layer/);
    const root = await unpack('replace', [
      { type: 'symlink', path: 'f', target: '/etc/passwd' },
      { type: 'file', path: 'f', data: 'mine' },
    ]);
    assert.ok((await lstat(path.join(root, 'f'))).isFile());
    assert.equal(await readFile(path.join(root, 'f'), 'utf8'), 'mine');
    await assert.rejects(unpack('abs', [{ type: 'file', path: '/abs', data: 'x' }]), /absolute path/);
    const r2 = await unpack('link', [{ type: 'symlink', path: 'l', target: '../../../../etc' }]);
    assert.equal(await readlink(path.join(r2, 'l')), '../../../../etc', 'a dangling symlink itself is fine');
  });

  it('hard links in bulk (busybox-style applets) share the file\'s inode, including a link to a link', async () => {
    const entries: TarEntry[] = [{ type: 'dir', path: 'bin' }, { type: 'file', path: 'bin/busybox', data: 'applets' }];
    for (let i = 0; i < 200; i++) entries.push({ type: 'hardlink', path: `bin/a${i}`, target: 'bin/busybox' });
    entries.push({ type: 'hardlink', path: 'bin/again', target: 'bin/a7' });
    const root = await unpack('bulk', entries);
    const ino = (await lstat(path.join(root, 'bin/busybox'))).ino;
    for (const n of ['a0', 'a199', 'again']) assert.equal((await lstat(path.join(root, 'bin', n))).ino, ino, n);
    assert.equal((await lstat(path.join(root, 'bin/busybox'))).nlink, 202);
  });

  it('writes file bodies of several MiB whole and in order, from chunks of any size', async () => {
    const { randomBytes } = await import('node:crypto');
    const big = randomBytes((3 << 20) + 12345);
    const root = path.join(tmp, 'bodies', 'root');
    await mkdir(root, { recursive: true });
    const tar = buildTar([{ type: 'file', path: 'big', data: big }, { type: 'file', path: 'small', data: 'after' }]);
    // Chunks that straddle entry and batch boundaries.
    const chunks: Buffer[] = [];
    for (let i = 0, n = 1; i < tar.length; i += n, n = (n * 7 + 5001) % 300_000) chunks.push(tar.subarray(i, i + n));
    await unpackTar(Readable.from(chunks), root);
    assert.ok((await readFile(path.join(root, 'big'))).equals(big));
    assert.equal(await readFile(path.join(root, 'small'), 'utf8'), 'after');
  });

  it('a hard link to a name replaced by a symlink in the same layer never links through it', async () => {
    // `f` starts as a file, then becomes a symlink out of the root: linking `h` to `f` must link
    // the symlink itself (as link(2) does), not the file it points at, nor the file that was there.
    const root = await unpack('relinked', [
      { type: 'file', path: 'f', data: 'first' },
      { type: 'symlink', path: 'f', target: '/etc/passwd' },
      { type: 'hardlink', path: 'h', target: 'f' },
    ]);
    assert.ok((await lstat(path.join(root, 'h'))).isSymbolicLink());
    assert.equal(await readlink(path.join(root, 'h')), '/etc/passwd');
  });
});

describe('refused layers close their files', () => {
  it('a gzip layer refused mid-way leaves no fd on its blob once the stream is destroyed (as a failed pull does)', async () => {
    const { writeFile, readlink: rl, readdir: rd } = await import('node:fs/promises');
    const { gzipSync } = await import('node:zlib');
    const { decompressedStream } = await import('./unpack.js');
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-img-fd-'));
    try {
      const blob = path.join(tmp, 'blob');
      // Big enough that the refusal comes long before the blob is read to its end.
      const filler = Array.from({ length: 64 }, (_, i) => ({ type: 'file' as const, path: `f${i}`, data: Buffer.alloc(256 * 1024, i) }));
      await writeFile(blob, gzipSync(buildTar([...filler.slice(0, 1), { type: 'file', path: '../escape', data: 'x' }, ...filler.slice(1)]), { level: 0 }));
      const fdsOnBlob = async (): Promise<number> => {
        let n = 0;
        for (const fd of await rd('/proc/self/fd')) if ((await rl(`/proc/self/fd/${fd}`).catch(() => '')) === blob) n++;
        return n;
      };
      for (let i = 0; i < 5; i++) {
        const root = path.join(tmp, `root${i}`);
        await mkdir(root);
        const { stream, done } = await decompressedStream(blob);
        await assert.rejects(unpackTar(stream, root), UnsafeEntryError);
        stream.destroy();
        await done;
      }
      assert.equal(await fdsOnBlob(), 0);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
