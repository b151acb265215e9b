import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commonParent, hostIdOf, mountRootfs, shiftLayerOwnership, unmountRootfs } from './rootfs.js';

test('common parent of layer directories', () => {
  assert.equal(commonParent(['/a/s/1', '/a/s/22', '/a/s/3']), '/a/s');
  assert.equal(commonParent(['/a/s/1', '/a/t/2']), '/a');
  assert.equal(commonParent(['/x/1', '/y/2']), '/');
});

test('overlay with more layers than fit one page of mount data', async () => {
  const tmp = await mkdtemp('/tmp/berth-ct-rootfs-');
  const layers: string[] = [];
  try {
    // 150 layers with long absolute names: ~11 KB of lowerdir= — only the relative form fits.
    const base = path.join(tmp, 'snapshots-with-a-rather-long-directory-name');
    for (let i = 0; i < 150; i++) {
      const d = path.join(base, String(i).padStart(6, '0'));
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, `f${i}`), String(i));
      layers.push(d);
    }
    layers.reverse(); // top first
    const rootfs = path.join(tmp, 'rootfs');
    const cwd = process.cwd();
    await mountRootfs(rootfs, layers, path.join(tmp, 'layer'));
    try {
      assert.equal(process.cwd(), cwd, 'cwd restored');
      assert.equal(await readFile(path.join(rootfs, 'f0'), 'utf8'), '0');
      assert.equal(await readFile(path.join(rootfs, 'f149'), 'utf8'), '149');
      await writeFile(path.join(rootfs, 'new'), 'x');
      assert.equal(await readFile(path.join(tmp, 'layer', 'upper', 'new'), 'utf8'), 'x');
    } finally {
      await unmountRootfs(rootfs);
    }
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(rootfs));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('host id of a container id under a mapping', () => {
  const m = { containerId: 0, hostId: 1000, length: 100000 };
  assert.equal(hostIdOf(0, m), 1000);
  assert.equal(hostIdOf(99999, m), 100999);
  assert.equal(hostIdOf(100000, m), undefined);
  assert.equal(hostIdOf(5, { containerId: 10, hostId: 1, length: 5 }), undefined);
});

test('the writable layer is shifted to the mapped ids through the mounted overlay, image layers are not', async () => {
  const dir = await mkdtemp('/tmp/berth-rootfs-shift-');
  const lower = path.join(dir, 'lower');
  const rootfs = path.join(dir, 'rootfs');
  const layer = path.join(dir, 'layer');
  try {
    await mkdir(path.join(lower, 'etc'), { recursive: true });
    await writeFile(path.join(lower, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\n');
    await mountRootfs(rootfs, [lower], layer);
    // What berth creates before the runtime runs: a new dir, a file in an image dir (copy-up).
    await mkdir(path.join(rootfs, 'work'));
    await writeFile(path.join(rootfs, 'etc', 'hostname'), '');
    const m = { containerId: 0, hostId: 1000, length: 100000 };
    await shiftLayerOwnership(layer, rootfs, m, { containerId: 0, hostId: 2000, length: 100000 });
    for (const p of ['', 'work', 'etc', 'etc/hostname']) {
      const st = await lstat(path.join(rootfs, p));
      assert.deepEqual([p, st.uid, st.gid], [p, 1000, 2000]);
    }
    const img = await lstat(path.join(rootfs, 'etc', 'passwd'));
    assert.deepEqual([img.uid, img.gid], [0, 0]);
    const up = await lstat(path.join(layer, 'upper', 'work'));
    assert.equal(up.uid, 1000);
  } finally {
    await unmountRootfs(rootfs).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
