import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commonParent, mountRootfs, unmountRootfs } from './rootfs.js';

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
