import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';


describe('images: mirrors, TLS and shared downloads', () => {
  let empty: TestRegistry;
  let mirror: TestRegistry;
  let tlsReg: TestRegistry;
  let d: TestDaemon;
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-img-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem'),
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    empty = await startRegistry();
    mirror = await startRegistry();
    // The TLS registry serves storage filled over plain HTTP first.
    const storageDir = path.join(tmp, 'storage');
    const filler = await startRegistry({ storageDir });
    await pushBusybox(filler.host, 'secure/busybox', 'v1');
    await filler.stop();
    tlsReg = await startRegistry({ storageDir, tls: { certPem: await readFile(path.join(tmp, 'cert.pem'), 'utf8'), keyPem: await readFile(path.join(tmp, 'key.pem'), 'utf8') } });
    d = await startDaemon({
      toml: [
        '[image]',
        'max_concurrent_downloads = 2',
        '[registry]',
        `insecure = ["${tlsReg.host}"]`,
        '[registry.mirrors]',
        `"mirror.example.invalid" = ["http://${empty.host}", "http://${mirror.host}"]`,
        `"docker.io" = ["http://${mirror.host}"]`,
      ].join('\n'),
    });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await Promise.all([empty.stop(), mirror.stop(), tlsReg.stop()]);
    await rm(tmp, { recursive: true, force: true });
  });

  it('tries mirrors in order, serving the upstream path without its host', async () => {
    const pushed = await pushBusybox(mirror.host, 'team/app', 'v1');
    const r = await d.client.image('PullImage', { image: { image: 'mirror.example.invalid/team/app:v1' } });
    assert.equal(r.image_ref, pushed.configDigest);
    const st = await d.client.image('ImageStatus', { image: { image: 'mirror.example.invalid/team/app:v1' } });
    assert.deepEqual(st.image!.repo_tags, ['mirror.example.invalid/team/app:v1']);
    await empty.flushLogs();
    assert.match(empty.logs(), /"GET \/v2\/team\/app\/manifests\/v1 HTTP\/1.1" 404/, 'the first mirror was asked first');
    assert.match(mirror.logs(), /"GET \/v2\/team\/app\/manifests\/v1 HTTP\/1.1" 200/);
  });

  it('falls back to the upstream after the mirrors, reporting what each endpoint said', async () => {
    const t0 = Date.now();
    await assert.rejects(d.client.image('PullImage', { image: { image: 'mirror.example.invalid/team/absent:v1' } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.NOT_FOUND);
      assert.match(err.details, new RegExp(`mirror http://${empty.host}: manifest unknown`));
      assert.match(err.details, new RegExp(`mirror http://${mirror.host}: manifest unknown`));
      assert.match(err.details, /mirror\.example\.invalid: .*ENOTFOUND/);
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, 'an unresolvable upstream is not retried');
  });

  it('normalises Docker Hub names through a docker.io mirror (busybox → library/busybox)', async () => {
    const pushed = await pushBusybox(mirror.host, 'library/busybox', 'latest');
    const r = await d.client.image('PullImage', { image: { image: 'busybox' } });
    assert.equal(r.image_ref, pushed.configDigest);
    const st = await d.client.image('ImageStatus', { image: { image: 'docker.io/library/busybox:latest' } });
    assert.ok(st.image!.repo_tags.includes('docker.io/library/busybox:latest'));
    assert.ok(st.image!.repo_digests.includes(`docker.io/library/busybox@${pushed.digest}`));
  });

  it('pulls over HTTPS with an unverified certificate from an insecure registry', async () => {
    const r = await d.client.image('PullImage', { image: { image: `${tlsReg.host}/secure/busybox:v1` } });
    assert.equal(r.image_ref, buildBusyboxImage().config.digest);
    await tlsReg.flushLogs();
    assert.match(tlsReg.logs(), /"GET \/v2\/secure\/busybox\/manifests\/v1 HTTP\/1.1" 200/);
  });

  it('shares one download between concurrent pulls of the same blobs', async () => {
    const layers = [1, 2, 3, 4].map((i) => buildTar([{ type: 'file', path: `f${i}`, data: Buffer.alloc(2 << 20, i) }]));
    const img = buildBusyboxImage({ extraLayers: layers, config: { Cmd: ['sh'], Env: ['X=concurrent'] } });
    await pushImage(mirror.host, 'team/shared', 'v1', img);
    await pushImage(mirror.host, 'team/shared', 'v2', img);
    const refs = ['v1', 'v2', 'v1'].map((t) => `mirror.example.invalid/team/shared:${t}`);
    const res = await Promise.all(refs.map((image) => d.client.image('PullImage', { image: { image } })));
    for (const r of res) assert.equal(r.image_ref, img.config.digest);
    await mirror.flushLogs();
    for (const l of img.layers.slice(1)) assert.equal(mirror.blobGets(l.digest), 1, `layer ${l.digest} fetched once`);
    const st = await d.client.image('ImageStatus', { image: { image: img.config.digest } });
    assert.deepEqual(st.image!.repo_tags, refs.slice(0, 2));
  });
});
