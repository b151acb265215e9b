import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerInfo } from '../container/types.js';
import type { SandboxInfo } from '../sandbox/types.js';
import { containerMetrics, DESCRIPTORS, podMetrics, type MetricContext, type MetricSample } from './cadvisor.js';
import type { CgroupStats } from './types.js';

const ctr = {
  id: 'c'.repeat(64), name: 'web', image: 'busybox', imageRef: 'docker.io/library/busybox@sha256:1',
  createdAt: 1_699_999_999_000_000_000n, startedAt: 1_700_000_000_500_000_000n,
  config: { resources: { cpuQuota: 50_000, cpuPeriod: 100_000, cpuShares: 512, memoryLimitInBytes: 1 << 30, hugepageLimits: [], unified: {} } },
} as unknown as ContainerInfo;
const sb = { id: 's'.repeat(64), name: 'pod', namespace: 'ns' } as SandboxInfo;
const ctx: MetricContext = { now: 1_700_000_100_000_000_000n, deviceName: (d) => (d === '254:0' ? '/dev/vda' : d) };

const cgroup: CgroupStats = {
  timestamp: 5n, cpu: { usageCoreNanoSeconds: 2_999_999_999n },
  memory: { usageBytes: 10n, workingSetBytes: 8n, rssBytes: 6n, pageFaults: 4n, majorPageFaults: 1n, limitBytes: 100n },
  processes: 3n,
  io: [{ device: '254:0', readBytes: 4096n, writeBytes: 8192n, readOps: 1n, writeOps: 2n }],
  extended: {
    cpuUserNs: 1_500_000_000n, cpuSystemNs: 1_000_000_000n, cfs: { periods: 40n, throttledPeriods: 7n, throttledNs: 3_200_000_000n },
    cacheBytes: 11n, mappedFileBytes: 12n, swapBytes: 13n, kernelBytes: 14n, failcnt: 15n, maxUsageBytes: 16n, oomKills: 1n, threadsMax: 0n,
    hugetlb: [{ pageSize: '2MB', usageBytes: 2097152n, maxUsageBytes: 4194304n, failcnt: 0n }],
  },
};
const network = {
  timestamp: 6n,
  interfaces: [{ name: 'eth0', rxBytes: 1n, rxPackets: 2n, rxErrors: 0n, rxDropped: 0n, txBytes: 3n, txPackets: 4n, txErrors: 0n, txDropped: 0n }],
};

const pick = (ss: MetricSample[], name: string, ...extra: string[]) => {
  const hits = ss.filter((s) => s.name === name && extra.every((e, i) => s.labelValues[6 + i] === e));
  assert.equal(hits.length, 1, `${name}{${extra}} once`);
  return hits[0]!;
};

describe('stats: cAdvisor metrics', () => {
  const byName = new Map(DESCRIPTORS.map((d) => [d.name, d]));
  const samples = [
    ...containerMetrics({
      container: ctr, cgroup,
      writableLayer: { timestamp: 4n, bytes: 4096n, inodes: 2n, mountpoint: '/var/lib/berth/containers', filesystem: { device: '/dev/vda', capacityBytes: 1n << 34n, inodes: 1000n, inodesFree: 900n } },
    }, sb, ctx),
    ...podMetrics({ sandbox: sb, containers: [], cgroup, network }, ctx),
  ];

  it('describes every sample it sends, with its kind and one label value per label key, no series twice', () => {
    const series = new Set<string>();
    for (const s of samples) {
      const d = byName.get(s.name);
      assert.ok(d, `${s.name} is described`);
      assert.equal(s.kind, d.kind, s.name);
      assert.equal(s.labelValues.length, d.labelKeys.length, s.name);
      const key = `${s.name}${JSON.stringify(s.labelValues)}`;
      assert.ok(!series.has(key), `${key} sent once`);
      series.add(key);
    }
    assert.deepEqual(DESCRIPTORS.filter((d) => !samples.some((s) => s.name === d.name)).map((d) => d.name), [],
      'every described metric is produced from a full set of stats');
  });

  it('uses cAdvisor names, labels and units', () => {
    assert.deepEqual(byName.get('container_cpu_usage_seconds_total')!.labelKeys, ['container', 'id', 'image', 'name', 'namespace', 'pod', 'cpu']);
    assert.deepEqual(byName.get('container_memory_failures_total')!.labelKeys.slice(6), ['failure_type', 'scope']);
    assert.equal(byName.get('container_memory_usage_bytes')!.help, 'Current memory usage in bytes, including all memory regardless of when it was accessed');
    assert.equal(byName.get('container_memory_failcnt')!.kind, 'COUNTER');
    const cpu = pick(samples.filter((s) => s.labelValues[0] === 'web'), 'container_cpu_usage_seconds_total', 'total');
    assert.equal(cpu.value, 2n, 'whole seconds (CRI values are integers)');
    assert.deepEqual(cpu.labelValues, ['web', ctr.id, ctr.imageRef, 'web', 'ns', 'pod', 'total']);
    const mine = samples.filter((s) => s.labelValues[0] === 'web');
    assert.equal(pick(mine, 'container_cpu_user_seconds_total').value, 1n);
    assert.equal(pick(mine, 'container_cpu_cfs_throttled_seconds_total').value, 3n);
    assert.equal(pick(mine, 'container_cpu_cfs_throttled_periods_total').value, 7n);
    assert.equal(pick(mine, 'container_memory_failures_total', 'pgmajfault', 'hierarchy').value, 1n);
    assert.equal(pick(mine, 'container_hugetlb_max_usage_bytes', '2MB').value, 4194304n);
    assert.equal(pick(mine, 'container_fs_reads_bytes_total', '/dev/vda').value, 4096n);
    assert.deepEqual(pick(mine, 'container_blkio_device_usage_total', '/dev/vda', '254', '0', 'Write').value, 8192n);
    assert.equal(pick(mine, 'container_fs_usage_bytes', '/dev/vda').value, 4096n);
    assert.equal(pick(mine, 'container_fs_inodes_free', '/dev/vda').value, 900n);
    assert.equal(pick(mine, 'container_start_time_seconds').value, 1_700_000_000n);
    assert.equal(pick(mine, 'container_creation_time_seconds').value, 1_699_999_999n);
    assert.equal(pick(mine, 'container_last_seen').value, 1_700_000_100n);
    assert.equal(pick(mine, 'container_spec_cpu_quota').value, 50_000n);
    assert.equal(pick(mine, 'container_spec_cpu_shares').value, 512n);
    assert.equal(pick(mine, 'container_spec_memory_limit_bytes').value, 1n << 30n);
    assert.equal(pick(mine, 'container_spec_memory_swap_limit_bytes').value, 0n, 'unlimited is 0, as in cAdvisor');
    assert.equal(pick(mine, 'container_oom_events_total').value, 1n);
  });

  it('labels the pod cgroup container "" and its network container "POD"', () => {
    const podTotals = samples.filter((s) => s.labelValues[0] === '');
    assert.deepEqual(pick(podTotals, 'container_memory_working_set_bytes').labelValues, ['', sb.id, '', '', 'ns', 'pod']);
    assert.ok(!podTotals.some((s) => s.name.startsWith('container_spec_')), 'no spec metrics for a pod cgroup');
    const rx = pick(samples, 'container_network_receive_bytes_total', 'eth0');
    assert.deepEqual(rx.labelValues, ['POD', sb.id, '', 'pod', 'ns', 'pod', 'eth0']);
    assert.equal(pick(samples, 'container_network_transmit_packets_total', 'eth0').value, 4n);
  });

  it('leaves out what was not measured: no cgroup, no quota, a summed pod cgroup', () => {
    assert.deepEqual(containerMetrics({ container: ctr }, sb, ctx), [], 'a container whose cgroup is gone is not seen');
    assert.deepEqual(podMetrics({ sandbox: sb, containers: [] }, ctx), []);
    assert.deepEqual(podMetrics({ sandbox: sb, containers: [], cgroup, summed: true }, ctx), [], 'no pod totals without a pod cgroup');
    const noQuota = { ...ctr, config: { resources: undefined } } as unknown as ContainerInfo;
    const ss = containerMetrics({ container: noQuota, cgroup: { timestamp: 1n, cpu: { usageCoreNanoSeconds: 0n } } }, sb, ctx);
    assert.ok(!ss.some((s) => s.name.startsWith('container_cpu_cfs') || s.name === 'container_spec_cpu_quota'));
    assert.equal(pick(ss, 'container_spec_cpu_period').value, 100_000n, 'the kernel default period');
    assert.ok(!ss.some((s) => s.name === 'container_spec_cpu_shares'), 'no shares configured, none reported');
  });
});
