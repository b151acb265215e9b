// Container and pod stats as kubelet asks for them, from the container and sandbox services:
// which cgroup, namespace and writable layer belong to which object, and how a pod's numbers
// add up. Everything is read in parallel; nothing here spawns a process per container.
import { readFile, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Cgroups } from '../cgroups/cgroups.js';
import type { ContainerInfo, ContainerService } from '../container/types.js';
import { NotFoundError } from '../errors/errors.js';
import type { SandboxInfo, SandboxService } from '../sandbox/types.js';
import type { StatsCollector } from './collector.js';
import type { CgroupStats, DiskUsage, NetworkStats, ReadOptions } from './types.js';
import { nowNs } from './types.js';

/** The filesystem a writable layer lives on (metrics only). */
export interface FilesystemInfo {
  /** The mount's source, as cAdvisor's `device` label shows it ("/dev/vda1"). */
  device: string;
  capacityBytes: bigint;
  inodes: bigint;
  inodesFree: bigint;
}

export interface ContainerStatsResult {
  container: ContainerInfo;
  cgroup?: CgroupStats;
  writableLayer?: DiskUsage & { mountpoint: string; filesystem?: FilesystemInfo };
}

export interface PodStatsResult {
  sandbox: SandboxInfo;
  /** The pod's cgroup, or the sum of its containers when the pod has no cgroup of its own. */
  cgroup?: CgroupStats;
  /** `cgroup` adds up the containers: the pod has no cgroup of its own. */
  summed?: boolean;
  network?: NetworkStats;
  containers: ContainerStatsResult[];
}

export interface ContainerStatsFilter {
  id?: string;
  sandboxId?: string;
  labelSelector?: Record<string, string>;
}

export interface PodStatsFilter {
  id?: string;
  labelSelector?: Record<string, string>;
}

export interface StatsServiceDeps {
  collector: StatsCollector;
  /** Looked up at each call: the services may start after stats, or not at all. */
  containers(): ContainerService | undefined;
  sandboxes(): SandboxService | undefined;
  /** Cgroup names of the driver in use (pkg/cgroups); its default parent is shared by every pod kubelet gave no cgroup, so never one pod's total. */
  cgroups: Pick<Cgroups, 'containerPath' | 'podPath' | 'defaultParent'>;
  /**
   * The image module's container-layer directory: a container's writable layer is
   * `<root>/<id>/upper`, and `<root>` is the filesystem ImageFsInfo reports for containers.
   * Without it the layer is found from the rootfs overlay mount in mountinfo.
   */
  writableLayerRoot?: () => string | undefined;
  /** Where overlay mounts are looked up (tests use a recorded file). */
  mountinfo?: string;
}

const labelsMatch = (labels: Record<string, string>, sel: Record<string, string> | undefined): boolean =>
  Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v);


interface Layer {
  upper: string;
  mountpoint: string;
}

export class StatsService {
  /** Writable layer (overlay upperdir) per container id; resolved once from mountinfo. */
  private readonly layers = new Map<string, Layer | null>();
  /** statfs of the writable layers' filesystems, kept a few seconds (one per scrape, not per container). */
  private readonly filesystems = new Map<string, { at: number; info: Promise<FilesystemInfo | undefined> }>();

  constructor(private readonly d: StatsServiceDeps) {}

  private sandbox(id: string): SandboxInfo | undefined {
    try {
      return this.d.sandboxes()?.get(id);
    } catch {
      return undefined;
    }
  }

  async container(id: string): Promise<ContainerStatsResult> {
    const svc = this.d.containers();
    if (!svc) throw new NotFoundError(`container "${id}" not found: no container service is running`);
    const c = svc.get(id);
    return this.containerStats(c, this.sandbox(c.sandboxId));
  }

  async listContainers(f: ContainerStatsFilter = {}, opts: ReadOptions = {}): Promise<ContainerStatsResult[]> {
    return this.containersStats([...this.matchingContainers(f)], opts);
  }

  /** The containers a stats filter picks, lazily from the container index (list streaming). */
  *matchingContainers(f: ContainerStatsFilter = {}): Generator<ContainerInfo> {
    for (const c of this.d.containers()?.iterate() ?? []) {
      if ((!f.id || c.id.startsWith(f.id)) && (!f.sandboxId || c.sandboxId.startsWith(f.sandboxId)) && labelsMatch(c.labels, f.labelSelector)) yield c;
    }
  }

  /** Stats of these containers, read in parallel. */
  async containersStats(cs: ContainerInfo[], opts: ReadOptions = {}): Promise<ContainerStatsResult[]> {
    await this.resolveLayers(cs);
    return Promise.all(cs.map((c) => this.containerStats(c, this.sandbox(c.sandboxId), opts)));
  }

  async pod(id: string): Promise<PodStatsResult> {
    const svc = this.d.sandboxes();
    if (!svc) throw new NotFoundError(`pod sandbox "${id}" not found: no sandbox service is running`);
    const sb = svc.get(id);
    return this.podStats(sb, this.sharedParents(svc.iterate()));
  }

  /**
   * Stats of the ready pods that match (a pod that is not ready has nothing running to measure).
   * `opts.extended` adds the counters and filesystem facts only the cAdvisor metrics use.
   */
  async listPods(f: PodStatsFilter = {}, opts: ReadOptions = {}): Promise<PodStatsResult[]> {
    return this.podsStats([...this.matchingPods(f)], opts);
  }

  /** The ready pods a stats filter picks, lazily from the sandbox index (list streaming). */
  *matchingPods(f: PodStatsFilter = {}): Generator<SandboxInfo> {
    for (const s of this.d.sandboxes()?.iterate() ?? []) {
      if (s.state === 'SANDBOX_READY' && (!f.id || s.id.startsWith(f.id)) && labelsMatch(s.labels, f.labelSelector)) yield s;
    }
  }

  /** Stats of these pods, read in parallel. */
  async podsStats(sbs: SandboxInfo[], opts: ReadOptions = {}): Promise<PodStatsResult[]> {
    const shared = this.sharedParents(this.d.sandboxes()?.iterate() ?? []);
    return Promise.all(sbs.map((s) => this.podStats(s, shared, opts)));
  }

  /** cgroup parents that are not one pod's own cgroup: the default, and any two pods share. */
  private sharedParents(all: Iterable<SandboxInfo>): Set<string> {
    const seen = new Set<string>();
    const shared = new Set<string>([this.d.cgroups.defaultParent]);
    for (const s of all) {
      if (seen.has(s.cgroupParent)) shared.add(s.cgroupParent);
      seen.add(s.cgroupParent);
    }
    return shared;
  }

  private async containerStats(c: ContainerInfo, sb: SandboxInfo | undefined, opts: ReadOptions = {}): Promise<ContainerStatsResult> {
    const [cgroup, layer] = await Promise.all([
      c.state === 'CONTAINER_CREATED' ? undefined : this.d.collector.cgroup(c.id, this.containerCgroup(c, sb), opts),
      this.layerOf(c),
    ]);
    const out: ContainerStatsResult = { container: c };
    if (cgroup) out.cgroup = cgroup;
    if (layer) {
      const u = this.d.collector.writableLayer(layer.upper);
      // Before the first walk ends: zero, with the time of asking (kubelet wants the field).
      out.writableLayer = { ...(u ?? { timestamp: nowNs(), bytes: 0n, inodes: 0n }), mountpoint: layer.mountpoint };
      const fs = opts.extended ? await this.filesystem(layer.mountpoint) : undefined;
      if (fs) out.writableLayer.filesystem = fs;
    }
    return out;
  }

  private filesystem(dir: string): Promise<FilesystemInfo | undefined> {
    const hit = this.filesystems.get(dir);
    if (hit && Date.now() - hit.at < 5000) return hit.info;
    const info = Promise.all([readFile(this.d.mountinfo ?? '/proc/self/mountinfo', 'utf8'), statfs(dir, { bigint: true })]).then(
      ([mi, st]): FilesystemInfo => ({
        device: parseOverlayMounts(mi).sourceOf(dir), capacityBytes: st.blocks * st.bsize, inodes: st.files, inodesFree: st.ffree,
      }),
      () => undefined,
    );
    this.filesystems.set(dir, { at: Date.now(), info });
    return info;
  }

  /** The container's own cgroupsPath as created, else what the spec builder would name it. */
  private containerCgroup(c: ContainerInfo, sb: SandboxInfo | undefined): string {
    return c.cgroupsPath || this.d.cgroups.containerPath(sb?.cgroupParent ?? '', c.id);
  }

  private async podStats(sb: SandboxInfo, shared: Set<string>, opts: ReadOptions = {}): Promise<PodStatsResult> {
    const ctrs = (this.d.containers()?.list() ?? []).filter((c) => c.sandboxId === sb.id);
    await this.resolveLayers(ctrs);
    const own = !shared.has(sb.cgroupParent);
    const podPath = this.d.cgroups.podPath(sb.cgroupParent);
    const [containers, podCgroup, network] = await Promise.all([
      Promise.all(ctrs.map((c) => this.containerStats(c, sb, opts))),
      own ? this.d.collector.cgroup(`pod:${sb.id}`, podPath, opts) : undefined,
      sb.netnsPath && sb.state === 'SANDBOX_READY'
        ? this.d.collector.network(sb.netnsPath, own ? podPath : undefined, [
          ...ctrs.filter((c) => c.state === 'CONTAINER_RUNNING' && c.pid > 0).map((c) => c.pid),
          ...(sb.pausePid ? [sb.pausePid] : []),
        ])
        : undefined,
    ]);
    const out: PodStatsResult = { sandbox: sb, containers };
    const cg = podCgroup ?? (own ? undefined : sumCgroups(containers.map((c) => c.cgroup)));
    if (cg) out.cgroup = cg;
    if (cg && !podCgroup) out.summed = true;
    if (network) out.network = network;
    return out;
  }

  /** Finds the overlay upperdir of each container not resolved yet, with one mountinfo read. */
  private async resolveLayers(cs: ContainerInfo[]): Promise<void> {
    let todo = cs.filter((c) => !this.layers.has(c.id));
    const root = this.d.writableLayerRoot?.();
    if (root) {
      for (const c of todo) this.layers.set(c.id, { upper: path.join(root, c.id, 'upper'), mountpoint: root });
      return;
    }
    todo = todo.filter((c) => c.bundle);
    if (!todo.length) return;
    const mounts = parseOverlayMounts(await readFile(this.d.mountinfo ?? '/proc/self/mountinfo', 'utf8').catch(() => ''));
    for (const c of todo) {
      const rootfs = path.join(c.bundle, 'rootfs');
      const upper = mounts.overlays.get(rootfs);
      // Not mounted yet (or gone): try again next time rather than remember a miss.
      if (upper) this.layers.set(c.id, { upper, mountpoint: mounts.mountpointOf(upper) });
    }
  }

  private async layerOf(c: ContainerInfo): Promise<Layer | undefined> {
    if (!this.layers.has(c.id)) await this.resolveLayers([c]);
    return this.layers.get(c.id) ?? undefined;
  }

  /** A container started: find its writable layer and start the first walk, so stats calls find a value; read its pod's stats once. */
  async warm(id: string): Promise<PodStatsResult | undefined> {
    const c = this.d.containers()?.list().find((x) => x.id === id);
    if (!c) return undefined;
    const layer = await this.layerOf(c);
    if (layer) this.d.collector.writableLayer(layer.upper);
    // One read of the pod (its cgroup, its containers', its network): the files stay open, the
    // namespace's process is found and the CPU rates have their first sample, so kubelet's first
    // stats call is as cheap as the next and already carries usage_nano_cores.
    const sb = this.sandbox(c.sandboxId);
    return sb?.state === 'SANDBOX_READY' ? (await this.podsStats([sb]))[0] : undefined;
  }

  forgetContainer(id: string): void {
    const l = this.layers.get(id);
    this.d.collector.forget(id, { layerDir: l?.upper });
    this.layers.delete(id);
  }

  forgetSandbox(sb: { id: string; netnsPath?: string }): void {
    this.d.collector.forget(`pod:${sb.id}`, { netnsPath: sb.netnsPath });
  }
}

/** Overlay mounts (mountpoint → upperdir) and lookups of the mount a path lives on and its source. */
export function parseOverlayMounts(text: string): { overlays: Map<string, string>; mountpointOf(p: string): string; sourceOf(p: string): string } {
  const overlays = new Map<string, string>();
  const points: string[] = [];
  const sources = new Map<string, string>();
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mp = line.slice(0, sep).split(' ')[4]?.replace(/\\040/g, ' ');
    const [fstype, source = '', opts = ''] = line.slice(sep + 3).split(' ');
    if (!mp) continue;
    points.push(mp);
    sources.set(mp, source);
    if (fstype === 'overlay') {
      const up = opts.split(',').find((o) => o.startsWith('upperdir='));
      if (up) overlays.set(mp, up.slice('upperdir='.length));
    }
  }
  points.sort((a, b) => b.length - a.length);
  const mountpointOf = (p: string) => points.find((m) => m === '/' || p === m || p.startsWith(`${m}/`)) ?? '/';
  return { overlays, mountpointOf, sourceOf: (p) => sources.get(mountpointOf(p)) ?? '' };
}

/** A pod without its own cgroup: its containers' numbers added up (rates too). */
export function sumCgroups(list: (CgroupStats | undefined)[]): CgroupStats | undefined {
  const have = list.filter((s): s is CgroupStats => !!s);
  if (!have.length) return undefined;
  const out: CgroupStats = { timestamp: have.reduce((m, s) => (s.timestamp > m ? s.timestamp : m), 0n) };
  const cpus = have.flatMap((s) => (s.cpu ? [s.cpu] : []));
  if (cpus.length) {
    out.cpu = { usageCoreNanoSeconds: cpus.reduce((a, c) => a + c.usageCoreNanoSeconds, 0n) };
    if (cpus.every((c) => c.usageNanoCores !== undefined)) out.cpu.usageNanoCores = cpus.reduce((a, c) => a + c.usageNanoCores!, 0n);
  }
  const mems = have.flatMap((s) => (s.memory ? [s.memory] : []));
  if (mems.length) {
    const sum = (k: 'usageBytes' | 'workingSetBytes' | 'rssBytes' | 'pageFaults' | 'majorPageFaults') => mems.reduce((a, m) => a + m[k], 0n);
    out.memory = {
      usageBytes: sum('usageBytes'), workingSetBytes: sum('workingSetBytes'), rssBytes: sum('rssBytes'),
      pageFaults: sum('pageFaults'), majorPageFaults: sum('majorPageFaults'),
    };
  }
  const procs = have.flatMap((s) => (s.processes !== undefined ? [s.processes] : []));
  if (procs.length) out.processes = procs.reduce((a, b) => a + b, 0n);
  // Swap in use adds up; pressure (shares of time) does not, so a summed pod has none.
  const swaps = have.flatMap((s) => (s.swap ? [s.swap.usageBytes] : []));
  if (swaps.length) out.swap = { usageBytes: swaps.reduce((a, b) => a + b, 0n) };
  return out;
}
