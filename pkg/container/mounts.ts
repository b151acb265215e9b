// The container's mounts: the kernel filesystems every container gets, the pod's files, and the
// CRI mounts, in the order runc applies them (parents before children).
import path from 'node:path';
import type { MountInput } from './types.js';
import type { OciMount } from './oci.js';

export interface PodFiles {
  hostsPath?: string;
  resolvConfPath?: string;
  hostnamePath?: string;
  /** The pod's /dev/shm; undefined gives the container its own 64 MiB tmpfs. */
  shmPath?: string;
}

const PROPAGATION: Record<MountInput['propagation'], string> = {
  PRIVATE: 'rprivate',
  HOST_TO_CONTAINER: 'rslave',
  BIDIRECTIONAL: 'rshared',
};

/**
 * The host's /sys, for a container in a pod user namespace on the host network: the kernel lets a
 * user namespace mount sysfs only in a network namespace it owns, and the host's is not (as
 * containerd and CRI-O do; recursive read-only, so no submount is writable either).
 */
const HOST_SYS: OciMount = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rro', 'nosuid', 'nodev', 'noexec'] };

/** /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and the cgroup tree. */
export function defaultMounts(privileged: boolean, shmPath: string | undefined, hostSys = false): OciMount[] {
  const sysRo = privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    shmPath
      ? { destination: '/dev/shm', type: 'bind', source: shmPath, options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    hostSys ? HOST_SYS : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...sysRo] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...sysRo] },
  ];
}

/** A CRI mount as an OCI bind mount; hostPath is expected already resolved (symlinks followed). */
export function criMount(m: MountInput): OciMount {
  const opts = ['rbind', PROPAGATION[m.propagation]];
  if (m.readonly) opts.push(m.recursiveReadOnly ? 'rro' : 'ro');
  return { destination: path.posix.normalize(m.containerPath), type: 'bind', source: m.hostPath, options: opts };
}

const depth = (p: string): number => path.posix.normalize(p).split('/').filter(Boolean).length;

/**
 * All mounts in order: defaults, the pod's files (unless a CRI mount targets the same place),
 * then CRI mounts sorted by depth so a parent is mounted before what lies under it.
 */
export function buildMounts(
  cri: readonly MountInput[],
  pod: PodFiles,
  opts: { privileged: boolean; readonlyRootfs: boolean; hostSys?: boolean },
): OciMount[] {
  const criDest = new Set(cri.map((m) => path.posix.normalize(m.containerPath)));
  const out = defaultMounts(opts.privileged, criDest.has('/dev/shm') ? undefined : pod.shmPath, opts.hostSys).filter(
    (m) => !criDest.has(m.destination),
  );
  const fileOpts = ['rbind', 'rprivate', opts.readonlyRootfs ? 'ro' : 'rw'];
  const files: [string, string | undefined][] = [
    ['/etc/hostname', pod.hostnamePath],
    ['/etc/hosts', pod.hostsPath],
    ['/etc/resolv.conf', pod.resolvConfPath],
  ];
  for (const [dest, src] of files) {
    if (src && !criDest.has(dest)) out.push({ destination: dest, type: 'bind', source: src, options: [...fileOpts] });
  }
  const sorted = [...cri].sort((a, b) => depth(a.containerPath) - depth(b.containerPath));
  for (const m of sorted) out.push(criMount(m));
  return out;
}

/** Root propagation the CRI mounts need: rshared for BIDIRECTIONAL, rslave for HOST_TO_CONTAINER. */
export function rootfsPropagation(cri: readonly MountInput[]): string | undefined {
  if (cri.some((m) => m.propagation === 'BIDIRECTIONAL')) return 'rshared';
  if (cri.some((m) => m.propagation === 'HOST_TO_CONTAINER')) return 'rslave';
  return undefined;
}
