// Which cgroup driver berth uses. kubelet asks (RuntimeConfig) and follows; both must name the
// same cgroups. systemd is the default where systemd is PID 1 on a cgroup v2 host (what kubeadm
// sets up), cgroupfs elsewhere. systemd configured on a host without it is a config error.
import { access, readFile } from 'node:fs/promises';
import { ConfigError } from '../config/config.js';
import type { CgroupLayout } from './layout.js';
import type { CgroupDriver } from './paths.js';

export type ConfiguredDriver = CgroupDriver | 'auto';

/** sd_booted(): systemd creates /run/systemd/system when it is the init system. */
export async function systemdBooted(runDir = '/run/systemd/system'): Promise<boolean> {
  return access(runDir).then(() => true, () => false);
}

export async function initName(): Promise<string> {
  return (await readFile('/proc/1/comm', 'utf8').catch(() => 'unknown')).trim();
}

export function resolveDriver(configured: ConfiguredDriver, layout: CgroupLayout | undefined, systemd: boolean, init = 'unknown'): CgroupDriver {
  if (configured === 'systemd' && !systemd) {
    throw new ConfigError(`cgroup_driver = "systemd", but systemd is not the init system of this host (PID 1 is "${init}"): set cgroup_driver = "cgroupfs" (or "auto")`);
  }
  if (configured !== 'auto') return configured;
  return systemd && layout?.version === 2 ? 'systemd' : 'cgroupfs';
}

/** Where pods go when kubelet names no cgroup parent. */
export function defaultParent(driver: CgroupDriver): string {
  return driver === 'systemd' ? 'berth.slice' : '/berth';
}
