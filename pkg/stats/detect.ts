// Finds how cgroups are mounted on this host (v1 per-controller hierarchies, v2 unified, or the
// hybrid of both) from /proc/self/mountinfo, and turns the cgroup paths runtimes use (cgroupfs
// "/a/b" or systemd "slice:prefix:name") into paths inside a hierarchy.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface CgroupMount {
  mountpoint: string;
  /** The mount's root inside the hierarchy ("/" unless inside a cgroup namespace). */
  root: string;
}

export type CgroupLayout =
  | { version: 1; controllers: Partial<Record<'cpuacct' | 'memory' | 'pids' | 'blkio' | 'cpu', CgroupMount>> }
  | { version: 2; unified: CgroupMount };

/** Parses mountinfo text; v1 wins when its cpuacct or memory controller is mounted (hybrid hosts). */
export function parseMountinfo(text: string): CgroupLayout | undefined {
  const controllers: Record<string, CgroupMount> = {};
  let unified: CgroupMount | undefined;
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const [fstype, , superOpts = ''] = post;
    const root = unescape(pre[3] ?? '/');
    const mountpoint = unescape(pre[4] ?? '');
    if (fstype === 'cgroup2') unified ??= { mountpoint, root };
    else if (fstype === 'cgroup') {
      for (const opt of superOpts.split(',')) {
        if (['cpuacct', 'memory', 'pids', 'blkio', 'cpu'].includes(opt)) controllers[opt] ??= { mountpoint, root };
      }
    }
  }
  if (controllers.cpuacct || controllers.memory) return { version: 1, controllers };
  if (unified) return { version: 2, unified };
  return undefined;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export async function detectCgroups(mountinfo = '/proc/self/mountinfo'): Promise<CgroupLayout | undefined> {
  return parseMountinfo(await readFile(mountinfo, 'utf8'));
}

/**
 * The cgroupfs path of a cgroup as a runtime names it. systemd-driver names look like
 * "kubepods-besteffort-pod1.slice:cri-berth:ID" (runc's convention): the slice expands to its
 * parents ("/kubepods.slice/kubepods-besteffort.slice/…") and the unit is "PREFIX-NAME.scope".
 */
export function cgroupfsPath(name: string): string {
  const parts = name.split(':');
  if (parts.length === 3 && !name.startsWith('/')) {
    const [slice, prefix, unit] = parts as [string, string, string];
    const scope = unit.endsWith('.slice') ? unit : `${prefix ? `${prefix}-` : ''}${unit}.scope`;
    return path.posix.join(expandSlice(slice || '-.slice'), scope);
  }
  if (name.endsWith('.slice') && !name.includes('/')) return expandSlice(name);
  return path.posix.join('/', name);
}

/** "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
export function expandSlice(slice: string): string {
  if (slice === '-.slice') return '/';
  const base = slice.replace(/\.slice$/, '');
  const words = base.split('-');
  let acc = '';
  let out = '';
  for (const w of words) {
    acc = acc ? `${acc}-${w}` : w;
    out += `/${acc}.slice`;
  }
  return out;
}

/** Absolute directory of a cgroup in one mounted hierarchy. */
export function cgroupDir(mount: CgroupMount, cgroupPath: string): string {
  let p = cgroupfsPath(cgroupPath);
  // Inside a cgroup namespace the mount shows a subtree; paths are still given from the top.
  if (mount.root !== '/' && (p === mount.root || p.startsWith(`${mount.root}/`))) p = p.slice(mount.root.length) || '/';
  return path.posix.join(mount.mountpoint, p);
}
