// List streaming through the daemon with many items: 600 container records restored from the
// state database (e2e/list-fixtures.ts) come in several batches, each container once, as
// ListContainers lists them. And the case streaming exists for: 300 containers with 60 KB of
// annotations each (kubelet allows 256 KiB) make a ListContainers answer past the 16 MiB message
// limit kubelet's client and berth's server keep; the unary call fails with RESOURCE_EXHAUSTED,
// as kubelet's relist would, while StreamContainers delivers all of them in batches under 1 MiB.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { collectStream, GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { DEFAULT_BATCH } from '../pkg/cri/list-stream.js';
import { criServices } from '../pkg/cri/proto.js';
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

describe('a container list past the 16 MiB message limit', () => {
  let d: TestDaemon;
  let restored: string[];
  before(async () => {
    const first = await startDaemon({ logLevel: 'info', toml: '[cni]\nconf_dir = "/nonexistent/berth-e2e-cni"\n' });
    await first.stop();
    restored = await populateContainers(first.root, 300, 60_000);
    d = await startDaemon({ dir: first.dir, logLevel: 'info' });
  });
  after(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('ListContainers fails with RESOURCE_EXHAUSTED while StreamContainers sends every container in batches under 1 MiB', async () => {
    await assert.rejects(d.client.runtime('ListContainers', {}), (e: CriError) => e.code === GrpcStatus.RESOURCE_EXHAUSTED);
    const encode = criServices().RuntimeService.StreamContainers.responseSerialize;
    const sizes: number[] = [];
    const s = d.client.runtimeStream('StreamContainers', {});
    s.on('data', (b: Parameters<typeof encode>[0]) => sizes.push(encode(b).length));
    const streamed = await collectStream(s, (b) => b.containers);
    assert.deepEqual(streamed.items.map((x) => x.id).sort(), [...restored].sort());
    assert.ok(streamed.items.every((c) => c.annotations['bench.berth.dev/padding']?.length === 60_000), 'nothing cut short');
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.ok(total > 16 * 1024 * 1024, `${total} bytes streamed`);
    assert.ok(sizes.every((n) => n <= DEFAULT_BATCH.maxBytes), `batch sizes ${sizes}`);
    // The daemon is fine afterwards: a filtered unary list under the limit still answers.
    const sb = streamed.items[0]!.pod_sandbox_id;
    assert.equal((await d.client.runtime('ListContainers', { filter: { pod_sandbox_id: sb } })).containers.length, 10);
  });
});
