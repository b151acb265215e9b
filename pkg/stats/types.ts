// Plain stats types of pkg/stats. Counters are bigint: CPU nanoseconds and byte counters pass
// 2^53 on long-lived nodes, and the CRI carries them as uint64 anyway.

/** One line of a pressure (PSI) file: the share of time tasks stalled, averaged over 10/60/300 s. */
export interface PsiData {
  /** Total stall time in microseconds. */
  total: bigint;
  avg10: number;
  avg60: number;
  avg300: number;
}

/** cpu.pressure, memory.pressure or io.pressure (cgroup v2): some task stalled / all tasks stalled. */
export interface PsiStats {
  some?: PsiData;
  full?: PsiData;
}

export interface CpuStats {
  /** Cumulative CPU time of every task in the cgroup, in nanoseconds. */
  usageCoreNanoSeconds: bigint;
  /** CPU rate since the previous sample of the same cgroup, in nano-cores (1e9 = one core); absent on the first sample. */
  usageNanoCores?: bigint;
  psi?: PsiStats;
}

export interface MemoryStats {
  usageBytes: bigint;
  /** usage − inactive file cache: what the kernel cannot reclaim easily; kubelet evicts on it. */
  workingSetBytes: bigint;
  rssBytes: bigint;
  pageFaults: bigint;
  majorPageFaults: bigint;
  /** The memory limit, when one is set. */
  limitBytes?: bigint;
  /** limit − working set, when a limit is set. */
  availableBytes?: bigint;
  psi?: PsiStats;
}

export interface SwapStats {
  usageBytes: bigint;
  /** swap limit − usage, when a swap limit is set. */
  availableBytes?: bigint;
}

export interface IoDeviceStats {
  device: string;
  readBytes: bigint;
  writeBytes: bigint;
  readOps: bigint;
  writeOps: bigint;
}

export interface HugetlbStats {
  /** As runc names it: "2MB", "1GB". */
  pageSize: string;
  usageBytes: bigint;
  /** v1 only (max_usage_in_bytes). */
  maxUsageBytes?: bigint;
  failcnt: bigint;
}

/** Counters only the cAdvisor metrics use (ReadOptions.extended). */
export interface ExtendedStats {
  cpuUserNs?: bigint;
  cpuSystemNs?: bigint;
  /** CFS bandwidth: enforcement periods, throttled periods, throttled time. */
  cfs?: { periods: bigint; throttledPeriods: bigint; throttledNs: bigint };
  cacheBytes?: bigint;
  mappedFileBytes?: bigint;
  swapBytes?: bigint;
  kernelBytes?: bigint;
  /** Times usage hit the limit. */
  failcnt?: bigint;
  /** Peak usage (v1 max_usage_in_bytes, v2 memory.peak). */
  maxUsageBytes?: bigint;
  /** OOM kills inside the cgroup. */
  oomKills?: bigint;
  /** pids.max; 0 when unlimited. */
  threadsMax?: bigint;
  hugetlb: HugetlbStats[];
}

export interface CgroupStats {
  /** Wall-clock time of the read, nanoseconds since the epoch. */
  timestamp: bigint;
  cpu?: CpuStats;
  memory?: MemoryStats;
  /** Number of tasks (pids.current). */
  processes?: bigint;
  io?: IoDeviceStats[];
  /** io.pressure (cgroup v2). */
  ioPsi?: PsiStats;
  swap?: SwapStats;
  extended?: ExtendedStats;
}

export interface NetInterfaceStats {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

export interface NetworkStats {
  timestamp: bigint;
  interfaces: NetInterfaceStats[];
}

export interface DiskUsage {
  /** When the walk that produced these numbers ended, ns since the epoch. */
  timestamp: bigint;
  bytes: bigint;
  inodes: bigint;
}

export interface ReadOptions {
  /** Also read block I/O counters (two more files on v1, one on v2). */
  io?: boolean;
  /** Also read the counters of ExtendedStats (metrics only). */
  extended?: boolean;
}

/** Reads the stats of one cgroup by its path relative to the hierarchy root ("/berth/pod1/ctr"). */
export interface CgroupReader {
  readonly version: 1 | 2;
  /** Undefined when the cgroup does not exist (not started yet, or already removed). */
  read(cgroupPath: string, opts?: ReadOptions): Promise<CgroupStats | undefined>;
  /** PIDs of every process in the cgroup and its descendants (for finding a process in a pod's netns). */
  pids(cgroupPath: string, limit?: number): Promise<number[]>;
  /** Files kept open for re-reading; `forget(id)` closes those of a removed container, `forgetCgroup` those of one cgroup. */
  readonly files?: { forget(part: string): void; forgetCgroup(cg: string): void; close(): void };
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
