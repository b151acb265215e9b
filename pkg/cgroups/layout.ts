// How cgroups are mounted on this host, from /proc/self/mountinfo: cgroup v1 (one hierarchy per
// controller, possibly beside an empty v2 mount: "hybrid") or v2 (one unified hierarchy), and
// which controllers are there. Everything else in pkg/cgroups and its users starts from this.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface CgroupMount {
  mountpoint: string;
  /** The mount's root inside the hierarchy ("/" unless inside a cgroup namespace). */
  root: string;
}

/** v1 hierarchies berth reads or writes; `systemd` is the named hierarchy (name=systemd). */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'devices', 'freezer', 'systemd'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export type CgroupLayout =
  /** `unified` is the v2 mount of a hybrid host (no controllers, systemd's process tracking). */
  | { version: 1; controllers: Partial<Record<V1Controller, CgroupMount>>; unified?: CgroupMount }
  | { version: 2; unified: CgroupMount };

/** Parses mountinfo text; v1 wins when its cpuacct or memory controller is mounted (hybrid hosts). */
export function parseMountinfo(text: string): CgroupLayout | undefined {
  const controllers: Partial<Record<V1Controller, CgroupMount>> = {};
  let unified: CgroupMount | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    const m = { mountpoint: unescape(pre[4] ?? ''), root: unescape(pre[3] ?? '/') };
    if (fstype === 'cgroup2') unified ??= m;
    else if (fstype === 'cgroup') {
      for (const opt of superOpts.split(',')) {
        const name = (opt === 'name=systemd' ? 'systemd' : opt) as V1Controller;
        if ((V1_CONTROLLERS as readonly string[]).includes(name)) controllers[name] ??= m;
      }
    }
  }
  if (controllers.cpuacct || controllers.memory) return unified ? { version: 1, controllers, unified } : { version: 1, controllers };
  if (unified) return { version: 2, unified };
  return undefined;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export async function detectLayout(mountinfo = '/proc/self/mountinfo'): Promise<CgroupLayout | undefined> {
  return parseMountinfo(await readFile(mountinfo, 'utf8'));
}

/**
 * Controllers the host offers: v2 from the root's cgroup.controllers, v1 the mounted ones
 * (without the named systemd hierarchy, which controls nothing).
 */
export async function availableControllers(layout: CgroupLayout): Promise<string[]> {
  if (layout.version === 1) return Object.keys(layout.controllers).filter((c) => c !== 'systemd').sort();
  return v2Controllers(layout.unified);
}

/** Controllers a v2 mount offers (its root's cgroup.controllers); none when unreadable. */
async function v2Controllers(m: CgroupMount): Promise<string[]> {
  const text = await readFile(path.join(m.mountpoint, 'cgroup.controllers'), 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean);
}

/**
 * Controllers left on the v2 mount of a hybrid host (a v1 hierarchy of them is not mounted, as
 * hugetlb is on a bare Debian 12 boot): crun refuses such a host. None on v1-only and v2 hosts.
 */
export async function hybridV2Controllers(layout: CgroupLayout): Promise<string[]> {
  return layout.version === 1 && layout.unified ? v2Controllers(layout.unified) : [];
}

/** The mode kubelet and operators talk about: v2, v1 with an empty v2 mount beside it, or plain v1. */
export function layoutName(layout: CgroupLayout): 'v2' | 'hybrid' | 'v1' {
  if (layout.version === 2) return 'v2';
  return layout.unified ? 'hybrid' : 'v1';
}
