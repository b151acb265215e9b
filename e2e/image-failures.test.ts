import { describe, it, after, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { blob, buildImage, MT, pushImage } from './fixtures/oci.js';
import { startProxy } from './fixtures/proxy.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar, type TarEntry } from './fixtures/tar.js';

/** The image store holds nothing: no image, snapshot, blob or ingest file. */
async function assertStoreEmpty(d: TestDaemon): Promise<void> {
  const list = await d.client.image('ListImages', {});
  assert.deepEqual(list.images.map((i) => i.id), []);
  const images = path.join(d.root, 'images');
  assert.deepEqual(await readdir(path.join(images, 'snapshots')), [], 'no snapshot left');
  assert.deepEqual(await readdir(path.join(images, 'content/blobs/sha256')), [], 'no blob left');
  assert.deepEqual(await readdir(path.join(images, 'content/ingest')), [], 'no ingest file left');
}

describe('images: hostile and broken pulls leave nothing behind', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  let outside: string;
  before(async () => {
    reg = await startRegistry();
    d = await startDaemon();
    outside = await mkdtemp(path.join(os.tmpdir(), 'berth-img-outside-'));
  });
  afterEach(async () => {
    // Every case starts from an empty store.
    for (const img of (await d.client.image('ListImages', {})).images) await d.client.image('RemoveImage', { image: { image: img.id } });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await reg.stop();
    await rm(outside, { recursive: true, force: true });
  });

  const hostile: [string, (o: string) => TarEntry[], RegExp][] = [
    ['../ escape', (o) => [{ type: 'file', path: `../../../../../../../..${o}/dotdot`, data: 'x' }], /path leaves the root/],
    ['absolute symlink', (o) => [{ type: 'symlink', path: 'abs', target: o }, { type: 'file', path: 'abs/through-abs', data: 'x' }], /abs\/through-abs.*symlink "abs" to the absolute path/],
    ['relative symlink', (o) => [{ type: 'dir', path: 'a/b/' }, { type: 'symlink', path: 'a/b/rel', target: `../../../../../../../..${o}` }, { type: 'file', path: 'a/b/rel/through-rel', data: 'x' }], /through-rel.*leaves the layer root/],
    ['hardlink outside', () => [{ type: 'hardlink', path: 'hl', target: '../../../../../../../../etc/passwd' }], /hardlink to .*outside the layer root/],
    ['hardlink through symlink', () => [{ type: 'symlink', path: 'etc2', target: '/etc' }, { type: 'hardlink', path: 'hl2', target: 'etc2/passwd' }], /symlink "etc2" to the absolute path/],
  ];
  for (const [name, entries, why] of hostile) {
    it(`refuses a layer with a ${name}, writing nothing outside`, async () => {
      const evil = buildTar([{ type: 'file', path: 'before', data: 'written first' }, ...entries(outside)]);
      const img = buildBusyboxImage({ extraLayers: [evil] });
      const repo = `test/hostile-${name.replace(/[^a-z]+/g, '-')}`;
      await pushImage(reg.host, repo, 'v1', img);
      await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/${repo}:v1` } }), (err: CriError) => {
        assert.match(err.details, /^pull 127\.0\.0\.1:\d+\/test\/hostile.*: layer sha256:[0-9a-f]{64}: tar entry "/);
        assert.match(err.details, why);
        return true;
      });
      assert.deepEqual(await readdir(outside), [], 'nothing written outside');
      await assertStoreEmpty(d);
    });
  }

  // Big gzip layers (5 MiB): the streamed unpack and the unpack again from the stored blob both refuse them.
  it('big gzip layers: refuses an escape, a diff ID the config does not list and corrupt gzip, storing nothing', async () => {
    const big = randomBytes(5 << 20);
    const escape = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'big', data: big }, { type: 'file', path: `../../../../../../../..${outside}/big-dotdot`, data: 'x' }])] });
    assert.ok(escape.layers[1]!.size >= 4 << 20);
    await pushImage(reg.host, 'test/big-hostile', 'v1', escape);
    await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/test/big-hostile:v1` } }), (err: CriError) => {
      assert.match(err.details, /layer sha256:[0-9a-f]{64}: tar entry ".*big-dotdot": path leaves the root/);
      return true;
    });
    assert.deepEqual(await readdir(outside), [], 'nothing written outside');
    await assertStoreEmpty(d);

    // The config names another diff ID than the layer's tar hashes to.
    const img = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'big', data: big }])] });
    const cfg = JSON.parse(img.config.data.toString()) as { rootfs: { diff_ids: string[] } };
    cfg.rootfs.diff_ids[1] = `sha256:${'0'.repeat(64)}`;
    const config = blob(JSON.stringify(cfg), MT.ociConfig);
    const man = JSON.parse(img.manifest.data.toString()) as { config: { digest: string; size: number } };
    man.config = { ...man.config, digest: config.digest, size: config.size };
    await pushImage(reg.host, 'test/big-diffid', 'v1', { ...img, config, manifest: blob(JSON.stringify(man), MT.ociManifest), diffIds: cfg.rootfs.diff_ids });
    await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/test/big-diffid:v1` } }), (err: CriError) => {
      assert.match(err.details, /uncompressed content hashes to sha256:[0-9a-f]{64}, the config says sha256:0{64}/);
      return true;
    });
    await assertStoreEmpty(d);

    // gzip bytes broken in the middle, the blob digest taken over the broken bytes.
    const layer = Buffer.from(img.layers[1]!.data);
    layer.fill(0xff, layer.length >> 1, (layer.length >> 1) + 4096);
    const broken = blob(layer, MT.ociLayerGzip);
    const m2 = JSON.parse(img.manifest.data.toString()) as { layers: { digest: string; size: number }[] };
    m2.layers[1] = { ...m2.layers[1]!, digest: broken.digest, size: broken.size };
    await pushImage(reg.host, 'test/big-corrupt', 'v1', { ...img, layers: [img.layers[0]!, broken], manifest: blob(JSON.stringify(m2), MT.ociManifest) });
    await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/test/big-corrupt:v1` } }), (err: CriError) => {
      assert.match(err.details, new RegExp(`layer ${broken.digest}: `));
      return true;
    });
    await assertStoreEmpty(d);
  });

  it('refuses a blob whose bytes do not match its digest and stores nothing', async () => {
    const img = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'payload', data: randomBytes(4096) }])] });
    await pushImage(reg.host, 'test/corrupt', 'v1', img);
    const layer = img.layers[1]!;
    const data = path.join(reg.storageDir, 'docker/registry/v2/blobs/sha256', layer.digest.slice(7, 9), layer.digest.slice(7), 'data');
    const fh = await open(data, 'r+');
    await fh.write(Buffer.from('corrupt!'), 0, 8, 100); // same size, other bytes
    await fh.close();
    await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/test/corrupt:v1` } }), (err: CriError) => {
      assert.match(err.details, new RegExp(`blob ${layer.digest}: content does not match its digest`));
      return true;
    });
    await assertStoreEmpty(d);
  });

  it('fails clearly when the registry stops in the middle of a pull, and the next pull succeeds', async () => {
    const storageDir = await mkdtemp(path.join(os.tmpdir(), 'berth-img-store-'));
    let r1: TestRegistry | undefined = await startRegistry({ storageDir });
    const proxy = await startProxy(r1.port);
    let r2: TestRegistry | undefined;
    const regPort = r1.port;
    try {
      const big = buildImage([buildTar([{ type: 'file', path: 'big', data: randomBytes(24 << 20) }])], { compression: 'none' });
      await pushImage(r1.host, 'test/big', 'v1', big);
      const ref = `${proxy.host}/test/big:v1`;
      const cut = proxy.cutAfter(2 << 20, async () => {
        await r1!.stop();
        r1 = undefined;
      });
      const pulling = d.client.image('PullImage', { image: { image: ref } });
      await cut;
      await assert.rejects(pulling, (err: CriError) => {
        assert.match(err.details, new RegExp(`^pull ${proxy.host}/test/big:v1: .*(ECONNRESET|ECONNREFUSED|socket hang up|ended after)`));
        return true;
      });
      await assertStoreEmpty(d);
      // The registry comes back on its old port (where the proxy forwards) with its storage.
      r2 = await startRegistry({ storageDir, port: regPort });
      const ok = await d.client.image('PullImage', { image: { image: ref } });
      assert.equal(ok.image_ref, big.config.digest);
      assert.deepEqual(await readdir(path.join(d.root, 'images/content/ingest')), []);
    } finally {
      await proxy.stop();
      await r1?.stop();
      await r2?.stop();
      await rm(storageDir, { recursive: true, force: true });
    }
  });

  it('resumes a blob download broken in the middle with a Range request', async () => {
    const proxy = await startProxy(reg.port);
    try {
      const img = buildImage([buildTar([{ type: 'file', path: 'big', data: randomBytes(16 << 20) }])], { compression: 'none' });
      await pushImage(reg.host, 'test/resume', 'v1', img);
      const cut = proxy.cutAfter(4 << 20, () => {});
      const r = await d.client.image('PullImage', { image: { image: `${proxy.host}/test/resume:v1` } });
      await cut;
      assert.equal(r.image_ref, img.config.digest);
      const layer = img.layers[0]!.digest;
      await reg.flushLogs();
      assert.match(reg.logs(), new RegExp(`"GET /v2/test/resume/blobs/${layer} HTTP/1.1" 206`), 'the second request asked for the rest');
      assert.deepEqual(await readdir(path.join(d.root, 'images/content/ingest')), []);
    } finally {
      await proxy.stop();
    }
  });

  it('keeps the outside directory untouched throughout', () => {
    assert.ok(existsSync(outside));
  });
});
