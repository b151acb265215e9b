// The pod's cgroup and its pod-level limits (KEP-1287 in-place resize, KEP-2837 pod-level
// resources). kubelet creates a pod's cgroup (cgroupfs driver) and writes its limits before it
// calls RunPodSandbox or UpdatePodSandboxResources: berth then only records them. A client that
// names a cgroup parent that does not exist (crictl, critest) gets it made by berth, which then
// owns it: it writes the pod's limits there and removes it with the pod. A pod with no cgroup
// parent shares runtime.cgroup_parent with every such pod, so nothing is written for it.
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { applyResources, cgroupDir, detectLayout, podCgroupPath, type CgroupLayout, type CgroupMount, type CgroupResources } from '../cgroups/index.js';
import type { ResourcesInput } from '../container/types.js';

export type PodCgroupOwner = 'berth' | 'kubelet' | 'shared';

/** The file in a sandbox's directory naming the pod cgroup berth is making for it (read by start-up reconciliation). */
export const POD_CGROUP_CLAIM = 'pod-cgroup';

let layout: Promise<CgroupLayout | undefined> | undefined;
const hostLayout = (): Promise<CgroupLayout | undefined> => (layout ??= detectLayout().catch(() => undefined));

/** Every hierarchy the pod's cgroup lives in: on a hybrid host the unified one too, where runc makes its containers' cgroups (and so their parents). */
function mounts(l: CgroupLayout): CgroupMount[] {
  return l.version === 2 ? [l.unified] : [...Object.values(l.controllers), ...(l.unified ? [l.unified] : [])];
}

/**
 * Whom the pod's cgroup belongs to; berth creates (and then owns) one that does not exist yet,
 * calling `beforeCreate` first (RunPodSandbox records the claim on disk there, so that a crash
 * before the pod's record exists leaves something reconciliation finds).
 */
export async function claimPodCgroup(driver: string, requestedParent: string, beforeCreate?: () => Promise<void>): Promise<PodCgroupOwner> {
  const l = await hostLayout();
  if (!requestedParent || !l) return 'shared';
  // Under systemd the parent is a slice systemd manages; kubelet makes it.
  if (driver !== 'cgroupfs') return 'kubelet';
  const cgPath = podCgroupPath('cgroupfs', requestedParent);
  const probe = l.version === 2 ? l.unified : (l.controllers.memory ?? l.controllers.cpu);
  if (probe && (await stat(cgroupDir(probe, cgPath)).then(() => true, () => false))) return 'kubelet';
  await beforeCreate?.();
  await Promise.all(mounts(l).map((m) => mkdir(cgroupDir(m, cgPath), { recursive: true })));
  return 'berth';
}

/** Removes a pod cgroup berth made (its containers' cgroups are gone by then). */
export async function releasePodCgroup(requestedParent: string): Promise<void> {
  const l = await hostLayout();
  if (!l) return;
  const cgPath = podCgroupPath('cgroupfs', requestedParent);
  await Promise.all(mounts(l).map((m) => rmdir(cgroupDir(m, cgPath)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new Error(`remove pod cgroup ${cgroupDir(m, cgPath)}: ${err.message}`);
  })));
}

/**
 * The one place berth writes a pod cgroup's files (through pkg/cgroups, which knows v1 and v2).
 * The kernel refusing a value is an InvalidArgumentError naming the file and the value.
 */
export async function writePodCgroup(requestedParent: string, r: CgroupResources): Promise<void> {
  const l = await hostLayout();
  if (!l) throw new Error('no cgroup hierarchy is mounted on this host');
  await applyResources(l, podCgroupPath('cgroupfs', requestedParent), r);
}

const sum = (a: number | undefined, b: number | undefined): number | undefined => (a || b ? (a ?? 0) + (b ?? 0) : undefined);

/**
 * The pod cgroup's limits from kubelet's two figures: `resources` (the sum of the containers')
 * plus `overhead` (the RuntimeClass's). A limit the containers leave unset is unlimited (-1),
 * so a resize that drops a limit lifts it; undefined when neither figure is given.
 */
export function podCgroupLimits(resources: ResourcesInput | undefined, overhead: ResourcesInput | undefined): CgroupResources | undefined {
  if (!resources && !overhead) return undefined;
  const res = resources ?? { hugepageLimits: [], unified: {} };
  const ovh = overhead ?? { hugepageLimits: [], unified: {} };
  const period = res.cpuPeriod || ovh.cpuPeriod;
  // Quotas are per period: the overhead's is scaled to the pod's period before it is added.
  const ovhQuota = ovh.cpuQuota && ovh.cpuQuota > 0 && period ? Math.round((ovh.cpuQuota * period) / (ovh.cpuPeriod || period)) : 0;
  const cpu: NonNullable<CgroupResources['cpu']> = {
    quota: res.cpuQuota && res.cpuQuota > 0 ? res.cpuQuota + ovhQuota : -1,
  };
  const shares = sum(res.cpuShares, ovh.cpuShares);
  if (shares) cpu.shares = shares;
  if (period) cpu.period = period;
  if (res.cpusetCpus) cpu.cpus = res.cpusetCpus;
  if (res.cpusetMems) cpu.mems = res.cpusetMems;
  const mem = res.memoryLimitInBytes && res.memoryLimitInBytes > 0 ? res.memoryLimitInBytes + Math.max(0, ovh.memoryLimitInBytes ?? 0) : -1;
  const out: CgroupResources = { cpu, memory: { limit: mem } };
  const huge = res.hugepageLimits.map((h) => ({
    pageSize: h.pageSize, limit: h.limit + (ovh.hugepageLimits.find((o) => o.pageSize === h.pageSize)?.limit ?? 0),
  }));
  if (huge.length) out.hugepageLimits = huge;
  const unified = { ...ovh.unified, ...res.unified };
  if (Object.keys(unified).length) out.unified = unified;
  return out;
}
