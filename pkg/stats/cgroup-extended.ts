// The cgroup counters only cAdvisor-style metrics need (ListPodSandboxMetrics): CPU user/system
// split, CFS throttling, page cache, mapped files, swap, failcnt, peak usage, OOM kills, hugetlb
// and the task limit. Read only when asked (ReadOptions.extended), so the stats calls kubelet
// makes every few seconds keep their four files. Parsers are pure and tested on recorded text.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readOpt } from './fsread.js';
import { parseFlatKeyed, parseSingle } from './parse.js';
import type { ExtendedStats } from './types.js';

/** USER_HZ: cpuacct.stat counts in clock ticks, which the kernel fixes at 100 per second for userspace. */
const USER_HZ = 100n;
const NS_PER_TICK = 1_000_000_000n / USER_HZ;

type Read = (file: string) => Promise<string | undefined>;

/** Directories of one cgroup in each v1 hierarchy (absent when the controller is not mounted). */
export interface V1Dirs {
  cpu?: string;
  cpuacct?: string;
  memory?: string;
  pids?: string;
  hugetlb?: string;
}

/** cgroup v1: `memStat` is the memory.stat text the main read already has. */
export async function readExtendedV1(dirs: V1Dirs, memStat: string | undefined, read: Read = readOpt): Promise<ExtendedStats> {
  const at = (dir: string | undefined, name: string) => (dir ? read(path.join(dir, name)) : Promise.resolve(undefined));
  const sizes = dirs.hugetlb ? await hugePageSizes() : [];
  const [cpuacctStat, cpuStat, failcnt, maxUsage, kmem, oomControl, pidsMax, ...huge] = await Promise.all([
    at(dirs.cpuacct, 'cpuacct.stat'), at(dirs.cpu, 'cpu.stat'), at(dirs.memory, 'memory.failcnt'),
    at(dirs.memory, 'memory.max_usage_in_bytes'), at(dirs.memory, 'memory.kmem.usage_in_bytes'),
    at(dirs.memory, 'memory.oom_control'), at(dirs.pids, 'pids.max'),
    ...sizes.flatMap((ps) => ['usage_in_bytes', 'max_usage_in_bytes', 'failcnt'].map((f) => at(dirs.hugetlb, `hugetlb.${ps}.${f}`))),
  ]);
  const out: ExtendedStats = { hugetlb: [] };
  Object.assign(out, parseCpuacctStat(cpuacctStat), parseCfsV1(cpuStat), memoryExtrasV1(memStat));
  const num = (t: string | undefined) => (t === undefined ? undefined : parseSingle(t));
  setDefined(out, 'failcnt', num(failcnt));
  setDefined(out, 'maxUsageBytes', num(maxUsage));
  setDefined(out, 'kernelBytes', num(kmem));
  if (oomControl !== undefined) setDefined(out, 'oomKills', parseFlatKeyed(oomControl).get('oom_kill'));
  setDefined(out, 'threadsMax', pidsMax === undefined ? undefined : (parseSingle(pidsMax) ?? 0n));
  sizes.forEach((pageSize, i) => {
    const [usage, max, fail] = huge.slice(i * 3, i * 3 + 3).map(num);
    if (usage !== undefined) out.hugetlb.push({ pageSize, usageBytes: usage, maxUsageBytes: max, failcnt: fail ?? 0n });
  });
  return out;
}

/** cgroup v2: `cpuStat` and `memStat` are the texts the main read already has. */
export async function readExtendedV2(dir: string, cpuStat: string | undefined, memStat: string | undefined, read: Read = readOpt): Promise<ExtendedStats> {
  const at = (name: string) => read(path.join(dir, name));
  const sizes = await hugePageSizes();
  const [swap, events, peak, pidsMax, ...huge] = await Promise.all([
    at('memory.swap.current'), at('memory.events'), at('memory.peak'), at('pids.max'),
    ...sizes.flatMap((ps) => [at(`hugetlb.${ps}.current`), at(`hugetlb.${ps}.events`)]),
  ]);
  const out: ExtendedStats = { hugetlb: [] };
  Object.assign(out, parseCpuStatV2(cpuStat), memoryExtrasV2(memStat));
  const num = (t: string | undefined) => (t === undefined ? undefined : parseSingle(t));
  setDefined(out, 'swapBytes', num(swap));
  setDefined(out, 'maxUsageBytes', num(peak));
  if (events !== undefined) {
    const ev = parseFlatKeyed(events);
    // cAdvisor's v2 failcnt is the count of hits of memory.max.
    setDefined(out, 'failcnt', ev.get('max'));
    setDefined(out, 'oomKills', ev.get('oom_kill'));
  }
  // "max" (no limit) reads as 0, which cAdvisor documents as "infinity".
  setDefined(out, 'threadsMax', pidsMax === undefined ? undefined : (parseSingle(pidsMax) ?? 0n));
  sizes.forEach((pageSize, i) => {
    const usage = num(huge[i * 2]);
    const ev = huge[i * 2 + 1];
    if (usage !== undefined) out.hugetlb.push({ pageSize, usageBytes: usage, failcnt: ev ? (parseFlatKeyed(ev).get('max') ?? 0n) : 0n });
  });
  return out;
}

function setDefined<K extends keyof ExtendedStats>(o: ExtendedStats, k: K, v: ExtendedStats[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}

/** cpuacct.stat: "user <ticks>\nsystem <ticks>". */
export function parseCpuacctStat(text: string | undefined): Pick<ExtendedStats, 'cpuUserNs' | 'cpuSystemNs'> {
  if (text === undefined) return {};
  const m = parseFlatKeyed(text);
  const out: Pick<ExtendedStats, 'cpuUserNs' | 'cpuSystemNs'> = {};
  const user = m.get('user');
  const system = m.get('system');
  if (user !== undefined) out.cpuUserNs = user * NS_PER_TICK;
  if (system !== undefined) out.cpuSystemNs = system * NS_PER_TICK;
  return out;
}

/** v1 cpu.stat: nr_periods, nr_throttled, throttled_time (ns). */
export function parseCfsV1(text: string | undefined): Pick<ExtendedStats, 'cfs'> {
  if (text === undefined) return {};
  const m = parseFlatKeyed(text);
  const periods = m.get('nr_periods');
  if (periods === undefined) return {};
  return { cfs: { periods, throttledPeriods: m.get('nr_throttled') ?? 0n, throttledNs: m.get('throttled_time') ?? 0n } };
}

/** v2 cpu.stat: user_usec, system_usec and, with the cpu controller on, the CFS counters. */
export function parseCpuStatV2(text: string | undefined): Pick<ExtendedStats, 'cpuUserNs' | 'cpuSystemNs' | 'cfs'> {
  if (text === undefined) return {};
  const m = parseFlatKeyed(text);
  const out: Pick<ExtendedStats, 'cpuUserNs' | 'cpuSystemNs' | 'cfs'> = {};
  const user = m.get('user_usec');
  const system = m.get('system_usec');
  if (user !== undefined) out.cpuUserNs = user * 1000n;
  if (system !== undefined) out.cpuSystemNs = system * 1000n;
  const periods = m.get('nr_periods');
  if (periods !== undefined) {
    out.cfs = { periods, throttledPeriods: m.get('nr_throttled') ?? 0n, throttledNs: (m.get('throttled_usec') ?? 0n) * 1000n };
  }
  return out;
}

type MemoryExtras = Pick<ExtendedStats, 'cacheBytes' | 'mappedFileBytes' | 'swapBytes' | 'kernelBytes'>;

/** v1 memory.stat, hierarchical totals as cAdvisor reads them (swap only with swap accounting). */
export function memoryExtrasV1(text: string | undefined): MemoryExtras {
  if (text === undefined) return {};
  const st = parseFlatKeyed(text);
  const out: MemoryExtras = { cacheBytes: st.get('total_cache') ?? st.get('cache') ?? 0n, mappedFileBytes: st.get('total_mapped_file') ?? st.get('mapped_file') ?? 0n };
  const swap = st.get('total_swap') ?? st.get('swap');
  if (swap !== undefined) out.swapBytes = swap;
  return out;
}

/** v2 memory.stat: page cache is `file`, mapped files `file_mapped`, kernel memory `kernel` (5.18+). */
export function memoryExtrasV2(text: string | undefined): MemoryExtras {
  if (text === undefined) return {};
  const st = parseFlatKeyed(text);
  const out: MemoryExtras = { cacheBytes: st.get('file') ?? 0n, mappedFileBytes: st.get('file_mapped') ?? 0n };
  const kernel = st.get('kernel');
  if (kernel !== undefined) out.kernelBytes = kernel;
  return out;
}

/** "hugepages-2048kB" → "2MB", as runc and cAdvisor name hugetlb page sizes. */
export function hugePageSizeName(dirName: string): string | undefined {
  const m = /^hugepages-(\d+)kB$/.exec(dirName);
  if (!m) return undefined;
  let size = Number(m[1]);
  const units = ['KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (size >= 1024 && u < units.length - 1) {
    size /= 1024;
    u++;
  }
  return `${size}${units[u]}`;
}

let sizesCache: Promise<string[]> | undefined;

/** The host's huge page sizes, read once (they are fixed at boot). */
export function hugePageSizes(dir = '/sys/kernel/mm/hugepages'): Promise<string[]> {
  const load = () => readdir(dir).then((names) => names.map(hugePageSizeName).filter((s): s is string => !!s).sort(), () => []);
  if (dir !== '/sys/kernel/mm/hugepages') return load();
  return (sizesCache ??= load());
}
