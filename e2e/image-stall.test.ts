// A registry that stops sending in the middle of a layer (its connection stays open): the pull
// fails after image.pull_progress_timeout naming the layer and the endpoint, closes that
// connection, keeps no ingest file, and the next pull succeeds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildImage, pushImage } from './fixtures/oci.js';
import { startProxy, type CuttingProxy } from './fixtures/proxy.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';

describe('images: a stalled download', () => {
  let reg: TestRegistry;
  let proxy: CuttingProxy;
  let d: TestDaemon;
  before(async () => {
    reg = await startRegistry();
    proxy = await startProxy(reg.port);
    d = await startDaemon({ toml: `[image]\npull_progress_timeout = "2s"\n[registry]\ninsecure = ["${proxy.host}"]\n` });
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
    await proxy.stop();
    await reg.stop();
  });

  it('fails after pull_progress_timeout naming the layer and the endpoint, frees the connection and the ingest file; the retry succeeds', async () => {
    const img = buildImage([buildTar([{ type: 'file', path: 'big', data: randomBytes(8 << 20) }])], { compression: 'none' });
    await pushImage(reg.host, 'test/stall', 'v1', img);
    const layer = img.layers[0]!.digest;
    const ref = `${proxy.host}/test/stall:v1`;
    const stall = proxy.stallAfter(1 << 20);
    const pulling = d.client.image('PullImage', { image: { image: ref } });
    await stall.stalled;
    await assert.rejects(pulling, (err: CriError) => {
      assert.equal(err.code, GrpcStatus.UNAVAILABLE, err.details);
      assert.match(err.details, new RegExp(`^pull ${ref}: no bytes of layer ${layer} from https?://${proxy.host.replace(/\./g, '\\.')} for [0-9.]+ s \\(image\\.pull_progress_timeout\\)`));
      return true;
    });
    await stall.closed;
    assert.deepEqual(await readdir(path.join(d.root, 'images/content/ingest')), []);
    assert.deepEqual((await d.client.image('ListImages', {})).images, []);
    stall.resume();
    const ok = await d.client.image('PullImage', { image: { image: ref } });
    assert.equal(ok.image_ref, img.config.digest);
  });
});
