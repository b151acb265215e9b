import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { blob, buildImage, buildIndex, MT, pushBlob, pushImage, pushManifest } from './fixtures/oci.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';


describe('images: pull from a local registry', () => {
  let reg: TestRegistry;
  let d: TestDaemon;
  before(async () => {
    reg = await startRegistry();
    d = await startDaemon({ metrics: true });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await reg.stop();
  });

  it('pulls by tag: ID is the config digest, tags and digests are recorded, the rootfs is unpacked', async () => {
    const pushed = await pushBusybox(reg.host, 'test/busybox', '1.0');
    const ref = `${reg.host}/test/busybox:1.0`;
    const res = await d.client.image('PullImage', { image: { image: ref } });
    assert.equal(res.image_ref, pushed.configDigest);
    const st = await d.client.image('ImageStatus', { image: { image: ref }, verbose: true });
    assert.equal(st.image!.id, pushed.configDigest);
    assert.deepEqual(st.image!.repo_tags, [ref]);
    assert.deepEqual(st.image!.repo_digests, [`${reg.host}/test/busybox@${pushed.digest}`]);
    assert.equal(Number(st.image!.size), pushed.image.config.size + pushed.image.layers[0]!.size);
    const info = JSON.parse(st.info.info!) as { manifestDigest: string; config: { rootfs: { diff_ids: string[] } }; layers: { snapshot: string }[] };
    assert.equal(info.manifestDigest, pushed.digest);
    assert.deepEqual(info.config.rootfs.diff_ids, pushed.image.diffIds);
    const snap = info.layers[0]!.snapshot;
    assert.match(snap, /\/images\/snapshots\/\d+$/, 'short numeric snapshot path');
    assert.equal(await readlink(path.join(snap, 'bin/sh')), 'busybox');
    assert.equal((await stat(path.join(snap, 'bin/busybox'))).mode & 0o7777, 0o755);
    assert.equal((await stat(path.join(snap, 'tmp'))).mode & 0o7777, 0o1777);
    assert.match(await readFile(path.join(snap, 'etc/passwd'), 'utf8'), /^berthuser:x:1000:1000:/m);
    const home = await stat(path.join(snap, 'home/berthuser'));
    assert.equal(home.uid, 1000);
    // ListImages, by filter too; lookups by ID and by ID prefix.
    const all = await d.client.image('ListImages', {});
    assert.ok(all.images.some((i) => i.id === pushed.configDigest));
    const filtered = await d.client.image('ListImages', { filter: { image: { image: pushed.configDigest.slice(7, 19) } } });
    assert.deepEqual(filtered.images.map((i) => i.id), [pushed.configDigest]);
    const none = await d.client.image('ListImages', { filter: { image: { image: `${reg.host}/test/absent:1` } } });
    assert.equal(none.images.length, 0);
  });

  it('a second pull downloads no blob again; a pull by digest adds nothing new', async () => {
    const pushed = await pushBusybox(reg.host, 'test/again', 'v1');
    const ref = `${reg.host}/test/again:v1`;
    await d.client.image('PullImage', { image: { image: ref } });
    await reg.flushLogs();
    assert.ok(reg.blobGets(pushed.image.layers[0]!.digest) > 0);
    const before = reg.blobGets();
    await d.client.image('PullImage', { image: { image: ref } });
    const byDigest = `${reg.host}/test/again@${pushed.digest}`;
    const res = await d.client.image('PullImage', { image: { image: byDigest } });
    assert.equal(res.image_ref, pushed.configDigest);
    await reg.flushLogs();
    assert.equal(reg.blobGets(), before, 'no blob was fetched again');
    const st = await d.client.image('ImageStatus', { image: { image: byDigest } });
    assert.equal(st.image!.id, pushed.configDigest);
  });

  it('picks linux/amd64 from a multi-platform index (OCI and Docker list)', async () => {
    const marker = (s: string) => buildTar([{ type: 'file', path: 'platform', data: s }]);
    const amd64 = buildBusyboxImage({ extraLayers: [marker('amd64')] });
    const arm64 = buildImage([marker('arm64')], { architecture: 'arm64', variant: 'v8' });
    const ppc = buildImage([marker('ppc64le')], { architecture: 'ppc64le' });
    for (const docker of [false, true]) {
      const repo = docker ? 'test/multi-docker' : 'test/multi';
      for (const img of [amd64, arm64, ppc]) {
        await Promise.all([...img.layers, img.config].map((b) => pushBlob(reg.host, repo, b)));
        await pushManifest(reg.host, repo, img.manifest.digest, img.manifest);
      }
      const index = buildIndex([
        { manifest: arm64.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { manifest: amd64.manifest, platform: { os: 'linux', architecture: 'amd64' } },
        { manifest: ppc.manifest, platform: { os: 'linux', architecture: 'ppc64le' } },
      ], docker);
      await pushManifest(reg.host, repo, 'multi', index);
      const res = await d.client.image('PullImage', { image: { image: `${reg.host}/${repo}:multi` } });
      assert.equal(res.image_ref, amd64.config.digest);
      const st = await d.client.image('ImageStatus', { image: { image: `${reg.host}/${repo}:multi` }, verbose: true });
      assert.ok(st.image!.repo_digests.includes(`${reg.host}/${repo}@${index.digest}`), 'repo digest is the index digest');
      const info = JSON.parse(st.info.info!) as { layers: { snapshot: string }[] };
      assert.equal(await readFile(path.join(info.layers[1]!.snapshot, 'platform'), 'utf8'), 'amd64');
    }
  });

  it('pulls zstd, uncompressed and mislabelled layers and Docker schema-2 manifests', async () => {
    const cases = [['zstd', { compression: 'zstd' as const }], ['plain', { compression: 'none' as const }], ['docker', { docker: true }], ['mislabelled', {}]] as const;
    for (const [tag, opts] of cases) {
      const extra = buildTar([{ type: 'dir', path: 'data/' }, { type: 'file', path: 'data/hello', data: `${tag} layer\n` }]);
      let img = buildBusyboxImage({ ...opts, extraLayers: [extra] });
      if (tag === 'mislabelled') {
        // gzip bytes declared as a plain tar: berth falls back to sniffing the stored blob.
        const m = JSON.parse(img.manifest.data.toString()) as { layers: { mediaType: string }[] };
        for (const l of m.layers) l.mediaType = MT.ociLayer;
        img = { ...img, manifest: blob(JSON.stringify(m), MT.ociManifest) };
      }
      await pushImage(reg.host, 'test/formats', tag, img);
      const res = await d.client.image('PullImage', { image: { image: `${reg.host}/test/formats:${tag}` } });
      assert.equal(res.image_ref, img.config.digest, tag);
      const st = await d.client.image('ImageStatus', { image: { image: `${reg.host}/test/formats:${tag}` }, verbose: true });
      const info = JSON.parse(st.info.info!) as { layers: { snapshot: string }[] };
      assert.equal(await readFile(path.join(info.layers[1]!.snapshot, 'data/hello'), 'utf8'), `${tag} layer\n`);
      assert.equal(await readlink(path.join(info.layers[0]!.snapshot, 'bin/sh')), 'busybox');
    }
  });

  it('pulls an image that lists the same layer blob twice', async () => {
    const same = buildTar([{ type: 'file', path: 'twice', data: 'same bytes\n' }]);
    const img = buildBusyboxImage({ extraLayers: [same, buildTar([{ type: 'file', path: 'between', data: 'b' }]), same] });
    assert.equal(img.layers[1]!.digest, img.layers[3]!.digest);
    await pushImage(reg.host, 'test/twice', 'v1', img);
    const r = await d.client.image('PullImage', { image: { image: `${reg.host}/test/twice:v1` } });
    assert.equal(r.image_ref, img.config.digest);
    const st = await d.client.image('ImageStatus', { image: { image: img.config.digest }, verbose: true });
    const snaps = (JSON.parse(st.info.info!) as { layers: { snapshot: string }[] }).layers.map((l) => l.snapshot);
    assert.equal(new Set(snaps).size, 4, 'one snapshot per layer chain');
    assert.equal(await readFile(path.join(snaps[3]!, 'twice'), 'utf8'), 'same bytes\n');
  });

  it('moves a re-pushed tag; the old image stays listed without a tag', async () => {
    const ref = `${reg.host}/test/moving:latest`;
    const first = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'v', data: '1' }])] });
    const second = buildBusyboxImage({ extraLayers: [buildTar([{ type: 'file', path: 'v', data: '2' }])] });
    await pushImage(reg.host, 'test/moving', 'latest', first);
    await d.client.image('PullImage', { image: { image: ref } });
    await pushImage(reg.host, 'test/moving', 'latest', second);
    await d.client.image('PullImage', { image: { image: ref } });
    const old = await d.client.image('ImageStatus', { image: { image: first.config.digest } });
    assert.deepEqual(old.image!.repo_tags, []);
    const now = await d.client.image('ImageStatus', { image: { image: ref } });
    assert.equal(now.image!.id, second.config.digest);
  });

  it('exports pull bytes and durations on /metrics', async () => {
    const body = await (await fetch(`http://${d.metricsAddress}/metrics`)).text();
    const bytes = Number(/^berth_image_pull_bytes_total (\d+)/m.exec(body)?.[1]);
    assert.ok(bytes > 1_000_000, `pull bytes counted: ${bytes}`);
    assert.match(body, /^berth_image_pull_duration_seconds_count\{outcome="ok"\} [1-9]/m);
  });

  it('refuses malformed references and reports unknown images', async () => {
    await assert.rejects(d.client.image('PullImage', { image: { image: 'UPPER/Case:tag' } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(err.details, /invalid image reference/);
      return true;
    });
    await assert.rejects(d.client.image('PullImage', { image: { image: `${reg.host}/test/nothing:here` } }), (err: CriError) => {
      assert.match(err.details, /manifest unknown/);
      return true;
    });
    const st = await d.client.image('ImageStatus', { image: { image: 'docker.io/library/never:pulled' } });
    assert.equal(st.image, null);
    await d.client.image('RemoveImage', { image: { image: 'docker.io/library/never:pulled' } });
    assert.deepEqual(await readdir(path.join(d.root, 'images/content/ingest')), []);
  });
});
