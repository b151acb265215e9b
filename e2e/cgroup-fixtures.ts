// Cgroups for e2e tests on any node: the driver the test daemons use (BERTH_E2E_CGROUP_DRIVER,
// which the VM test sets to run every file under each driver, else what berth itself picks on
// this host), pod cgroup parents in that driver's form, the directories a cgroup has in every
// mounted hierarchy, and cleanup of a test's cgroups.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { cgroupDir, cgroupfsPath, containerCgroupsPath, parseMountinfo, resolveDriver, type CgroupDriver, type CgroupLayout, type CgroupMount } from '../pkg/cgroups/index.js';

const sh = promisify(execFile);

export const LAYOUT: CgroupLayout | undefined = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
export const SYSTEMD_BOOTED = existsSync('/run/systemd/system');

function driverUnderTest(): CgroupDriver {
  const env = process.env.BERTH_E2E_CGROUP_DRIVER;
  if (env === 'systemd' || env === 'cgroupfs') return env;
  return resolveDriver('auto', LAYOUT, SYSTEMD_BOOTED);
}

export const E2E_DRIVER: CgroupDriver = driverUnderTest();

/** TOML line for the daemon's config (top level, so it goes before any table). */
export function driverToml(): string {
  return process.env.BERTH_E2E_CGROUP_DRIVER ? `cgroup_driver = "${E2E_DRIVER}"\n` : '';
}

/**
 * A pod cgroup parent below test root `root` ("/berth-test-ct"): "/berth-test-ct/<name>" under
 * cgroupfs, the slice "berth_test_ct-<name>.slice" under systemd (a dash there is a level).
 */
export function testParent(root: string, name: string): string {
  if (E2E_DRIVER === 'cgroupfs') return `${root}/${name}`;
  return `${sliceWord(root)}-${sliceWord(name)}.slice`;
}

const sliceWord = (s: string): string => s.replace(/^\/+/, '').replace(/[-/]/g, '_');

/** The cgroupfs path of container `id` in pod parent `parent`, as berth names it under the driver. */
export function containerCgroup(parent: string, id: string): string {
  return cgroupfsPath(containerCgroupsPath(E2E_DRIVER, parent, id));
}

/** The memory limit file of a cgroup: v2 memory.max, v1 memory.limit_in_bytes. */
export function memoryLimitFile(cgPath: string): string {
  return path.join(controllerDir(cgPath, 'memory'), LAYOUT?.version === 2 ? 'memory.max' : 'memory.limit_in_bytes');
}

/** Every mounted hierarchy (v1 controllers and the named systemd one, or the v2 unified mount). */
export function mounts(): CgroupMount[] {
  if (!LAYOUT) return [];
  if (LAYOUT.version === 2) return [LAYOUT.unified];
  return [...new Set([...Object.values(LAYOUT.controllers), ...(LAYOUT.unified ? [LAYOUT.unified] : [])])];
}

/** Directories of a cgroup (either driver's name) that exist, in every hierarchy. */
export function cgroupDirs(cgPath: string): string[] {
  return mounts().map((m) => cgroupDir(m, cgPath)).filter((d) => existsSync(d));
}

/** The directory of a cgroup in the unified hierarchy (v2) or the v1 controller's. */
export function controllerDir(cgPath: string, v1Controller: 'memory' | 'cpu' | 'pids' | 'cpuacct'): string {
  const m = LAYOUT?.version === 2 ? LAYOUT.unified : LAYOUT?.controllers[v1Controller];
  if (!m) throw new Error(`no ${v1Controller} cgroup hierarchy on this host`);
  return cgroupDir(m, cgPath);
}

/** Cgroup directories still there for a container id below test root `root`: <id> or berth-<id>.scope. */
export async function containerCgroupDirs(root: string, id: string): Promise<string[]> {
  const out: string[] = [];
  const find = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (e.name === id || e.name === `berth-${id}.scope`) out.push(path.join(dir, e.name));
      else if (depth < 4) await find(path.join(dir, e.name), depth + 1);
    }
  };
  for (const d of cgroupDirs(testRootPath(root))) await find(d, 0);
  return out;
}

/** The cgroupfs path of a test root: "/berth-test-ct", or its slice under systemd. */
export function testRootPath(root: string): string {
  return E2E_DRIVER === 'cgroupfs' ? root : cgroupfsPath(`${sliceWord(root)}.slice`);
}

/** Removes a test root's cgroups: systemd stops the root slice (and all below); cgroupfs rmdirs deepest first. */
export async function removeTestCgroups(root: string): Promise<void> {
  if (E2E_DRIVER === 'systemd') await sh('systemctl', ['stop', `${sliceWord(root)}.slice`]).catch(() => undefined);
  const rmTree = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await rmTree(path.join(dir, e.name));
    await rmdir(dir).catch(() => undefined);
  };
  for (const m of mounts()) await rmTree(cgroupDir(m, root));
}
