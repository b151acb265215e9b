// Where conmon runs. It must not share the daemon's cgroup: `systemctl restart berth`, or any
// KillMode other than "process", would take every container's monitor with it. Under the
// systemd driver each conmon gets a transient scope in berth-conmon.slice (systemd-run --scope
// registers the scope and execs conmon in place, keeping its fds, so the sync pipe survives).
// Under cgroupfs a tiny shell moves itself into the berth-conmon cgroup before it execs conmon,
// so conmon's daemonised child is born there.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CgroupLayout, CgroupMount } from './layout.js';
import type { CgroupDriver } from './paths.js';

export const CONMON_SLICE = 'berth-conmon.slice';
export const CONMON_CGROUP = '/berth-conmon';

export interface Launch {
  file: string;
  args: string[];
}

/** v1 hierarchies conmon moves in: process tracking (named systemd, hybrid v2) and accounting. */
function conmonMounts(layout: CgroupLayout): CgroupMount[] {
  if (layout.version === 2) return [layout.unified];
  const c = layout.controllers;
  // Not cpuset: a new v1 cpuset cgroup has no CPUs until they are copied in, and conmon needs none.
  const list = [c.systemd, c.cpu, c.cpuacct, c.memory, c.pids, c.blkio, layout.unified];
  return [...new Set(list.filter((m): m is CgroupMount => !!m))];
}

/** The cgroup.procs files (created on first use) a cgroupfs-driver conmon writes itself into. */
export async function conmonProcsFiles(layout: CgroupLayout): Promise<string[]> {
  const dirs = conmonMounts(layout).map((m) => path.join(m.mountpoint, CONMON_CGROUP));
  await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
  return dirs.map((d) => path.join(d, 'cgroup.procs'));
}

const MOVE_SELF = 'for f in $BERTH_CONMON_PROCS; do echo $$ >"$f" || exit 125; done; exec "$@"';

/** The command that starts conmon for container `id` in its own cgroup. */
export function conmonLaunch(driver: CgroupDriver, procsFiles: string[], id: string, conmon: string, args: string[]): Launch & { env?: Record<string, string> } {
  if (driver === 'systemd') {
    return {
      file: 'systemd-run',
      args: ['--scope', '--quiet', '--collect', `--unit=berth-conmon-${id}`, `--slice=${CONMON_SLICE}`, '--', conmon, ...args],
    };
  }
  if (!procsFiles.length) return { file: conmon, args };
  return { file: '/bin/sh', args: ['-c', MOVE_SELF, 'berth-conmon', conmon, ...args], env: { BERTH_CONMON_PROCS: procsFiles.join(' ') } };
}
