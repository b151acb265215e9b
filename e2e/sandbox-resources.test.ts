// Pod-level resources end to end (KEP-1287 in-place resize, KEP-2837): RunPodSandbox's
// linux.resources/overhead and UpdatePodSandboxResources reach the pod cgroup when berth made it,
// are only recorded when kubelet made it, are reported in verbose status and survive a restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { CGROUP_ROOT, cgroupDirsOf, ctrConfig, exists, podConfig, runCtr, startCtEnv, type CtEnv } from './container-fixtures.js';

const MiB = 1024 * 1024;
const cg = (controller: string, parent: string, file: string) => path.join('/sys/fs/cgroup', controller, parent, file);
const read = async (controller: string, parent: string, file: string) => (await readFile(cg(controller, parent, file), 'utf8')).trim();

describe('pod sandboxes: pod-level resources and UpdatePodSandboxResources', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  const podStatus = async (id: string) => {
    const r = await env.d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    return JSON.parse(r.info.info!) as { podResources: { overhead: Record<string, unknown> | null; resources: Record<string, unknown> | null; cgroup: { path: string; managedBy: string } } };
  };

  it('a cgroup parent that does not exist: berth makes it, writes resources + overhead, applies resizes, keeps them across a restart, removes it with the pod', async () => {
    const parent = `${CGROUP_ROOT}/berth-made-${process.pid}`;
    const config = podConfig(env, 'podres', {});
    config.linux = {
      ...config.linux, cgroup_parent: parent,
      resources: { cpu_shares: 512, cpu_quota: 50_000, cpu_period: 100_000, memory_limit_in_bytes: 64 * MiB },
      overhead: { cpu_shares: 10, memory_limit_in_bytes: 8 * MiB },
    };
    const { pod_sandbox_id: id } = await env.d.client.runtime('RunPodSandbox', { config });
    assert.equal(await read('memory', parent, 'memory.limit_in_bytes'), String(72 * MiB));
    assert.equal(await read('cpu', parent, 'cpu.cfs_quota_us'), '50000');
    assert.equal(await read('cpu', parent, 'cpu.shares'), '522');
    let st = await podStatus(id);
    assert.deepEqual(st.podResources.cgroup, { path: parent, managedBy: 'berth' });
    assert.equal(st.podResources.resources?.memoryLimitInBytes, 64 * MiB);

    // A container of the pod lives under the pod cgroup and sees its limit.
    const ctr = await runCtr(env, { id, config }, ctrConfig(env, 'inpod', { command: ['sleep', '1000'] }));
    assert.ok((await cgroupDirsOf(ctr)).some((d) => d.startsWith(cg('memory', parent, ''))), 'container cgroup under the pod cgroup');

    // An in-place resize: kubelet sends the new sum.
    await env.d.client.runtime('UpdatePodSandboxResources', {
      pod_sandbox_id: id, resources: { cpu_shares: 1024, cpu_quota: 150_000, cpu_period: 100_000, memory_limit_in_bytes: 128 * MiB },
    });
    assert.equal(await read('memory', parent, 'memory.limit_in_bytes'), String(136 * MiB), 'new resources plus the recorded overhead');
    assert.equal(await read('cpu', parent, 'cpu.cfs_quota_us'), '150000');
    assert.equal(await read('cpu', parent, 'cpu.shares'), '1034');
    // Dropping the memory limit lifts it.
    await env.d.client.runtime('UpdatePodSandboxResources', { pod_sandbox_id: id, resources: { cpu_shares: 1024, cpu_quota: 150_000, cpu_period: 100_000 } });
    assert.ok(Number(await read('memory', parent, 'memory.limit_in_bytes')) > 1 << 40, 'unlimited');

    await env.d.kill();
    await env.restart();
    st = await podStatus(id);
    assert.equal(st.podResources.resources?.cpuQuota, 150_000, 'recorded in the state database');
    assert.equal(st.podResources.overhead?.memoryLimitInBytes, 8 * MiB);
    assert.equal(st.podResources.cgroup.managedBy, 'berth');

    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await assert.rejects(env.d.client.runtime('UpdatePodSandboxResources', { pod_sandbox_id: id, resources: { cpu_shares: 2 } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.FAILED_PRECONDITION);
      assert.match(err.details, /not ready/);
      return true;
    });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    for (const c of ['memory', 'cpu', 'pids']) assert.equal(await exists(cg(c, parent, '')), false, `${c} pod cgroup removed`);
  });

  it('a cgroup kubelet made is left to kubelet: figures recorded and reported, files untouched, the cgroup kept', async () => {
    const parent = `${CGROUP_ROOT}/kubelet-made-${process.pid}`;
    for (const c of ['memory', 'cpu']) await mkdir(cg(c, parent, ''), { recursive: true });
    try {
      const before = await read('memory', parent, 'memory.limit_in_bytes');
      const config = podConfig(env, 'kubeletpod', {});
      config.linux = { ...config.linux, cgroup_parent: parent, resources: { memory_limit_in_bytes: 64 * MiB } };
      const { pod_sandbox_id: id } = await env.d.client.runtime('RunPodSandbox', { config });
      await env.d.client.runtime('UpdatePodSandboxResources', { pod_sandbox_id: id, resources: { memory_limit_in_bytes: 32 * MiB }, overhead: { cpu_shares: 5 } });
      assert.equal(await read('memory', parent, 'memory.limit_in_bytes'), before);
      const st = await podStatus(id);
      assert.equal(st.podResources.cgroup.managedBy, 'kubelet');
      assert.equal(st.podResources.resources?.memoryLimitInBytes, 32 * MiB);
      assert.equal(st.podResources.overhead?.cpuShares, 5);
      await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
      await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
      assert.equal(await exists(cg('memory', parent, '')), true, 'kubelet\'s cgroup stays');
    } finally {
      for (const c of ['memory', 'cpu']) await rmdir(cg(c, parent, '')).catch(() => undefined);
    }
  });

  it('an unknown pod is NOT_FOUND', async () => {
    await assert.rejects(env.d.client.runtime('UpdatePodSandboxResources', { pod_sandbox_id: 'f'.repeat(64), resources: { cpu_shares: 2 } }), (err: CriError) => {
      assert.equal(err.code, GrpcStatus.NOT_FOUND);
      return true;
    });
  });
});
