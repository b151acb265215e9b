// cAdvisor's metrics (names, labels, values) computed from our stats for ListPodSandboxMetrics,
// which kubelet's PodAndContainerStatsFromCRI serves on /metrics/cadvisor. As in cAdvisor, a
// container is seen while its cgroup exists; the pod's own cgroup is reported with an empty
// `container` label and its network namespace as container "POD". CRI metric values are uint64,
// so second counters are whole seconds (as CRI-O sends them).
import { DESCRIPTOR, type MetricKind } from './cadvisor-descriptors.js';
import type { ContainerStatsResult, PodStatsResult } from './service.js';
import type { CgroupStats } from './types.js';

export { DESCRIPTORS, type MetricDescriptorDef, type MetricKind } from './cadvisor-descriptors.js';

export interface MetricSample {
  name: string;
  kind: MetricKind;
  timestamp: bigint;
  labelValues: string[];
  value: bigint;
}

export interface MetricContext {
  /** Now, ns since the epoch (container_last_seen). */
  now: bigint;
  /** "/dev/vda" for "254:0", as cAdvisor labels block devices. */
  deviceName(majorMinor: string): string;
}

const NS = 1_000_000_000n;
/** The kernel's CFS period when none is set (cpu.cfs_period_us, cpu.max). */
const DEFAULT_CFS_PERIOD_US = 100_000n;

type Add = (name: string, value: bigint | undefined, ts: bigint, extra?: string[]) => void;

function emitter(out: MetricSample[], labels: string[]): Add {
  return (name, value, ts, extra = []) => {
    if (value === undefined) return;
    const d = DESCRIPTOR.get(name);
    if (!d) throw new Error(`cadvisor metrics: ${name} has no descriptor`);
    out.push({ name, kind: d.kind, timestamp: ts, labelValues: extra.length ? [...labels, ...extra] : labels, value });
  };
}

/** Everything a cgroup read gives: CPU, memory, hugetlb, OOM, tasks, block I/O. */
function cgroupSamples(add: Add, s: CgroupStats, ctx: MetricContext, throttled: boolean): void {
  const ts = s.timestamp;
  const x = s.extended;
  add('container_last_seen', ctx.now / NS, ctx.now);
  if (s.cpu) add('container_cpu_usage_seconds_total', s.cpu.usageCoreNanoSeconds / NS, ts, ['total']);
  add('container_cpu_user_seconds_total', x?.cpuUserNs !== undefined ? x.cpuUserNs / NS : undefined, ts);
  add('container_cpu_system_seconds_total', x?.cpuSystemNs !== undefined ? x.cpuSystemNs / NS : undefined, ts);
  // cAdvisor reports CFS counters only for a cgroup with a quota.
  if (x?.cfs && throttled) {
    add('container_cpu_cfs_periods_total', x.cfs.periods, ts);
    add('container_cpu_cfs_throttled_periods_total', x.cfs.throttledPeriods, ts);
    add('container_cpu_cfs_throttled_seconds_total', x.cfs.throttledNs / NS, ts);
  }
  const m = s.memory;
  if (m) {
    add('container_memory_usage_bytes', m.usageBytes, ts);
    add('container_memory_working_set_bytes', m.workingSetBytes, ts);
    add('container_memory_rss', m.rssBytes, ts);
    // cAdvisor repeats the cgroup's own fault counters for both scopes.
    for (const scope of ['container', 'hierarchy']) {
      add('container_memory_failures_total', m.pageFaults, ts, ['pgfault', scope]);
      add('container_memory_failures_total', m.majorPageFaults, ts, ['pgmajfault', scope]);
    }
  }
  if (x) {
    add('container_memory_cache', x.cacheBytes, ts);
    add('container_memory_mapped_file', x.mappedFileBytes, ts);
    add('container_memory_swap', x.swapBytes, ts);
    add('container_memory_kernel_usage', x.kernelBytes, ts);
    add('container_memory_failcnt', x.failcnt, ts);
    add('container_memory_max_usage_bytes', x.maxUsageBytes, ts);
    add('container_oom_events_total', x.oomKills, ts);
    add('container_threads_max', x.threadsMax, ts);
    for (const h of x.hugetlb) {
      add('container_hugetlb_usage_bytes', h.usageBytes, ts, [h.pageSize]);
      add('container_hugetlb_max_usage_bytes', h.maxUsageBytes, ts, [h.pageSize]);
      add('container_hugetlb_failcnt', h.failcnt, ts, [h.pageSize]);
    }
  }
  add('container_processes', s.processes, ts);
  add('container_threads', s.processes, ts);
  for (const io of s.io ?? []) {
    const dev = ctx.deviceName(io.device);
    const [major = '', minor = ''] = io.device.split(':');
    add('container_fs_reads_bytes_total', io.readBytes, ts, [dev]);
    add('container_fs_reads_total', io.readOps, ts, [dev]);
    add('container_fs_writes_bytes_total', io.writeBytes, ts, [dev]);
    add('container_fs_writes_total', io.writeOps, ts, [dev]);
    add('container_blkio_device_usage_total', io.readBytes, ts, [dev, major, minor, 'Read']);
    add('container_blkio_device_usage_total', io.writeBytes, ts, [dev, major, minor, 'Write']);
  }
}

const big = (n: number | undefined) => (n === undefined ? undefined : BigInt(Math.trunc(n)));

/** Metrics of one container whose cgroup exists; none for one that is created or gone. */
export function containerMetrics(c: ContainerStatsResult, pod: { name: string; namespace: string }, ctx: MetricContext): MetricSample[] {
  const s = c.cgroup;
  if (!s) return [];
  const out: MetricSample[] = [];
  const ci = c.container;
  const add = emitter(out, [ci.name, ci.id, ci.imageRef || ci.image, ci.name, pod.namespace, pod.name]);
  const r = ci.config.resources;
  cgroupSamples(add, s, ctx, (r?.cpuQuota ?? 0) > 0);
  const w = c.writableLayer;
  if (w) {
    const dev = w.filesystem?.device ?? '';
    add('container_fs_usage_bytes', w.bytes, w.timestamp, [dev]);
    if (w.filesystem) {
      add('container_fs_limit_bytes', w.filesystem.capacityBytes, w.timestamp, [dev]);
      add('container_fs_inodes_total', w.filesystem.inodes, w.timestamp, [dev]);
      add('container_fs_inodes_free', w.filesystem.inodesFree, w.timestamp, [dev]);
    }
  }
  add('container_creation_time_seconds', ci.createdAt / NS, s.timestamp);
  add('container_start_time_seconds', (ci.startedAt > 0n ? ci.startedAt : ci.createdAt) / NS, s.timestamp);
  // The limits the container was given; unlimited is 0, as cAdvisor reports it.
  add('container_spec_cpu_period', big(r?.cpuPeriod) ?? DEFAULT_CFS_PERIOD_US, s.timestamp);
  if ((r?.cpuQuota ?? 0) > 0) add('container_spec_cpu_quota', big(r?.cpuQuota), s.timestamp);
  add('container_spec_cpu_shares', big(r?.cpuShares), s.timestamp);
  add('container_spec_memory_limit_bytes', big(r?.memoryLimitInBytes) ?? 0n, s.timestamp);
  add('container_spec_memory_swap_limit_bytes', big(r?.memorySwapLimitInBytes) ?? 0n, s.timestamp);
  const min = r?.unified['memory.min'];
  add('container_spec_memory_reservation_limit_bytes', min && /^\d+$/.test(min) ? BigInt(min) : 0n, s.timestamp);
  return out;
}

/**
 * Pod-level metrics: the totals of the pod's own cgroup (container ""; none when the pod shares
 * its cgroup parent) and network counters per interface (container "POD").
 */
export function podMetrics(p: PodStatsResult, ctx: MetricContext): MetricSample[] {
  const out: MetricSample[] = [];
  const sb = p.sandbox;
  if (p.cgroup && !p.summed) {
    const cfs = p.cgroup.extended?.cfs;
    cgroupSamples(emitter(out, ['', sb.id, '', '', sb.namespace, sb.name]), p.cgroup, ctx, !!cfs && cfs.periods > 0n);
  }
  const n = p.network;
  if (!n) return out;
  for (const i of n.interfaces) {
    const add = emitter(out, ['POD', sb.id, '', sb.name, sb.namespace, sb.name]);
    const ts = n.timestamp;
    add('container_network_receive_bytes_total', i.rxBytes, ts, [i.name]);
    add('container_network_transmit_bytes_total', i.txBytes, ts, [i.name]);
    add('container_network_receive_packets_total', i.rxPackets, ts, [i.name]);
    add('container_network_transmit_packets_total', i.txPackets, ts, [i.name]);
    add('container_network_receive_errors_total', i.rxErrors, ts, [i.name]);
    add('container_network_transmit_errors_total', i.txErrors, ts, [i.name]);
    add('container_network_receive_packets_dropped_total', i.rxDropped, ts, [i.name]);
    add('container_network_transmit_packets_dropped_total', i.txDropped, ts, [i.name]);
  }
  return out;
}
