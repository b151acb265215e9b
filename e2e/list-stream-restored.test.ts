// List streaming through the daemon with many items: 600 container records restored from the
// state database (e2e/list-fixtures.ts) come in several batches, each container once, as
// ListContainers lists them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { collectStream } from '../pkg/client/cri.js';
import { DEFAULT_BATCH } from '../pkg/cri/list-stream.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { populateContainers } from './list-fixtures.js';

describe('list streams over 600 containers restored from the state database', () => {
  let d: TestDaemon;
  let restored: string[];
  before(async () => {
    const first = await startDaemon({ logLevel: 'info', toml: '[cni]\nconf_dir = "/nonexistent/berth-e2e-cni"\n' });
    await first.stop();
    restored = await populateContainers(first.root, 600);
    d = await startDaemon({ dir: first.dir, logLevel: 'info' });
  });
  after(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('streams them in batches of at most the batch size, each container once, as ListContainers lists them', async () => {
    const sizes: number[] = [];
    const s = d.client.runtimeStream('StreamContainers', {});
    s.on('data', (b: { containers: unknown[] }) => sizes.push(b.containers.length));
    const streamed = await collectStream(s, (b) => b.containers);
    assert.deepEqual(streamed.items, (await d.client.runtime('ListContainers', {})).containers);
    assert.deepEqual(streamed.items.map((x) => x.id).sort(), [...restored].sort());
    assert.equal(new Set(streamed.items.map((x) => x.id)).size, 600);
    assert.ok(sizes.length >= Math.ceil(600 / DEFAULT_BATCH.maxItems), `batches ${sizes}`);
    assert.ok(sizes.every((n) => n >= 1 && n <= DEFAULT_BATCH.maxItems), `batches ${sizes}`);
    const sb = streamed.items[0]!.pod_sandbox_id;
    const ofPod = await collectStream(d.client.runtimeStream('StreamContainers', { filter: { pod_sandbox_id: sb } }), (b) => b.containers);
    assert.deepEqual(ofPod.items, (await d.client.runtime('ListContainers', { filter: { pod_sandbox_id: sb } })).containers);
    assert.equal(ofPod.items.length, 10);
  });
});
