// The stats service the CRI module uses: one cgroup reader for this host (v1 or v2), CPU rates
// between samples, network counters per pod namespace and cached writable-layer usage.
import { CgroupV1Reader } from './cgroup-v1.js';
import { CgroupV2Reader } from './cgroup-v2.js';
import { detectLayout, type CgroupLayout } from '../cgroups/index.js';
import { DiskUsageCache } from './disk.js';
import { NetnsStatsReader } from './network.js';
import { CpuRateTracker } from './rate.js';
import type { CgroupReader, CgroupStats, DiskUsage, NetworkStats, ReadOptions } from './types.js';

export interface StatsCollectorOptions {
  /** Writable-layer walks: at least this many ms apart per layer (more for slow walks). */
  diskRefreshMs?: number;
  diskMaxRefreshMs?: number;
  diskConcurrency?: number;
  nsenter?: string;
}

export function readerFor(layout: CgroupLayout): CgroupReader {
  return layout.version === 1 ? new CgroupV1Reader(layout.controllers) : new CgroupV2Reader(layout.unified);
}

export class StatsCollector {
  readonly rates = new CpuRateTracker();
  readonly net: NetnsStatsReader;
  readonly disk: DiskUsageCache;
  /** The cgroup last read under each key, so forget() closes exactly its files. */
  private readonly cgroups = new Map<string, string>();

  constructor(readonly reader: CgroupReader, opts: StatsCollectorOptions = {}) {
    this.net = new NetnsStatsReader({ nsenter: opts.nsenter });
    this.disk = new DiskUsageCache({
      refreshMs: opts.diskRefreshMs ?? 1000, maxRefreshMs: opts.diskMaxRefreshMs ?? 30_000, concurrency: opts.diskConcurrency ?? 2,
    });
  }

  static async create(opts: StatsCollectorOptions = {}): Promise<StatsCollector> {
    const layout = await detectLayout();
    if (!layout) throw new Error('stats: no cgroup v1 cpuacct/memory or cgroup v2 hierarchy is mounted');
    return new StatsCollector(readerFor(layout), opts);
  }

  /**
   * Stats of one cgroup, with the CPU rate since the previous call under the same `key`
   * (a container or pod ID: the rate follows the object, not the path).
   */
  async cgroup(key: string, cgroupPath: string, opts?: ReadOptions): Promise<CgroupStats | undefined> {
    this.cgroups.set(key, cgroupPath);
    const s = await this.reader.read(cgroupPath, opts);
    if (s?.cpu) {
      const rate = this.rates.observe(key, s.timestamp, s.cpu.usageCoreNanoSeconds);
      if (rate !== undefined) s.cpu.usageNanoCores = rate;
    }
    return s;
  }

  /** Network counters of the namespace at `netnsPath`, looking for a process in `podCgroup` and `pids`. */
  network(netnsPath: string, podCgroup: string | undefined, pids: number[] = []): Promise<NetworkStats | undefined> {
    return this.net.read(netnsPath, async () => {
      const more = podCgroup ? await this.reader.pids(podCgroup, 32) : [];
      return [...pids, ...more];
    });
  }

  /** Cached usage of a writable layer; never waits for a walk. */
  writableLayer(dir: string): DiskUsage | undefined {
    return this.disk.get(dir);
  }

  /** An object went away: drop what is kept about it. */
  forget(key: string, opts: { netnsPath?: string; layerDir?: string } = {}): void {
    this.rates.forget(key);
    // A pod's cgroup path holds its uid, not its sandbox id: close the files of the cgroup read
    // under the key; container ids (64 hex) are also matched anywhere in a path.
    const cg = this.cgroups.get(key);
    this.cgroups.delete(key);
    if (cg) this.reader.files?.forgetCgroup(cg);
    if (!key.startsWith('pod:')) this.reader.files?.forget(key);
    if (opts.netnsPath) this.net.forget(opts.netnsPath);
    if (opts.layerDir) this.disk.forget(opts.layerDir);
  }

  close(): void {
    this.disk.close();
    this.reader.files?.close();
  }
}
