import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../pkg/log/log.js';
import { Store } from '../pkg/store/store.js';
import { ImageServiceImpl } from '../pkg/image/service.js';
import { lgetxattr } from '../pkg/image/sys.js';
import { mount, umount } from '../pkg/sys/mount.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';

const layer1 = buildTar([
  { type: 'dir', path: 'data/' },
  { type: 'file', path: 'data/keep', data: 'keep\n' },
  { type: 'file', path: 'data/gone', data: 'gone\n' },
  { type: 'file', path: 'data/changed', data: 'v1\n' },
  { type: 'dir', path: 'opq/' },
  { type: 'file', path: 'opq/old1', data: 'o1' },
  { type: 'dir', path: 'opq/olddir/' },
  { type: 'file', path: 'opq/olddir/x', data: 'x' },
  { type: 'file', path: 'usr/bin/setuid-prog', data: '#!/bin/sh\n', mode: 0o4755 },
  { type: 'dir', path: 'shared/', mode: 0o2775, gid: 1000 },
  { type: 'dir', path: 'sticky/', mode: 0o1777 },
  { type: 'file', path: 'owned', data: 'mine', uid: 1000, gid: 1000, mode: 0o640 },
  { type: 'file', path: 'xattrs', data: 'x', xattrs: { 'user.berth': 'hello', 'trusted.berth': 'deep' } },
  { type: 'symlink', path: 'link-abs', target: '/data/keep' },
  { type: 'symlink', path: 'link-rel', target: 'data/keep' },
  { type: 'hardlink', path: 'hard', target: 'data/keep' },
  { type: 'char', path: 'dev/null2', major: 1, minor: 3, mode: 0o666 },
  { type: 'block', path: 'dev/loop9', major: 7, minor: 9, mode: 0o660, gid: 6 },
  { type: 'fifo', path: 'fifo', mode: 0o600 },
  { type: 'file', path: 'dated', data: 'old', mtime: 1_000_000_000 },
  { type: 'file', path: 'deep/' + 'long-name-'.repeat(12) + '/file', data: 'long' },
]);
const layer2 = buildTar([
  { type: 'file', path: 'data/.wh.gone' },
  { type: 'file', path: 'data/changed', data: 'v2\n' },
  { type: 'file', path: 'opq/.wh..wh..opq' },
  { type: 'file', path: 'opq/new', data: 'new' },
  { type: 'file', path: '.wh.sticky' },
]);

describe('images: layer contents, whiteouts and the overlay view', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let snaps: string[] = [];
  const image = buildBusyboxImage({ extraLayers: [layer1, layer2] });
  before(async () => {
    reg = await startRegistry();
    d = await startDaemon();
    await pushImage(reg.host, 'test/layers', 'v1', image);
    await d.client.image('PullImage', { image: { image: `${reg.host}/test/layers:v1` } });
    const st = await d.client.image('ImageStatus', { image: { image: `${reg.host}/test/layers:v1` }, verbose: true });
    snaps = (JSON.parse(st.info.info!) as { layers: { snapshot: string }[] }).layers.map((l) => l.snapshot);
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await reg.stop();
  });

  it('unpacks files, modes, owners, links, devices, fifos, xattrs and mtimes exactly', async () => {
    const L = snaps[1]!;
    assert.equal((await stat(path.join(L, 'usr/bin/setuid-prog'))).mode & 0o7777, 0o4755);
    const shared = await stat(path.join(L, 'shared'));
    assert.equal(shared.mode & 0o7777, 0o2775);
    assert.equal(shared.gid, 1000);
    assert.equal((await stat(path.join(L, 'sticky'))).mode & 0o7777, 0o1777);
    const owned = await stat(path.join(L, 'owned'));
    assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o777], [1000, 1000, 0o640]);
    assert.equal(lgetxattr(path.join(L, 'xattrs'), 'user.berth')?.toString(), 'hello');
    assert.equal(lgetxattr(path.join(L, 'xattrs'), 'trusted.berth')?.toString(), 'deep');
    assert.equal(await readlink(path.join(L, 'link-abs')), '/data/keep');
    assert.equal(await readlink(path.join(L, 'link-rel')), 'data/keep');
    const [hard, keep] = await Promise.all([stat(path.join(L, 'hard')), stat(path.join(L, 'data/keep'))]);
    assert.equal(hard.ino, keep.ino);
    assert.equal(keep.nlink, 2);
    const nul = await lstat(path.join(L, 'dev/null2'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    const loop = await lstat(path.join(L, 'dev/loop9'));
    assert.ok(loop.isBlockDevice());
    assert.deepEqual([loop.rdev, loop.mode & 0o777, loop.gid], [(7 << 8) | 9, 0o660, 6]);
    assert.ok((await lstat(path.join(L, 'fifo'))).isFIFO());
    assert.equal((await stat(path.join(L, 'dated'))).mtimeMs, 1_000_000_000_000);
    assert.equal(await readFile(path.join(L, 'deep', 'long-name-'.repeat(12), 'file'), 'utf8'), 'long');
  });

  it('turns whiteouts into 0/0 char devices and the opaque marker into trusted.overlay.opaque', async () => {
    const L = snaps[2]!;
    const wh = await lstat(path.join(L, 'data/gone'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.ok((await lstat(path.join(L, 'sticky'))).isCharacterDevice());
    assert.equal(lgetxattr(path.join(L, 'opq'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.deepEqual((await readdir(path.join(L, 'opq'))).sort(), ['new']);
    assert.ok(!(await readdir(path.join(L, 'data'))).some((n) => n.startsWith('.wh.')));
  });

  it('gives containers a lowerdir list (top first) whose overlay is the image filesystem, after a restart too', async () => {
    await d.stop();
    const store = Store.open(path.join(d.root, 'berth.db'));
    const svc = new ImageServiceImpl({ root: d.root, store, log: silentLogger(), registry: { insecure: [], mirrors: {} }, maxConcurrentDownloads: 3 });
    const mnt = await mkdtemp(path.join(os.tmpdir(), 'berth-img-ovl-'));
    let mounted = false;
    try {
      await svc.init();
      const view = await svc.containerView(`${reg.host}/test/layers:v1`);
      assert.deepEqual(view.lowerdirs, [...snaps].reverse());
      assert.deepEqual(view.config.Cmd, ['sh']);
      assert.equal(view.image.id, image.config.digest);
      assert.ok(svc.writableLayerRoot().startsWith(d.root));
      const upper = path.join(mnt, 'upper');
      const work = path.join(mnt, 'work');
      const merged = path.join(mnt, 'merged');
      await Promise.all([mkdir(upper), mkdir(work), mkdir(merged)]);
      mount('overlay', merged, 'overlay', 0, `lowerdir=${view.lowerdirs.join(':')},upperdir=${upper},workdir=${work}`);
      mounted = true;
      const names = (await readdir(merged)).sort();
      assert.ok(names.includes('bin') && names.includes('data') && !names.includes('sticky'), names.join(' '));
      assert.deepEqual((await readdir(path.join(merged, 'data'))).sort(), ['changed', 'keep']);
      assert.equal(await readFile(path.join(merged, 'data/changed'), 'utf8'), 'v2\n');
      assert.deepEqual(await readdir(path.join(merged, 'opq')), ['new']);
      assert.equal(await readFile(path.join(merged, 'link-rel'), 'utf8'), 'keep\n');
      assert.equal((await stat(path.join(merged, 'usr/bin/setuid-prog'))).mode & 0o7777, 0o4755);
      assert.equal(lgetxattr(path.join(merged, 'xattrs'), 'user.berth')?.toString(), 'hello');
      assert.ok((await lstat(path.join(merged, 'bin/sh'))).isSymbolicLink());
    } finally {
      if (mounted) umount(merged(mnt), 0);
      store.close();
      await rm(mnt, { recursive: true, force: true });
    }
  });
});

function merged(mnt: string): string {
  return path.join(mnt, 'merged');
}
