// List streaming (KEP-5825) through the daemon and berth's client: every Stream* call answers
// what its unary twin answers, filter for filter, with real pods (runc containers running,
// created and exited, a stopped pod) and images. Many items: list-stream-restored.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { collectStream } from '../pkg/client/cri.js';
import type { ContainerFilter } from '../pkg/cri/gen/runtime/v1/ContainerFilter.js';
import type { PodSandboxFilter } from '../pkg/cri/gen/runtime/v1/PodSandboxFilter.js';
import { ctrConfig, runCtr, runPod, startCtEnv, waitExited, type CtEnv } from './container-fixtures.js';

describe('list streams through the daemon', () => {
  let env: CtEnv;
  const ids: Record<string, string> = {};
  before(async () => {
    env = await startCtEnv();
    const a = await runPod(env, 'ls-a', { labels: { app: 'ls', tier: 'a' } });
    const b = await runPod(env, 'ls-b', { labels: { app: 'ls', tier: 'b' } });
    const c = await runPod(env, 'ls-c', { labels: { app: 'ls', tier: 'c' } });
    Object.assign(ids, { a: a.id, b: b.id, c: c.id });
    ids.web = await runCtr(env, a, ctrConfig(env, 'web', { command: ['sleep', '3600'], labels: { role: 'web' } }));
    ids.db = await runCtr(env, a, ctrConfig(env, 'db', { command: ['sleep', '3600'], labels: { role: 'db' } }));
    ids.created = await runCtr(env, a, ctrConfig(env, 'created', { command: ['true'], labels: { role: 'web' } }), false);
    ids.done = await runCtr(env, b, ctrConfig(env, 'done', { command: ['true'], labels: { role: 'job' } }));
    await waitExited(env, ids.done);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: c.id });
  });
  after(async () => {
    await env?.close();
  });

  it('StreamContainers answers as ListContainers for every filter', async () => {
    const c = env.d.client;
    const filters: (ContainerFilter | undefined)[] = [
      undefined, {}, { id: ids.web }, { id: ids.web!.slice(0, 12) }, { pod_sandbox_id: ids.a }, { state: { state: 'CONTAINER_RUNNING' } },
      { state: { state: 'CONTAINER_CREATED' } }, { state: { state: 'CONTAINER_EXITED' } }, { label_selector: { role: 'web' } },
      { pod_sandbox_id: ids.a, label_selector: { role: 'web' }, state: { state: 'CONTAINER_RUNNING' } }, { id: 'f00d' },
    ];
    for (const filter of filters) {
      const unary = (await c.runtime('ListContainers', { filter })).containers;
      const streamed = await collectStream(c.runtimeStream('StreamContainers', { filter }), (b) => b.containers);
      assert.deepEqual(streamed.items, unary, JSON.stringify(filter));
      assert.equal(streamed.batches, unary.length ? 1 : 0, 'a few items: one batch; none: no message');
    }
    const running = await collectStream(c.runtimeStream('StreamContainers', { filter: { state: { state: 'CONTAINER_RUNNING' } } }), (b) => b.containers);
    assert.deepEqual(running.items.map((x) => x.id).sort(), [ids.web, ids.db].sort());
  });

  it('StreamPodSandboxes answers as ListPodSandbox for every filter', async () => {
    const c = env.d.client;
    const filters: (PodSandboxFilter | undefined)[] = [
      undefined, { id: ids.a }, { state: { state: 'SANDBOX_READY' } }, { state: { state: 'SANDBOX_NOTREADY' } },
      { label_selector: { app: 'ls' } }, { label_selector: { tier: 'b' } }, { label_selector: { tier: 'zzz' } },
    ];
    for (const filter of filters) {
      const unary = (await c.runtime('ListPodSandbox', { filter })).items;
      const streamed = await collectStream(c.runtimeStream('StreamPodSandboxes', { filter }), (b) => b.pod_sandboxes);
      assert.deepEqual(streamed.items, unary, JSON.stringify(filter));
    }
    const notReady = await collectStream(c.runtimeStream('StreamPodSandboxes', { filter: { state: { state: 'SANDBOX_NOTREADY' } } }), (b) => b.pod_sandboxes);
    assert.deepEqual(notReady.items.map((x) => x.id), [ids.c]);
  });

  it('StreamImages answers as ListImages, with and without an image filter', async () => {
    for (const filter of [undefined, { image: { image: env.image } }, { image: { image: 'nowhere.example/none:1' } }]) {
      const unary = (await env.d.client.image('ListImages', { filter })).images;
      const streamed = await collectStream(env.d.client.imageStream('StreamImages', { filter }), (b) => b.images);
      assert.deepEqual(streamed.items, unary, JSON.stringify(filter));
    }
    const all = await collectStream(env.d.client.imageStream('StreamImages', {}), (b) => b.images);
    assert.equal(all.items.length, 2, 'busybox and busybox-user');
  });

  it('the stats streams list what the unary stats calls list, filter for filter', async () => {
    const c = env.d.client;
    const ctrIds = async (filter: Record<string, unknown> | undefined) => ({
      unary: (await c.runtime('ListContainerStats', { filter })).stats.map((s) => s.attributes!.id),
      streamed: (await collectStream(c.runtimeStream('StreamContainerStats', { filter }), (b) => b.container_stats)).items.map((s) => s.attributes!.id),
    });
    for (const filter of [undefined, { id: ids.web }, { pod_sandbox_id: ids.a }, { label_selector: { role: 'web' } }, { pod_sandbox_id: ids.a, label_selector: { role: 'db' } }]) {
      const r = await ctrIds(filter);
      assert.deepEqual(r.streamed, r.unary, JSON.stringify(filter));
    }
    const running = (await collectStream(c.runtimeStream('StreamContainerStats', { filter: { id: ids.web } }), (b) => b.container_stats)).items[0]!;
    assert.ok(BigInt(running.cpu!.usage_core_nano_seconds!.value) > 0n, 'real cgroup numbers');
    for (const filter of [undefined, { id: ids.a }, { label_selector: { tier: 'b' } }, { label_selector: { tier: 'c' } }]) {
      const unary = (await c.runtime('ListPodSandboxStats', { filter })).stats.map((s) => s.attributes!.id);
      const streamed = (await collectStream(c.runtimeStream('StreamPodSandboxStats', { filter }), (b) => b.pod_sandbox_stats)).items;
      assert.deepEqual(streamed.map((s) => s.attributes!.id), unary, JSON.stringify(filter));
      for (const s of streamed) assert.ok(s.linux!.containers.length >= 1);
    }
    const unaryMetrics = (await c.runtime('ListPodSandboxMetrics', {})).pod_metrics;
    const streamedMetrics = (await collectStream(c.runtimeStream('StreamPodSandboxMetrics', {}), (b) => b.pod_sandbox_metrics)).items;
    const shape = (ms: typeof unaryMetrics) => ms.map((p) => ({
      pod: p.pod_sandbox_id, names: [...new Set(p.metrics.map((m) => m.name))].sort(),
      containers: p.container_metrics.map((x) => ({ id: x.container_id, names: [...new Set(x.metrics.map((m) => m.name))].sort() })),
    }));
    assert.deepEqual(shape(streamedMetrics), shape(unaryMetrics));
    assert.deepEqual(streamedMetrics.map((p) => p.pod_sandbox_id).sort(), [ids.a, ids.b].sort(), 'ready pods only');
  });
});
