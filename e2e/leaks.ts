// Everything a daemon's pods and containers leave on the host, counted for one daemon (its
// state and root directories, its CNI bridge and IPAM directory, its cgroup root): what the
// failpoint, crash, chaos and soak tests compare before and after.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { listProcesses } from '../pkg/process/procs.js';
import type { CtEnv } from './container-fixtures.js';
import { sh } from './sandbox-fixtures.js';

export interface LeakScope {
  state: string;
  root: string;
  bridge: string;
  /** host-local's dataDir of the test network. */
  ipamDir: string;
  /** Cgroup parent of the test's pods (cgroupfs path). */
  cgroupRoot: string;
}

export interface Leaks {
  /** conmon processes watching this daemon's exit directory. */
  conmons: number;
  /** Processes other than conmon whose argv names this daemon's runtime roots (runc/crun calls, the failpoint wrapper). */
  runtimeProcs: number;
  /** pause processes in pods of this daemon (by cgroup). */
  pauses: number;
  runtimeContainers: string[];
  bundles: number;
  layers: number;
  exitFiles: number;
  sandboxDirs: number;
  pins: number;
  mounts: number;
  cniCache: number;
  veths: number;
  ipAllocations: number;
  /** Leaf cgroups named like a berth id under the test's cgroup root. */
  cgroups: string[];
  /** Pod cgroups (cgroup parents berth made for pods) left under the test's cgroup root; `default`, the runtime's shared parent, is not one. */
  podCgroups: string[];
}

const ID = /^[0-9a-f]{64}$/;

async function ls(...p: string[]): Promise<string[]> {
  return readdir(path.join(...p)).catch(() => [] as string[]);
}

async function idCgroups(root: string): Promise<string[]> {
  const out = new Set<string>();
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (ID.test(e.name)) out.add(e.name);
      else if (depth < 3) await walk(path.join(dir, e.name), depth + 1);
    }
  };
  for (const c of await ls('/sys/fs/cgroup')) await walk(path.join('/sys/fs/cgroup', c, root), 0);
  return [...out].sort();
}

async function podCgroups(root: string): Promise<string[]> {
  const out = new Set<string>();
  for (const c of await ls('/sys/fs/cgroup')) {
    for (const e of await readdir(path.join('/sys/fs/cgroup', c, root), { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory() && e.name !== 'default' && !ID.test(e.name)) out.add(e.name);
    }
  }
  return [...out].sort();
}

export async function countLeaks(s: LeakScope): Promise<Leaks> {
  const procs = await listProcesses();
  const exitDir = path.join(s.state, 'exits');
  const runtimeRoot = path.join(s.state, 'runtime');
  const runtimeContainers: string[] = [];
  for (const h of await ls(runtimeRoot)) for (const id of await ls(runtimeRoot, h)) runtimeContainers.push(`${h}/${id}`);
  let pins = 0;
  for (const k of ['net', 'ipc', 'uts', 'user']) pins += (await ls(s.state, 'ns', k)).length;
  let ipAllocations = 0;
  for (const net of await ls(s.ipamDir)) ipAllocations += (await ls(s.ipamDir, net)).filter((n) => /^[0-9a-f.:]+$/.test(n) && n.includes('.')).length;
  const pauses = await Promise.all(procs.filter((p) => p.argv[0] === '/pause').map(async (p) =>
    (await readFile(`/proc/${p.pid}/cgroup`, 'utf8').catch(() => '')).includes(s.cgroupRoot)));
  const veths = (await sh('ip', ['-o', 'link', 'show', 'master', s.bridge]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).length;
  return {
    conmons: procs.filter((p) => p.argv[0]?.endsWith('conmon') && p.argv.includes(exitDir)).length,
    runtimeProcs: procs.filter((p) => !p.argv[0]?.endsWith('conmon') && p.argv.some((a) => a.includes(runtimeRoot))).length,
    pauses: pauses.filter(Boolean).length,
    runtimeContainers: runtimeContainers.sort(),
    bundles: (await ls(s.state, 'containers')).length,
    layers: (await ls(s.root, 'containers')).length,
    exitFiles: (await ls(exitDir)).length,
    sandboxDirs: (await ls(s.state, 'sandboxes')).filter((n) => ID.test(n)).length,
    pins,
    mounts: (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(`${s.state}/`)).length,
    cniCache: (await ls(s.root, 'cni', 'results')).length,
    veths,
    ipAllocations,
    cgroups: await idCgroups(s.cgroupRoot),
    podCgroups: await podCgroups(s.cgroupRoot),
  };
}

/** Leaks with nothing in them: what a host with no pods of this daemon shows. */
export const NO_LEAKS: Leaks = {
  conmons: 0, runtimeProcs: 0, pauses: 0, runtimeContainers: [], bundles: 0, layers: 0, exitFiles: 0, sandboxDirs: 0,
  pins: 0, mounts: 0, cniCache: 0, veths: 0, ipAllocations: 0, cgroups: [], podCgroups: [],
};

/** The leak scope of a container test env (its daemon, bridge, IPAM directory and cgroup root). */
export function scopeOf(env: CtEnv): LeakScope {
  return { state: env.d.state, root: env.d.root, bridge: env.bridge, ipamDir: env.ipamDir, cgroupRoot: env.cgroupRoot };
}
