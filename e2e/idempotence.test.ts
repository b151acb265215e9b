import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from './harness.js';

// CRI: stop and remove calls are idempotent; an object that is already gone is not an error
// (kubelet retries them, and critest's Idempotence specs check exactly this).
describe('idempotence: stop and remove of unknown objects succeed', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.kill();
    await d.cleanup();
  });
  const unknown = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

  it('StopContainer of an unknown container', async () => {
    assert.deepEqual(await d.client.runtime('StopContainer', { container_id: unknown, timeout: 10 }), {});
  });
  it('RemoveContainer of an unknown container', async () => {
    assert.deepEqual(await d.client.runtime('RemoveContainer', { container_id: unknown }), {});
  });
  it('StopPodSandbox of an unknown sandbox', async () => {
    assert.deepEqual(await d.client.runtime('StopPodSandbox', { pod_sandbox_id: unknown }), {});
  });
  it('RemovePodSandbox of an unknown sandbox', async () => {
    assert.deepEqual(await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: unknown }), {});
  });
  it('RemoveImage of an unknown image', async () => {
    assert.deepEqual(await d.client.image('RemoveImage', { image: { image: 'sha256:' + unknown } }), {});
  });
});
