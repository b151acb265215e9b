// Failpoints (containerd's integration/failpoint is the model): a runtime wrapper and a CNI
// plugin that fail or hang at a named step, registered through berth's ordinary config. For
// each step of RunPodSandbox, StartContainer (the runtime's create and start), StopPodSandbox and
// RemovePodSandbox a failure leaves nothing behind and a retry succeeds; a hung step holds the
// retry (it gets the same object) and RemoveImage of a container's image.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { CGROUP_ROOT, ctrConfig, podConfig, runCtr, status, type CtEnv } from './container-fixtures.js';
import { startFailpointEnv, type FailpointControl, type FailpointEnv } from './fixtures/failpoints.js';
import { countLeaks, type Leaks, type LeakScope } from './leaks.js';

const code = (c: number) => (e: CriError) => {
  assert.equal(e.code, c, e.details);
  return true;
};

describe('failpoints: failures leave nothing behind, retries succeed', () => {
  let fp: FailpointEnv;
  let env: CtEnv;
  let rt: FailpointControl;
  let net: FailpointControl;
  let scope: LeakScope;
  let clean: Leaks;
  before(async () => {
    fp = await startFailpointEnv('fp');
    ({ env, rt, net, scope, clean } = fp);
  });
  after(() => fp.close());

  const run: FailpointEnv['run'] = (config, timeoutMs) => fp.run(config, timeoutMs);
  const removePod = (id: string) => fp.removePod(id);
  const pods = async (name: string) => (await env.d.client.runtime('ListPodSandbox', {})).items.filter((p) => p.metadata?.name === name);

  it('RunPodSandbox: CNI ADD fails (after bridge made its veth and IP) → nothing left; the retry succeeds', async () => {
    await net.fail('ADD');
    const cfg = podConfig(env, 'addfail');
    await assert.rejects(run(cfg), (e: CriError) => /failpoint: CNI ADD failed/.test(e.details));
    assert.deepEqual(await countLeaks(scope), clean);
    assert.deepEqual(await pods('addfail'), []);
    const pod = await run(cfg);
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RunPodSandbox: CNI ADD hangs past the client deadline → the retry joins it and gets the same sandbox', async () => {
    const hang = await net.hang('ADD');
    const cfg = podConfig(env, 'addhang');
    // The deadline may pass before ADD is reached (a slow host): expect it from the start.
    const first = assert.rejects(run(cfg, 1000), code(GrpcStatus.DEADLINE_EXCEEDED));
    await hang.reached;
    await first;
    const retry = run(cfg);
    await hang.release();
    const pod = await retry;
    assert.equal((await pods('addhang')).length, 1);
    assert.equal((await run(cfg)).id, pod.id, 'another retry after it finished');
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RunPodSandbox with a shared PID namespace: pause fails to start → no pause, cgroup or pin left; the retry succeeds', async () => {
    await rt.fail('run');
    const cfg = podConfig(env, 'pausefail', {
      linux: { cgroup_parent: `${CGROUP_ROOT}/pod-pausefail-${process.pid}`, security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
    });
    await assert.rejects(run(cfg), (e: CriError) => /failpoint: runtime run failed/.test(e.details));
    assert.deepEqual(await countLeaks(scope), clean);
    const pod = await run(cfg);
    assert.equal((await countLeaks(scope)).pauses, 1);
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RunPodSandbox: a step that fails at once while others still run (log directory under a file, beside pinns, shm, pod cgroup) → nothing left', async () => {
    const file = path.join(env.tmp, 'not-a-dir');
    await writeFile(file, '');
    const cfg = podConfig(env, 'logdirfail', {
      log_directory: path.join(file, 'logs'),
      linux: { cgroup_parent: `${CGROUP_ROOT}/pod-logdirfail-${process.pid}`, security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
    });
    await assert.rejects(run(cfg), (e: CriError) => e.code === GrpcStatus.INVALID_ARGUMENT && /config\.log_directory/.test(e.details));
    // The retry, with a log directory that can be made, runs every step to its end meanwhile.
    const pod = await run({ ...cfg, log_directory: path.join(env.tmp, 'logs', 'logdirfail') });
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('StartContainer: the runtime create fails → EXITED with StartError and its message, no conmon, runtime container or cgroup left; the next attempt runs', async () => {
    const pod = await run(podConfig(env, 'createfail'));
    const withPod = await countLeaks(scope);
    // CreateContainer does not run the runtime: the failpoint is reached at StartContainer.
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }), false);
    const made = await countLeaks(scope);
    assert.deepEqual([made.conmons, made.runtimeContainers], [withPod.conmons, withPod.runtimeContainers], 'no conmon or runtime container at CreateContainer');
    await rt.fail('create');
    await assert.rejects(env.d.client.runtime('StartContainer', { container_id: id }), (e: CriError) => {
      assert.equal(e.code, GrpcStatus.FAILED_PRECONDITION);
      assert.match(e.details, /failpoint: runtime create failed/);
      return true;
    });
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.reason, 'StartError');
    assert.equal(s.exit_code, 128);
    assert.match(s.message, /failpoint: runtime create failed/);
    const leaks = await countLeaks(scope);
    assert.deepEqual({ ...leaks, bundles: withPod.bundles, layers: withPod.layers, mounts: withPod.mounts }, withPod, 'only the bundle, layer and rootfs mount remain');
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    assert.deepEqual(await countLeaks(scope), withPod);
    const next = await runCtr(env, pod, ctrConfig(env, 'c', { metadata: { name: 'c', attempt: 1 }, command: ['sleep', '1000'] }));
    assert.equal((await status(env, next)).state, 'CONTAINER_RUNNING');
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('StartContainer: the runtime create hangs past the client deadline → the image stays in use; a StopContainer waits for the start and then stops it', async () => {
    const pod = await run(podConfig(env, 'createhang'));
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }), false);
    const hang = await rt.hang('create');
    const first = assert.rejects(env.d.client.runtime('StartContainer', { container_id: id }, { timeoutMs: 1000 }), code(GrpcStatus.DEADLINE_EXCEEDED));
    await hang.reached;
    await assert.rejects(env.d.client.image('RemoveImage', { image: { image: env.image } }), code(GrpcStatus.FAILED_PRECONDITION));
    await first;
    assert.equal((await status(env, id)).state, 'CONTAINER_CREATED');
    const stopping = env.d.client.runtime('StopContainer', { container_id: id, timeout: 1 });
    await hang.release();
    await stopping;
    assert.equal((await status(env, id)).state, 'CONTAINER_EXITED');
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('StartContainer: the runtime start fails → EXITED with reason StartError and the runtime message; the next attempt runs', async () => {
    const pod = await run(podConfig(env, 'startfail'));
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }), false);
    await rt.fail('start');
    await assert.rejects(env.d.client.runtime('StartContainer', { container_id: id }), code(GrpcStatus.FAILED_PRECONDITION));
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.reason, 'StartError');
    assert.match(s.message, /failpoint: runtime start failed/);
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    const next = await runCtr(env, pod, ctrConfig(env, 'c', { metadata: { name: 'c', attempt: 1 }, command: ['sleep', '1000'] }));
    assert.equal((await status(env, next)).state, 'CONTAINER_RUNNING');
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('StopPodSandbox: CNI DEL fails → an error, and the retry stops it; runtime kill fails → the stop still kills the containers', async () => {
    const pod = await run(podConfig(env, 'stopfail'));
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }));
    await net.fail('DEL');
    await rt.fail('kill');
    await assert.rejects(env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id }), (e: CriError) => /failpoint: CNI DEL failed/.test(e.details));
    assert.equal((await status(env, id)).state, 'CONTAINER_EXITED', 'the container was stopped although kill failed');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    const p = (await env.d.client.runtime('PodSandboxStatus', { pod_sandbox_id: pod.id })).status!;
    assert.equal(p.state, 'SANDBOX_NOTREADY');
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RemovePodSandbox: the runtime delete fails → an error naming it; the retry removes everything', async () => {
    const pod = await run(podConfig(env, 'deletefail'));
    await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }));
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    // The exit path deletes in the background; arm the failpoint for RemoveContainer's own delete.
    await rt.fail('delete');
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id }).catch((e: CriError) => assert.match(e.details, /failpoint: runtime delete failed/));
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    assert.deepEqual(await pods('deletefail'), []);
    await rt.clear();
    assert.deepEqual(await countLeaks(scope), clean);
  });
});
