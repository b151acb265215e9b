import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from './harness.js';
import { randomBytes } from 'node:crypto';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { startFront, type Front } from './fixtures/front.js';
import { pushImage } from './fixtures/oci.js';
import { buildTar } from './fixtures/tar.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';

const basic = 'Basic ' + Buffer.from('alice:s3cret').toString('base64');

describe('images: HTTP behaviour (retries on 5xx, blob redirects)', () => {
  let reg: TestRegistry;
  let front: Front;
  let d: TestDaemon;
  before(async () => {
    reg = await startRegistry({ htpasswd: { username: 'alice', password: 's3cret' } });
    front = await startFront(reg.host, { blobFailures: 2, redirectBlobs: true, upstreamAuthorization: basic });
    d = await startDaemon({ toml: '[image]\nmax_concurrent_downloads = 2' });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await front.stop();
    await reg.stop();
  });

  it('retries blobs answered 503, follows redirects to another origin without sending credentials there', async () => {
    const pushed = await pushBusybox(reg.host, 'private/busybox', 'v1', { authorization: basic });
    const r = await d.client.image('PullImage', {
      image: { image: `${front.host}/private/busybox:v1` },
      auth: { username: 'alice', password: 's3cret' },
    });
    assert.equal(r.image_ref, pushed.configDigest);
    const layer = pushed.image.layers[0]!.digest;
    const frontGets = front.hits.filter((h) => h.startsWith(`front GET /v2/private/busybox/blobs/${layer}`));
    assert.equal(frontGets.length, 3, `two 503s then a redirect:\n${front.hits.join('\n')}`);
    assert.ok(frontGets.every((h) => h.endsWith('auth=yes')), 'the registry itself gets the credentials');
    const redirected = front.hits.filter((h) => h.startsWith(`blobs GET /storage/v2/private/busybox/blobs/${layer}`));
    assert.equal(redirected.length, 1);
    assert.ok(redirected[0]!.endsWith('auth=no'), 'no Authorization sent to the other origin');
  });

  it('downloads at most max_concurrent_downloads layers at a time, and in parallel', async () => {
    const plain = await startFront(reg.host);
    try {
      const layers = [1, 2, 3, 4, 5].map((i) => buildTar([{ type: 'file', path: `f${i}`, data: randomBytes(6 << 20) }]));
      const img = buildBusyboxImage({ extraLayers: layers });
      await pushImage(reg.host, 'private/many', 'v1', img, { authorization: basic });
      const r = await d.client.image('PullImage', { image: { image: `${plain.host}/private/many:v1` }, auth: { username: 'alice', password: 's3cret' } });
      assert.equal(r.image_ref, img.config.digest);
      assert.equal(plain.maxBlobsInFlight(), 2);
    } finally {
      await plain.stop();
    }
  });
});
