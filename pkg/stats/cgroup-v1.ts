// cgroup v1 reader: cpuacct, memory, pids and blkio hierarchies mounted separately. Every file
// of one read is fetched in parallel; no child processes.
import path from 'node:path';
import { cgroupDir, type CgroupLayout, type CgroupMount } from '../cgroups/index.js';
import { readExtendedV1, type V1Dirs } from './cgroup-extended.js';
import { cgroupPids, OpenFiles } from './fsread.js';
import { NO_LIMIT_THRESHOLD, parseBlkioV1, parseFlatKeyed, parseSingle } from './parse.js';
import { nowNs, type CgroupReader, type CgroupStats, type MemoryStats, type ReadOptions, type SwapStats } from './types.js';

type V1Controllers = Extract<CgroupLayout, { version: 1 }>['controllers'];

export class CgroupV1Reader implements CgroupReader {
  readonly version = 1 as const;
  constructor(private readonly controllers: V1Controllers, readonly files = new OpenFiles()) {}

  private file(ctl: CgroupMount | undefined, cg: string, name: string): string | undefined {
    return ctl ? path.join(cgroupDir(ctl, cg), name) : undefined;
  }

  async read(cg: string, opts: ReadOptions = {}): Promise<CgroupStats | undefined> {
    const c = this.controllers;
    const cpuacct = c.cpuacct ?? c.cpu;
    // Four files: the limit comes from memory.stat (hierarchical_memory_limit, the effective
    // one), and block I/O only when asked, since every read is a thread-pool round trip.
    const readOpt = (f: string | undefined) => this.files.read(f);
    const [cpuUsage, memUsage, memStat, pids, blkBytes, blkOps] = await Promise.all([
      readOpt(this.file(cpuacct, cg, 'cpuacct.usage')),
      readOpt(this.file(c.memory, cg, 'memory.usage_in_bytes')),
      readOpt(this.file(c.memory, cg, 'memory.stat')),
      readOpt(this.file(c.pids, cg, 'pids.current')),
      opts.io ? readOpt(this.file(c.blkio, cg, 'blkio.throttle.io_service_bytes_recursive')) : undefined,
      opts.io ? readOpt(this.file(c.blkio, cg, 'blkio.throttle.io_serviced_recursive')) : undefined,
    ]);
    if (cpuUsage === undefined && memUsage === undefined && pids === undefined) return undefined;
    const out: CgroupStats = { timestamp: nowNs() };
    const usage = cpuUsage !== undefined ? parseSingle(cpuUsage) : undefined;
    if (usage !== undefined) out.cpu = { usageCoreNanoSeconds: usage };
    if (memUsage !== undefined && memStat !== undefined) {
      out.memory = v1Memory(memUsage, memStat);
      const swap = v1Swap(memStat);
      if (swap) out.swap = swap;
    }
    const p = pids !== undefined ? parseSingle(pids) : undefined;
    if (p !== undefined) out.processes = p;
    if (blkBytes !== undefined) out.io = parseBlkioV1(blkBytes, blkOps ?? '');
    if (opts.extended) out.extended = await readExtendedV1(this.dirs(cg), memStat);
    return out;
  }

  private dirs(cg: string): V1Dirs {
    const c = this.controllers;
    const dir = (m: CgroupMount | undefined) => (m ? cgroupDir(m, cg) : undefined);
    return { cpu: dir(c.cpu), cpuacct: dir(c.cpuacct ?? c.cpu), memory: dir(c.memory), pids: dir(c.pids), hugetlb: dir(c.hugetlb) };
  }

  pids(cg: string, limit?: number): Promise<number[]> {
    const c = this.controllers;
    const ctl = c.pids ?? c.memory ?? c.cpuacct;
    return ctl ? cgroupPids(cgroupDir(ctl, cg), limit) : Promise.resolve([]);
  }
}

/**
 * Memory the way cAdvisor computes it on v1: the hierarchical `total_*` counters of memory.stat
 * (so a pod cgroup includes its containers), working set = usage − total_inactive_file.
 */
export function v1Memory(usageText: string, statText: string, limitText?: string): MemoryStats {
  const usage = parseSingle(usageText) ?? 0n;
  const st = parseFlatKeyed(statText);
  const inactive = st.get('total_inactive_file') ?? st.get('inactive_file') ?? 0n;
  const workingSet = inactive < usage ? usage - inactive : 0n;
  const m: MemoryStats = {
    usageBytes: usage,
    workingSetBytes: workingSet,
    rssBytes: st.get('total_rss') ?? st.get('rss') ?? 0n,
    pageFaults: st.get('total_pgfault') ?? st.get('pgfault') ?? 0n,
    majorPageFaults: st.get('total_pgmajfault') ?? st.get('pgmajfault') ?? 0n,
  };
  const limit = limitText !== undefined ? parseSingle(limitText) : st.get('hierarchical_memory_limit');
  if (limit !== undefined && limit < NO_LIMIT_THRESHOLD) {
    m.limitBytes = limit;
    m.availableBytes = limit > workingSet ? limit - workingSet : 0n;
  }
  return m;
}

/**
 * Swap on v1, from memory.stat alone: `total_swap` exists only with swap accounting on
 * (swapaccount=1); the swap limit is the memory+swap limit minus the memory limit.
 */
export function v1Swap(statText: string): SwapStats | undefined {
  const st = parseFlatKeyed(statText);
  const usage = st.get('total_swap') ?? st.get('swap');
  if (usage === undefined) return undefined;
  const mem = st.get('hierarchical_memory_limit');
  const memsw = st.get('hierarchical_memsw_limit');
  if (mem === undefined || memsw === undefined || memsw >= NO_LIMIT_THRESHOLD || mem >= NO_LIMIT_THRESHOLD) return { usageBytes: usage };
  const limit = memsw > mem ? memsw - mem : 0n;
  return { usageBytes: usage, availableBytes: limit > usage ? limit - usage : 0n };
}
