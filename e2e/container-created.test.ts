// A CREATED container has no runtime container yet (conmon and `runtime create` run at
// StartContainer, as containerd creates its task at start). Every path such a container can
// take, against the real daemon, runc and conmon: a command that does not exist fails the start,
// exec and attach are refused, stats have no cgroup figures, resources updated before the start
// apply at the start, a daemon restart keeps it startable.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { cgroupDirsOf, ctrConfig, execText, runCtr, runPod, startCtEnv, status, type CtEnv } from './container-fixtures.js';
import { containerCgroup, memoryLimitFile } from './cgroup-fixtures.js';
import { listProcesses } from '../pkg/process/procs.js';
import { DEFAULT_CONFIG } from '../pkg/config/schema.js';

const code = (c: number) => (e: CriError) => {
  assert.equal(e.code, c, e.details);
  return true;
};

describe('containers: created, not yet started', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  /** conmon processes watching container `id`. */
  const conmonsOf = async (id: string) => (await listProcesses()).filter((p) => p.argv[0]?.endsWith('conmon') && p.argv.includes(id)).length;
  // runc and crun both keep a directory per container under their root (runc's state.json, crun's status).
  const runcKnows = async (id: string) => (await stat(`${env.d.state}/runtime/${DEFAULT_CONFIG.runtime.default_handler}/${id}`).then(() => true, () => false));

  it('CreateContainer makes no conmon, runtime container or cgroup; StartContainer does', async () => {
    const pod = await runPod(env, 'norun');
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }), false);
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_CREATED');
    assert.equal(await conmonsOf(id), 0);
    assert.equal(await runcKnows(id), false);
    assert.deepEqual(await cgroupDirsOf(id), []);
    await env.d.client.runtime('StartContainer', { container_id: id });
    assert.equal((await status(env, id)).state, 'CONTAINER_RUNNING');
    assert.equal(await conmonsOf(id), 1);
    assert.equal(await runcKnows(id), true);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a command that does not exist: CreateContainer succeeds, StartContainer fails with the runtime message; EXITED StartError, no conmon or runtime state; remove leaves nothing', async () => {
    const pod = await runPod(env, 'nocmd');
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['/no/such/binary'] }), false);
    await assert.rejects(env.d.client.runtime('StartContainer', { container_id: id }), (e: CriError) => {
      assert.equal(e.code, GrpcStatus.FAILED_PRECONDITION);
      assert.match(e.details, /\/no\/such\/binary.*no such file or directory/i);
      return true;
    });
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.reason, 'StartError');
    assert.equal(s.exit_code, 128);
    assert.match(s.message, /\/no\/such\/binary.*no such file or directory/i);
    assert.equal(await conmonsOf(id), 0);
    assert.equal(await runcKnows(id), false);
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    assert.deepEqual(await cgroupDirsOf(id), []);
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(id), 'rootfs unmounted');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('before the start: ExecSync and Attach are FAILED_PRECONDITION, stats have no cgroup figures, UpdateContainerResources applies at the start', async () => {
    const pod = await runPod(env, 'before');
    const id = await runCtr(env, pod, ctrConfig(env, 'c', {
      command: ['sleep', '1000'], linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024 } },
    }), false);
    await assert.rejects(env.d.client.runtime('ExecSync', { container_id: id, cmd: ['true'], timeout: 5 }), code(GrpcStatus.FAILED_PRECONDITION));
    await assert.rejects(env.d.client.runtime('Attach', { container_id: id, stdout: true }), code(GrpcStatus.FAILED_PRECONDITION));
    const st = (await env.d.client.runtime('ContainerStats', { container_id: id })).stats!;
    assert.equal(st.attributes?.id, id);
    assert.ok(!st.memory, 'no memory figures without a cgroup');
    assert.ok((await env.d.client.runtime('ListContainerStats', { filter: { pod_sandbox_id: pod.id } })).stats.some((x) => x.attributes?.id === id));
    await env.d.client.runtime('UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: 96 * 1024 * 1024, cpu_shares: 512 } });
    assert.equal((await status(env, id)).resources?.linux?.memory_limit_in_bytes, String(96 * 1024 * 1024));
    await env.d.client.runtime('StartContainer', { container_id: id });
    const cg = memoryLimitFile(containerCgroup(pod.config.linux!.cgroup_parent!, id));
    assert.equal((await readFile(cg, 'utf8')).trim(), String(96 * 1024 * 1024), 'the runtime made it with the updated limit');
    assert.equal((await execText(env, id, ['echo', 'ok'])).stdout.trim(), 'ok');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a daemon restart keeps a CREATED container startable; a pod with created containers stops and goes away whole', async () => {
    const pod = await runPod(env, 'restart');
    const a = await runCtr(env, pod, ctrConfig(env, 'a', { command: ['sleep', '1000'] }), false);
    const b = await runCtr(env, pod, ctrConfig(env, 'b', { command: ['sleep', '1000'] }), false);
    await env.d.kill();
    await env.restart();
    assert.equal((await status(env, a)).state, 'CONTAINER_CREATED');
    await env.d.client.runtime('StartContainer', { container_id: a });
    assert.equal((await status(env, a)).state, 'CONTAINER_RUNNING');
    assert.equal((await status(env, b)).state, 'CONTAINER_CREATED');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    assert.equal((await status(env, a)).state, 'CONTAINER_EXITED');
    assert.equal((await status(env, b)).state, 'CONTAINER_EXITED');
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    assert.deepEqual((await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers, []);
    assert.deepEqual([...await cgroupDirsOf(a), ...await cgroupDirsOf(b)], []);
    assert.equal(await conmonsOf(a), 0);
  });
});
