// Linux capabilities: the default set containerd and Docker give a container, CRI add/drop
// (with "ALL"), and the daemon's own set, which bounds what a privileged container can get.

/** Capability names by bit number (linux/capability.h). */
export const CAP_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const CAP_SYS_RESOURCE_BIT = 24;

/** containerd's and Docker's default capability set. */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Capability names present in a /proc/<pid>/status hex mask (CapBnd, CapEff). */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return CAP_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

export interface DaemonCaps {
  /** The daemon's bounding set: all a privileged container can be given. */
  bounding: string[];
  /** Whether the daemon can lower oom_score_adj below its own. */
  sysResource: boolean;
  /** The daemon's own oom_score_adj, the floor when sysResource is false. */
  oomScoreAdj: number;
}

/** Reads the daemon's capability sets from the text of /proc/self/status. */
export function parseProcStatusCaps(status: string, oomScoreAdj: number): DaemonCaps {
  const field = (name: string): string => new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0';
  const eff = BigInt(`0x${field('CapEff')}`);
  return {
    bounding: capsFromMask(field('CapBnd')),
    sysResource: ((eff >> BigInt(CAP_SYS_RESOURCE_BIT)) & 1n) === 1n,
    oomScoreAdj,
  };
}

/** "net_admin", "NET_ADMIN", "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; unknown names throw. */
export function normalizeCap(name: string): string {
  const up = name.trim().toUpperCase();
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!CAP_NAMES.includes(full)) throw new Error(`unknown capability "${name}"`);
  return full;
}

/**
 * The effective capability set for a container, in containerd's order: "ALL" in add grants every
 * capability the daemon has, "ALL" in drop clears the set, then named adds, then named drops.
 */
export function resolveCaps(
  add: readonly string[],
  drop: readonly string[],
  privileged: boolean,
  daemon: readonly string[],
): string[] {
  if (privileged) return [...daemon];
  const isAll = (c: string): boolean => c.trim().toUpperCase() === 'ALL';
  let set = new Set<string>(DEFAULT_CAPS.filter((c) => daemon.includes(c)));
  if (add.some(isAll)) set = new Set(daemon);
  if (drop.some(isAll)) set = new Set();
  for (const c of add) if (!isAll(c)) set.add(normalizeCap(c));
  for (const c of drop) if (!isAll(c)) set.delete(normalizeCap(c));
  return CAP_NAMES.filter((c) => set.has(c));
}
