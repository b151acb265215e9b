import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';
import { MT } from './fixtures/oci.js';

describe('image fixtures: local docker-registry and the busybox image', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => {
    await reg.stop();
  });

  it('pushes busybox and serves its manifest and config, counting blob GETs', async () => {
    const pushed = await pushBusybox(reg.host, 'fixtures/busybox', 'latest');
    const r = await fetch(`http://${reg.host}/v2/fixtures/busybox/manifests/latest`, { headers: { Accept: MT.ociManifest } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-content-digest'), pushed.digest);
    const m = (await r.json()) as { config: { digest: string }; layers: unknown[] };
    assert.equal(m.config.digest, pushed.configDigest);
    assert.equal(m.layers.length, 1);
    const before = reg.blobGets(pushed.configDigest);
    const c = await fetch(`http://${reg.host}/v2/fixtures/busybox/blobs/${pushed.configDigest}`);
    const cfg = (await c.json()) as { config: { Cmd: string[] } };
    assert.deepEqual(cfg.config.Cmd, ['sh']);
    // The access log line may be written just after the response.
    await reg.flushLogs();
    assert.equal(reg.blobGets(pushed.configDigest), before + 1);
    // A second push of the cached image to another repository gives the same digests.
    const again = await pushBusybox(reg.host, 'fixtures/other', 'v1');
    assert.equal(again.digest, pushed.digest);
  });
});
