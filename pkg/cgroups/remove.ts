// Removal of a cgroup a container or pause left when its runtime state is gone (a create cut
// by a crash): in every mounted hierarchy, the processes still in it are killed and the
// directory removed. Only leaf cgroups berth names are passed here.
import { readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { cgroupfsPath } from './paths.js';
import { killQuietly } from '../process/procs.js';

/** Mount points of every cgroup (v1, any controller or name) and cgroup2 hierarchy: runc makes its cgroup in each. */
export async function cgroupMounts(mountinfo = '/proc/self/mountinfo'): Promise<string[]> {
  const out = new Set<string>();
  for (const line of (await readFile(mountinfo, 'utf8')).split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.add(line.slice(0, sep).split(' ')[4]!);
  }
  return [...out];
}

/** Removes cgroup `name` (cgroupfs or systemd form) everywhere; a missing one is fine. */
export async function removeCgroup(name: string): Promise<void> {
  const rel = cgroupfsPath(name);
  if (rel === '/' || rel.includes('..')) return;
  const errors: string[] = [];
  await Promise.all((await cgroupMounts()).map(async (mnt) => {
    const dir = path.join(mnt, rel);
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || attempt >= 20) {
          errors.push(`${dir}: ${code}`);
          return;
        }
        const procs = (await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
        for (const pid of procs) killQuietly(Number(pid));
        await new Promise((r) => setTimeout(r, 10 * (attempt + 1)));
      }
    }
  }));
  if (errors.length) throw new Error(`remove cgroup ${name}: ${errors.join('; ')}`);
}
