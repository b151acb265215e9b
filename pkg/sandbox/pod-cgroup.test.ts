import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { v1Writes, v2Writes } from '../cgroups/index.js';
import type { ResourcesInput } from '../container/types.js';
import { podCgroupLimits } from './pod-cgroup.js';

const r = (over: Partial<ResourcesInput>): ResourcesInput => ({ hugepageLimits: [], unified: {}, ...over });

describe('pod cgroup limits', () => {
  it('nothing given: nothing to write', () => {
    assert.equal(podCgroupLimits(undefined, undefined), undefined);
  });

  it('the containers\' sum plus the overhead: shares, quota (scaled to the pod period), memory, hugepages', () => {
    const limits = podCgroupLimits(
      r({ cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitInBytes: 64 << 20, hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] }),
      r({ cpuShares: 102, cpuQuota: 5_000, cpuPeriod: 50_000, memoryLimitInBytes: 16 << 20, hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }] }),
    );
    assert.deepEqual(limits, {
      cpu: { shares: 614, quota: 60_000, period: 100_000 },
      memory: { limit: 80 << 20 },
      hugepageLimits: [{ pageSize: '2MB', limit: 6 << 20 }],
    });
    assert.deepEqual(v1Writes(limits!), [
      { controller: 'cpu', file: 'cpu.shares', value: '614' },
      { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
      { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '60000' },
      { controller: 'memory', file: 'memory.limit_in_bytes', value: String(80 << 20) },
      { controller: 'hugetlb', file: 'hugetlb.2MB.limit_in_bytes', value: String(6 << 20) },
    ]);
  });

  it('a limit the containers leave unset is lifted (-1 / max), whatever the overhead says', () => {
    const limits = podCgroupLimits(r({ cpuShares: 2 }), r({ memoryLimitInBytes: 1 << 20, cpuQuota: 1000, cpuPeriod: 100_000 }));
    assert.deepEqual(limits, { cpu: { shares: 2, quota: -1, period: 100_000 }, memory: { limit: -1 } });
    assert.deepEqual(v2Writes(limits!).map((w) => `${w.file}=${w.value}`), ['cpu.weight=1', 'cpu.max=max 100000', 'memory.max=max']);
  });

  it('overhead alone, cpuset and unified are carried over', () => {
    assert.deepEqual(podCgroupLimits(undefined, r({ cpuShares: 10 })), { cpu: { shares: 10, quota: -1 }, memory: { limit: -1 } });
    assert.deepEqual(podCgroupLimits(r({ cpusetCpus: '0-1', cpusetMems: '0', unified: { 'memory.high': '1G' } }), r({ unified: { 'memory.high': '2G', 'pids.max': '10' } })), {
      cpu: { quota: -1, cpus: '0-1', mems: '0' }, memory: { limit: -1 }, unified: { 'memory.high': '1G', 'pids.max': '10' },
    });
  });
});

describe('pod cgroup berth makes', () => {
  it('is removed from every hierarchy, the hybrid host\'s unified one too (runc makes its container cgroups there)', async () => {
    const { mkdir, rmdir, stat } = await import('node:fs/promises');
    const { cgroupMounts } = await import('../cgroups/index.js');
    const { claimPodCgroup, releasePodCgroup } = await import('./pod-cgroup.js');
    const parent = `/berth-test-podcg-${process.pid}`;
    const mounts = await cgroupMounts();
    assert.equal(await claimPodCgroup('cgroupfs', parent), 'berth');
    // What runc does for a container of the pod: its cgroup (with any missing parent) in every hierarchy, removed at delete.
    for (const m of mounts) await mkdir(`${m}${parent}/ctr`, { recursive: true });
    for (const m of mounts) await rmdir(`${m}${parent}/ctr`);
    await releasePodCgroup(parent);
    const left = [];
    for (const m of mounts) if (await stat(`${m}${parent}`).then(() => true, () => false)) left.push(m);
    for (const m of left) await rmdir(`${m}${parent}`);
    assert.deepEqual(left, []);
  });
});
