import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerEventResponse__Output } from '../pkg/cri/gen/runtime/v1/ContainerEventResponse.js';
import { startDaemon, subscribe, type TestDaemon } from './harness.js';
import { podConfig } from './sandbox-fixtures.js';

describe('events: pod sandbox lifecycle on GetContainerEvents', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
  });

  it('a subscriber sees created, started, stopped and deleted for a sandbox, in order, with its status', async () => {
    const stream = await subscribe(d);
    const got: ContainerEventResponse__Output[] = [];
    let id = '';
    const all = new Promise<void>((resolve) => stream.on('data', (e: ContainerEventResponse__Output) => {
      got.push(e);
      if (got.filter((x) => x.container_id === id).length >= 4) resolve();
    }));
    const cfg = podConfig('events-sb', { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
    id = (await d.client.runtime('RunPodSandbox', { config: cfg })).pod_sandbox_id;
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    await Promise.race([all, new Promise((r) => setTimeout(r, 5000).unref())]);
    stream.cancel();
    const mine = got.filter((e) => e.container_id === id);
    assert.deepEqual(mine.map((e) => e.container_event_type), [
      'CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT',
    ]);
    assert.equal(mine[0]!.pod_sandbox_status?.id, id);
    assert.equal(mine[0]!.pod_sandbox_status?.metadata?.uid, cfg.metadata!.uid);
    assert.equal(mine[1]!.pod_sandbox_status?.state, 'SANDBOX_READY');
    assert.equal(mine[2]!.pod_sandbox_status?.state, 'SANDBOX_NOTREADY');
    const times = mine.map((e) => BigInt(e.created_at));
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, 'event times do not go back');
  });
});
