// cgroup v2 reader: one unified hierarchy. cpu.stat, memory.current, memory.stat, memory.max,
// pids.current, swap (memory.swap.current/max), the pressure files (PSI) and io.stat when
// asked, read in parallel.
import path from 'node:path';
import { cgroupDir, type CgroupMount } from '../cgroups/index.js';
import { readExtendedV2 } from './cgroup-extended.js';
import { cgroupPids, OpenFiles } from './fsread.js';
import { parseFlatKeyed, parseIoStat, parsePsi, parseSingle } from './parse.js';
import { nowNs, type CgroupReader, type CgroupStats, type MemoryStats, type ReadOptions, type SwapStats } from './types.js';

export class CgroupV2Reader implements CgroupReader {
  readonly version = 2 as const;
  constructor(private readonly unified: CgroupMount, readonly files = new OpenFiles()) {}

  async read(cg: string, opts: ReadOptions = {}): Promise<CgroupStats | undefined> {
    const dir = cgroupDir(this.unified, cg);
    const f = (name: string) => this.files.read(path.join(dir, name));
    const [cpuStat, memCurrent, memStat, memMax, pids, io, swapCurrent, swapMax, cpuPsi, memPsi, ioPsi] = await Promise.all([
      f('cpu.stat'), f('memory.current'), f('memory.stat'), f('memory.max'), f('pids.current'), opts.io ? f('io.stat') : undefined,
      f('memory.swap.current'), f('memory.swap.max'), f('cpu.pressure'), f('memory.pressure'), f('io.pressure'),
    ]);
    // cpu.stat exists in every v2 cgroup, controllers enabled or not.
    if (cpuStat === undefined) return undefined;
    const out: CgroupStats = { timestamp: nowNs() };
    const usec = parseFlatKeyed(cpuStat).get('usage_usec');
    if (usec !== undefined) out.cpu = { usageCoreNanoSeconds: usec * 1000n };
    if (out.cpu && cpuPsi !== undefined) out.cpu.psi = parsePsi(cpuPsi);
    if (memCurrent !== undefined && memStat !== undefined) out.memory = v2Memory(memCurrent, memStat, memMax);
    if (out.memory && memPsi !== undefined) out.memory.psi = parsePsi(memPsi);
    if (ioPsi !== undefined) out.ioPsi = parsePsi(ioPsi);
    if (swapCurrent !== undefined) out.swap = v2Swap(swapCurrent, swapMax);
    const p = pids !== undefined ? parseSingle(pids) : undefined;
    if (p !== undefined) out.processes = p;
    if (io !== undefined) out.io = parseIoStat(io);
    if (opts.extended) out.extended = await readExtendedV2(dir, cpuStat, memStat);
    return out;
  }

  pids(cg: string, limit?: number): Promise<number[]> {
    return cgroupPids(cgroupDir(this.unified, cg), limit);
  }
}

/** Memory as cAdvisor computes it on v2: RSS is `anon`, working set = memory.current − inactive_file. */
export function v2Memory(currentText: string, statText: string, maxText: string | undefined): MemoryStats {
  const usage = parseSingle(currentText) ?? 0n;
  const st = parseFlatKeyed(statText);
  const inactive = st.get('inactive_file') ?? 0n;
  const workingSet = inactive < usage ? usage - inactive : 0n;
  const m: MemoryStats = {
    usageBytes: usage,
    workingSetBytes: workingSet,
    rssBytes: st.get('anon') ?? 0n,
    pageFaults: st.get('pgfault') ?? 0n,
    majorPageFaults: st.get('pgmajfault') ?? 0n,
  };
  // memory.max is "max" when unlimited, which parseSingle leaves undefined.
  const limit = maxText !== undefined ? parseSingle(maxText) : undefined;
  if (limit !== undefined) {
    m.limitBytes = limit;
    m.availableBytes = limit > workingSet ? limit - workingSet : 0n;
  }
  return m;
}

/** Swap in use (memory.swap.current) and what is left under memory.swap.max ("max": no limit). */
export function v2Swap(currentText: string, maxText: string | undefined): SwapStats {
  const usage = parseSingle(currentText) ?? 0n;
  const limit = maxText !== undefined ? parseSingle(maxText) : undefined;
  return limit !== undefined ? { usageBytes: usage, availableBytes: limit > usage ? limit - usage : 0n } : { usageBytes: usage };
}
