// Cgroup names as the two drivers spell them, and where they live in a mounted hierarchy.
// cgroupfs: a path ("/kubepods/burstable/pod<uid>/<id>"). systemd: runc's "slice:prefix:name"
// ("kubepods-burstable-pod<uid>.slice:berth:<id>" is the scope berth-<id>.scope in that slice,
// whose cgroup is /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/…).
import path from 'node:path';
import { InvalidArgumentError } from '../errors/errors.js';
import type { CgroupMount } from './layout.js';

export type CgroupDriver = 'cgroupfs' | 'systemd';

/** Scope prefix of berth's containers under the systemd driver (containerd: cri-containerd, CRI-O: crio). */
export const SCOPE_PREFIX = 'berth';

/** "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
export function expandSlice(slice: string): string {
  if (slice === '-.slice') return '/';
  const words = slice.replace(/\.slice$/, '').split('-');
  let acc = '';
  let out = '';
  for (const w of words) {
    acc = acc ? `${acc}-${w}` : w;
    out += `/${acc}.slice`;
  }
  return out;
}

/** Whether a runtime cgroupsPath is in the systemd driver's "slice:prefix:name" form. */
export function isSystemdPath(name: string): boolean {
  return !name.startsWith('/') && name.split(':').length === 3;
}

/** crun's annotation naming the sub-cgroup of its systemd scope that it puts the container in. */
export const CRUN_SUBGROUP_ANNOTATION = 'run.oci.systemd.subgroup';

/**
 * OCI annotations that keep a container's process and limits in the cgroup berth names for it.
 * Under the systemd driver crun otherwise puts them in a sub-cgroup "container" of the scope
 * (crun 1.8 on v1 and v2), leaving the scope without process or limits; "" keeps them on the
 * scope, as runc does, where berth's readers, kubelet and the tests look. runc ignores it.
 */
export function runtimeCgroupAnnotations(cgroupsPath: string): Record<string, string> {
  return isSystemdPath(cgroupsPath) ? { [CRUN_SUBGROUP_ANNOTATION]: '' } : {};
}

/**
 * The cgroupfs path of a cgroup as a runtime names it: systemd names expand to their slices
 * and scope; a bare "x.slice" is that slice; anything else is a path from the root.
 */
export function cgroupfsPath(name: string): string {
  if (isSystemdPath(name)) {
    const [slice, prefix, unit] = name.split(':') as [string, string, string];
    const scope = unit.endsWith('.slice') ? unit : `${prefix ? `${prefix}-` : ''}${unit}.scope`;
    return path.posix.join(expandSlice(slice || '-.slice'), scope);
  }
  if (name.endsWith('.slice') && !name.includes('/')) return expandSlice(name);
  return path.posix.join('/', name);
}

/** Absolute directory of a cgroup in one mounted hierarchy. */
export function cgroupDir(mount: CgroupMount, cgroupPath: string): string {
  let p = cgroupfsPath(cgroupPath);
  // Inside a cgroup namespace the mount shows a subtree; paths are still given from the top.
  if (mount.root !== '/' && (p === mount.root || p.startsWith(`${mount.root}/`))) p = p.slice(mount.root.length) || '/';
  return path.posix.join(mount.mountpoint, p);
}

/**
 * The slice a systemd-driver parent names: kubelet gives "kubepods-burstable-pod<uid>.slice";
 * a full path to a slice ("/kubepods.slice/…/x.slice") means its last element, as CRI-O takes it.
 */
function sliceOf(parent: string): string | undefined {
  const base = parent.replace(/\/+$/, '').split('/').pop() ?? '';
  return /^[A-Za-z0-9:_.\\-]+\.slice$/.test(base) && !base.includes(':') ? base : undefined;
}

/** Refuses a pod cgroup parent the driver cannot use, naming the field and the form it wants. */
export function checkParent(driver: CgroupDriver, parent: string): void {
  if (driver === 'systemd') {
    if (!sliceOf(parent)) {
      throw new InvalidArgumentError(`linux.cgroup_parent "${parent}": the cgroup driver is systemd, so it must name a systemd slice ("kubepods-burstable-pod<uid>.slice")`);
    }
    return;
  }
  if (parent.includes(':') || parent.split('/').includes('..')) {
    throw new InvalidArgumentError(`linux.cgroup_parent "${parent}": the cgroup driver is cgroupfs, so it must be a cgroup path ("/kubepods/burstable/pod<uid>")`);
  }
}

/** linux.cgroupsPath of a container (or the pause process) with id `id` under pod parent `parent`. */
export function containerCgroupsPath(driver: CgroupDriver, parent: string, id: string): string {
  checkParent(driver, parent);
  if (driver === 'systemd') return `${sliceOf(parent)!}:${SCOPE_PREFIX}:${id}`;
  return `${parent.replace(/\/+$/, '')}/${id}`;
}

/** The cgroupfs path of a pod's cgroup parent as the driver reads it. */
export function podCgroupPath(driver: CgroupDriver, parent: string): string {
  const slice = driver === 'systemd' ? sliceOf(parent) : undefined;
  return slice ? expandSlice(slice) : path.posix.join('/', parent);
}
