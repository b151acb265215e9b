import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../pkg/log/log.js';
import { Store } from '../pkg/store/store.js';
import { ImageServiceImpl } from '../pkg/image/service.js';
import { FailedPreconditionError } from '../pkg/errors/errors.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';

describe('images: RemoveImage and ImageFsInfo', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  const a = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'a', data: Buffer.alloc(300_000, 1) }])] });
  const b = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'b', data: Buffer.alloc(200_000, 2) }])] });
  before(async () => {
    reg = await startRegistry();
    d = await startDaemon();
    await pushImage(reg.host, 'test/a', 'v1', a);
    await pushImage(reg.host, 'test/a', 'also', a);
    await pushImage(reg.host, 'test/b', 'v1', b);
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await reg.stop();
  });

  const fsInfo = async () => {
    const r = await d.client.image('ImageFsInfo', {});
    assert.equal(r.image_filesystems.length, 1);
    assert.equal(r.container_filesystems.length, 1);
    assert.equal(r.image_filesystems[0]!.fs_id!.mountpoint, path.join(d.root, 'images'));
    assert.equal(r.container_filesystems[0]!.fs_id!.mountpoint, path.join(d.root, 'containers'));
    assert.ok(BigInt(r.image_filesystems[0]!.timestamp) > 0n);
    return { bytes: Number(r.image_filesystems[0]!.used_bytes!.value), inodes: Number(r.image_filesystems[0]!.inodes_used!.value) };
  };
  const snapshotOf = async (ref: string) => {
    const st = await d.client.image('ImageStatus', { image: { image: ref }, verbose: true });
    return (JSON.parse(st.info.info!) as { layers: { snapshot: string }[] }).layers.map((l) => l.snapshot);
  };

  it('frees unshared layers, keeps shared ones, removes every tag, and ImageFsInfo goes down', async () => {
    const empty = await fsInfo();
    await d.client.image('PullImage', { image: { image: `${reg.host}/test/a:v1` } });
    await d.client.image('PullImage', { image: { image: `${reg.host}/test/a:also` } });
    await d.client.image('PullImage', { image: { image: `${reg.host}/test/b:v1` } });
    const full = await fsInfo();
    assert.ok(full.bytes > empty.bytes + 2_000_000, `busybox + layers counted: ${empty.bytes} -> ${full.bytes}`);
    const [baseA, topA] = await snapshotOf(a.config.digest);
    const [baseB, topB] = await snapshotOf(b.config.digest);
    assert.equal(baseA, baseB, 'the busybox layer is shared');
    const stA = await d.client.image('ImageStatus', { image: { image: `${reg.host}/test/a:v1` } });
    assert.deepEqual(stA.image!.repo_tags, [`${reg.host}/test/a:also`, `${reg.host}/test/a:v1`]);

    await d.client.image('RemoveImage', { image: { image: `${reg.host}/test/a:also` } });
    for (const tag of ['v1', 'also']) {
      const st = await d.client.image('ImageStatus', { image: { image: `${reg.host}/test/a:${tag}` } });
      assert.equal(st.image, null, `tag ${tag} removed with the image`);
    }
    assert.ok(!existsSync(topA!), 'unshared layer freed');
    assert.ok(existsSync(baseA!) && existsSync(topB!), 'shared and other layers kept');
    const blobs = await readdir(path.join(d.root, 'images/content/blobs/sha256'));
    assert.ok(!blobs.includes(a.layers[1]!.digest.slice(7)) && !blobs.includes(a.config.digest.slice(7)), 'unshared blobs freed');
    assert.ok(blobs.includes(b.layers[0]!.digest.slice(7)), 'shared blob kept');
    const mid = await fsInfo();
    assert.ok(mid.bytes < full.bytes - 300_000 && mid.inodes < full.inodes, `${full.bytes} -> ${mid.bytes}`);

    // Removing again (and by ID, prefix or digest reference) is fine.
    await d.client.image('RemoveImage', { image: { image: `${reg.host}/test/a:v1` } });
    await d.client.image('RemoveImage', { image: { image: `${reg.host}/test/b@${(await d.client.image('ImageStatus', { image: { image: `${reg.host}/test/b:v1` } })).image!.repo_digests[0]!.split('@')[1]}` } });
    assert.ok(!existsSync(baseB!) && !existsSync(topB!));
    assert.deepEqual(await readdir(path.join(d.root, 'images/snapshots')), []);
    assert.deepEqual(await readdir(path.join(d.root, 'images/content/blobs/sha256')), []);
    const after = await fsInfo();
    assert.ok(after.bytes < mid.bytes);
    assert.equal(after.bytes, empty.bytes);
    assert.deepEqual((await d.client.image('ListImages', {})).images, []);
  });

  it('refuses to remove an image a container uses (FailedPrecondition)', async () => {
    await d.client.image('PullImage', { image: { image: `${reg.host}/test/b:v1` } });
    await d.stop();
    const store = Store.open(path.join(d.root, 'berth.db'));
    try {
      const svc = new ImageServiceImpl({ root: d.root, store, log: silentLogger(), registry: { insecure: [], mirrors: {} }, maxConcurrentDownloads: 3 });
      await svc.init();
      svc.setInUseCheck((id) => id === b.config.digest);
      await assert.rejects(svc.remove(`${reg.host}/test/b:v1`), (err: Error) => {
        assert.ok(err instanceof FailedPreconditionError);
        assert.match(err.message, /in use by a container/);
        return true;
      });
      assert.ok(svc.lookup(b.config.digest));
      svc.setInUseCheck(() => false);
      await svc.remove(b.config.digest);
      assert.equal(svc.lookup(`${reg.host}/test/b:v1`), undefined);
    } finally {
      store.close();
    }
  });
});
