// Resource limits written straight into cgroup files, for cgroups berth manages itself (pod
// cgroups, UpdatePodSandboxResources); containers get theirs through the OCI runtime. Shapes
// follow the OCI runtime spec's linux.resources; v2 values are converted as runc does.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError } from '../errors/errors.js';
import type { CgroupLayout, V1Controller } from './layout.js';
import { cgroupDir } from './paths.js';

export interface DeviceRate {
  major: number;
  minor: number;
  rate: number;
}

export interface CgroupResources {
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  /** swap is memory+swap, as in OCI; -1 is unlimited. */
  memory?: { limit?: number; reservation?: number; swap?: number };
  pids?: { limit: number };
  hugepageLimits?: { pageSize: string; limit: number }[];
  blockIO?: {
    weight?: number;
    throttleReadBpsDevice?: DeviceRate[];
    throttleWriteBpsDevice?: DeviceRate[];
    throttleReadIOPSDevice?: DeviceRate[];
    throttleWriteIOPSDevice?: DeviceRate[];
  };
  /** cgroup v2 files by name ("memory.high": "1G"), written last. */
  unified?: Record<string, string>;
}

export interface CgroupWrite {
  /** The v1 hierarchy, or "unified" for v2. */
  controller: V1Controller | 'unified';
  file: string;
  value: string;
}

/** runc's cpu.shares (2…262144) → cpu.weight (1…10000). */
export function sharesToWeight(shares: number): number {
  return shares ? 1 + Math.floor(((shares - 2) * 9999) / 262142) : 0;
}

/** cpu.max: "max" or the quota, then the period (the kernel keeps the old period when none is given). */
export function cpuMax(quota: number | undefined, period: number | undefined): string | undefined {
  if (!quota && !period) return undefined;
  const q = quota && quota > 0 ? String(quota) : 'max';
  return period ? `${q} ${period}` : q;
}

/** OCI memory+swap → v2 memory.swap.max (swap alone). */
export function swapMax(swap: number | undefined, limit: number | undefined): string | undefined {
  if (!swap) return undefined;
  if (swap === -1) return 'max';
  if (!limit || limit === -1) throw new InvalidArgumentError('a memory+swap limit needs a memory limit');
  if (swap < limit) throw new InvalidArgumentError(`memory+swap limit ${swap} is below the memory limit ${limit}`);
  return String(swap - limit);
}

const limitText = (n: number): string => (n < 0 ? 'max' : String(n));
const hugeSize = (s: string): string => s.replace(/iB$/, 'B');
const rates = (list: DeviceRate[] | undefined, fmt: (d: DeviceRate) => string): string[] => (list ?? []).map(fmt);

export function v2Writes(r: CgroupResources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const put = (file: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') out.push({ controller: 'unified', file, value: String(value) });
  };
  const c = r.cpu ?? {};
  if (c.shares) put('cpu.weight', sharesToWeight(c.shares));
  put('cpu.max', cpuMax(c.quota, c.period));
  put('cpuset.cpus', c.cpus);
  put('cpuset.mems', c.mems);
  const m = r.memory ?? {};
  if (m.limit) put('memory.max', limitText(m.limit));
  if (m.reservation) put('memory.low', limitText(m.reservation));
  put('memory.swap.max', swapMax(m.swap, m.limit));
  if (r.pids) put('pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
  for (const h of r.hugepageLimits ?? []) put(`hugetlb.${hugeSize(h.pageSize)}.max`, h.limit);
  const b = r.blockIO;
  if (b?.weight) put('io.weight', `default ${b.weight}`);
  const io = [
    ...rates(b?.throttleReadBpsDevice, (d) => `${d.major}:${d.minor} rbps=${d.rate}`),
    ...rates(b?.throttleWriteBpsDevice, (d) => `${d.major}:${d.minor} wbps=${d.rate}`),
    ...rates(b?.throttleReadIOPSDevice, (d) => `${d.major}:${d.minor} riops=${d.rate}`),
    ...rates(b?.throttleWriteIOPSDevice, (d) => `${d.major}:${d.minor} wiops=${d.rate}`),
  ];
  for (const line of io) put('io.max', line);
  for (const [file, value] of Object.entries(r.unified ?? {})) {
    if (!/^[a-z_]+\.[a-z0-9_.]+$/i.test(file)) throw new InvalidArgumentError(`unified cgroup resource "${file}" is not a cgroup file name`);
    put(file, value);
  }
  return out;
}

export function v1Writes(r: CgroupResources): CgroupWrite[] {
  if (r.unified && Object.keys(r.unified).length) throw new InvalidArgumentError('unified cgroup resources need cgroup v2; this host runs cgroup v1');
  const out: CgroupWrite[] = [];
  const put = (controller: V1Controller, file: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') out.push({ controller, file, value: String(value) });
  };
  const c = r.cpu ?? {};
  if (c.shares) put('cpu', 'cpu.shares', c.shares);
  // The period first: a quota is checked against the period in place.
  if (c.period) put('cpu', 'cpu.cfs_period_us', c.period);
  if (c.quota) put('cpu', 'cpu.cfs_quota_us', c.quota);
  put('cpuset', 'cpuset.cpus', c.cpus);
  put('cpuset', 'cpuset.mems', c.mems);
  const m = r.memory ?? {};
  if (m.limit) put('memory', 'memory.limit_in_bytes', m.limit);
  if (m.reservation) put('memory', 'memory.soft_limit_in_bytes', m.reservation);
  if (m.swap) put('memory', 'memory.memsw.limit_in_bytes', m.swap);
  if (r.pids) put('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
  for (const h of r.hugepageLimits ?? []) put('hugetlb', `hugetlb.${hugeSize(h.pageSize)}.limit_in_bytes`, h.limit);
  const b = r.blockIO;
  if (b?.weight) put('blkio', 'blkio.weight', b.weight);
  const dev = (d: DeviceRate) => `${d.major}:${d.minor} ${d.rate}`;
  for (const l of rates(b?.throttleReadBpsDevice, dev)) put('blkio', 'blkio.throttle.read_bps_device', l);
  for (const l of rates(b?.throttleWriteBpsDevice, dev)) put('blkio', 'blkio.throttle.write_bps_device', l);
  for (const l of rates(b?.throttleReadIOPSDevice, dev)) put('blkio', 'blkio.throttle.read_iops_device', l);
  for (const l of rates(b?.throttleWriteIOPSDevice, dev)) put('blkio', 'blkio.throttle.write_iops_device', l);
  return out;
}

/** Absolute file of one write, or undefined when its v1 hierarchy is not mounted. */
function target(layout: CgroupLayout, cgPath: string, w: CgroupWrite): string | undefined {
  const mount = layout.version === 2 ? layout.unified : w.controller === 'unified' ? layout.unified : layout.controllers[w.controller];
  return mount ? path.join(cgroupDir(mount, cgPath), w.file) : undefined;
}

/**
 * Writes `r` into the cgroup `cgPath` (creating it when asked). A write the kernel refuses fails
 * with the file and the value; a controller that is not mounted (v1) is an error too.
 * v1 memory: memory+swap must stay ≥ memory at every step, so a refused memory limit is retried
 * after the memory+swap limit.
 */
export async function applyResources(layout: CgroupLayout, cgPath: string, r: CgroupResources, opts: { create?: boolean } = {}): Promise<void> {
  const writes = layout.version === 2 ? v2Writes(r) : v1Writes(r);
  if (opts.create) {
    const dirs = new Set(writes.map((w) => target(layout, cgPath, w)).filter((f): f is string => !!f).map((f) => path.dirname(f)));
    await Promise.all([...dirs].map((d) => mkdir(d, { recursive: true })));
  }
  const deferred: CgroupWrite[] = [];
  for (const w of writes) {
    const file = target(layout, cgPath, w);
    if (!file) throw new InvalidArgumentError(`cgroup ${cgPath}: the ${w.controller} controller is not mounted on this host (for ${w.file})`);
    try {
      await writeFile(file, w.value);
    } catch (err) {
      if (w.file === 'memory.limit_in_bytes' && (err as NodeJS.ErrnoException).code === 'EINVAL') {
        deferred.push(w);
        continue;
      }
      throw new InvalidArgumentError(`cgroup ${cgPath}: write ${w.file} = "${w.value}": ${(err as Error).message}`);
    }
  }
  for (const w of deferred) {
    await writeFile(target(layout, cgPath, w)!, w.value).catch((err: Error) => {
      throw new InvalidArgumentError(`cgroup ${cgPath}: write ${w.file} = "${w.value}": ${err.message}`);
    });
  }
}

/** How often the OOM killer killed a task in the cgroup: v2 memory.events, v1 memory.oom_control. */
export async function oomKillCount(layout: CgroupLayout, cgPath: string): Promise<number> {
  const mount = layout.version === 2 ? layout.unified : layout.controllers.memory;
  if (!mount) return 0;
  const file = layout.version === 2 ? 'memory.events' : 'memory.oom_control';
  const text = await readFile(path.join(cgroupDir(mount, cgPath), file), 'utf8').catch(() => '');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}
