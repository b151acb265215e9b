import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { startDaemon, type TestDaemon } from './harness.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startProxy } from './fixtures/proxy.js';
import { startRegistry } from './fixtures/registry.js';
import { buildTar } from './fixtures/tar.js';

describe('images: a daemon killed in the middle of a pull', () => {
  it('restarts with no ingest file or half-made snapshot left, then pulls again; pulled images survive restarts', async () => {
    const reg = await startRegistry();
    const proxy = await startProxy(reg.port);
    let d: TestDaemon | undefined = await startDaemon();
    const dir = d.dir;
    try {
      const img = buildBusyboxImage({ extraLayers: [1, 2].map((i) => buildTar([{ type: 'file', path: `f${i}`, data: randomBytes(12 << 20) }])) });
      await pushImage(reg.host, 'test/crash', 'v1', img);
      const ref = `${proxy.host}/test/crash:v1`;
      const victim = d;
      const cut = proxy.cutAfter(8 << 20, () => victim.kill());
      const pulling = d.client.image('PullImage', { image: { image: ref } }).catch((e: Error) => e);
      await cut;
      assert.ok((await pulling) instanceof Error, 'the call died with the daemon');
      const images = path.join(d.root, 'images');
      const leftovers = [...(await readdir(path.join(images, 'content/ingest'))), ...(await readdir(path.join(images, 'snapshots')))];
      assert.ok(leftovers.length > 0, 'the crash left work in progress behind');
      d = await startDaemon({ dir });
      assert.deepEqual(await readdir(path.join(images, 'content/ingest')), []);
      assert.deepEqual(await readdir(path.join(images, 'snapshots')), [], 'no half-made or unrecorded snapshot');
      assert.deepEqual((await d.client.image('ListImages', {})).images, []);
      const r = await d.client.image('PullImage', { image: { image: ref } });
      assert.equal(r.image_ref, img.config.digest);
      await d.stop();
      d = await startDaemon({ dir });
      const st = await d.client.image('ImageStatus', { image: { image: ref } });
      assert.equal(st.image?.id, img.config.digest);
      assert.deepEqual(st.image!.repo_tags, [ref]);
      assert.equal((await readdir(path.join(images, 'snapshots'))).length, 3);
    } finally {
      await d?.kill();
      await d?.cleanup();
      await proxy.stop();
      await reg.stop();
    }
  });
});
