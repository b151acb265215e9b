// The one cgroup helper the daemon's modules share: this host's layout, the driver in use and
// its default pod parent, and every cgroup name, path, write and placement derived from them.
import path from 'node:path';
import { ConfigError } from '../config/config.js';
import type { BerthConfig } from '../config/config.js';
import type { CgroupLayout } from './layout.js';
import { availableControllers, detectLayout, hybridV2Controllers, layoutName } from './layout.js';
import { conmonLaunch, conmonProcsFiles, type Launch } from './conmon.js';
import { defaultParent, initName, resolveDriver, systemdBooted, type ConfiguredDriver } from './driver.js';
import { cgroupDir, checkParent, containerCgroupsPath, isSystemdPath, podCgroupPath, type CgroupDriver } from './paths.js';
import { applyResources, oomKillCount, type CgroupResources } from './resources.js';

export interface CgroupsInfo {
  /** 1 on v1 and hybrid hosts, 2 on unified ones; undefined without any cgroup mount. */
  version?: 1 | 2;
  mode: 'v2' | 'hybrid' | 'v1' | 'none';
  driver: CgroupDriver;
  controllers: string[];
  /** systemd is PID 1. */
  systemd: boolean;
  defaultParent: string;
}

export interface DetectOptions {
  driver: ConfiguredDriver;
  /** runtime.cgroup_parent; "" = the driver's default. */
  parent: string;
  mountinfo?: string;
  systemdRunDir?: string;
}

export class Cgroups {
  private procsFiles?: Promise<string[]>;

  constructor(
    readonly layout: CgroupLayout | undefined,
    readonly driver: CgroupDriver,
    readonly defaultParent: string,
    readonly controllers: string[],
    readonly systemd: boolean,
    /** Controllers on the v2 mount of a hybrid host (hybridV2Controllers). */
    readonly hybridV2: string[] = [],
  ) {}

  /** Reads the host; a driver the host cannot run is a ConfigError (berth exits 2). */
  static async detect(o: DetectOptions): Promise<Cgroups> {
    const [layout, systemd] = await Promise.all([detectLayout(o.mountinfo), systemdBooted(o.systemdRunDir)]);
    const driver = resolveDriver(o.driver, layout, systemd, systemd ? 'systemd' : await initName());
    const parent = o.parent || defaultParent(driver);
    try {
      checkParent(driver, parent);
    } catch (err) {
      throw new ConfigError(`runtime.cgroup_parent = "${parent}": ${(err as Error).message.replace(/^[^:]*: /, '')}`);
    }
    const [controllers, hybridV2] = layout ? await Promise.all([availableControllers(layout), hybridV2Controllers(layout)]) : [[], []];
    return new Cgroups(layout, driver, parent, controllers, systemd, hybridV2);
  }

  /** `c` with the values resolved at start: cgroup_driver "auto" and runtime.cgroup_parent "". */
  effectiveConfig(c: BerthConfig): BerthConfig {
    const driver = c.cgroup_driver === 'auto' ? this.driver : c.cgroup_driver;
    const parent = c.runtime.cgroup_parent || (driver === this.driver ? this.defaultParent : defaultParent(driver));
    return { ...c, cgroup_driver: driver, runtime: { ...c.runtime, cgroup_parent: parent } };
  }

  get version(): 1 | 2 | undefined {
    return this.layout?.version;
  }

  info(): CgroupsInfo {
    return {
      version: this.version, mode: this.layout ? layoutName(this.layout) : 'none', driver: this.driver,
      controllers: this.controllers, systemd: this.systemd, defaultParent: this.defaultParent,
    };
  }

  /** Start-up warnings for the log. */
  warnings(): string[] {
    if (this.version !== 1) return [];
    return ['this host runs cgroup v1: kubelet >= 1.35 refuses to start on it unless its configuration sets failCgroupV1: false; boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2'];
  }

  /**
   * Why the OCI runtime at `runtimePath` cannot make containers on this host, if it cannot: crun
   * refuses a hybrid host with controllers on its v2 mount ("cgroups in hybrid mode not supported").
   */
  runtimeRefusal(runtimePath: string): string | undefined {
    if (path.basename(runtimePath) !== 'crun' || !this.hybridV2.length) return undefined;
    return `crun refuses this hybrid cgroup host: controllers ${this.hybridV2.join(', ')} are on its v2 hierarchy, not mounted as v1 hierarchies (scripts/node-prep.sh mounts hugetlb's)`;
  }

  /** A pod's cgroup parent: kubelet's, or the default; INVALID_ARGUMENT when the driver cannot use it. */
  podParent(requested: string): string {
    const p = requested || this.defaultParent;
    checkParent(this.driver, p);
    return p;
  }

  /** linux.cgroupsPath for container (or pause) `id` of a pod with cgroup parent `parent`. */
  containerPath(parent: string, id: string): string {
    return containerCgroupsPath(this.driver, parent || this.defaultParent, id);
  }

  /** The cgroupfs path of a pod's parent cgroup (for stats and pod-level writes). */
  podPath(parent: string): string {
    return podCgroupPath(this.driver, parent || this.defaultParent);
  }

  /** Global flags for runc/crun for a container whose cgroupsPath is `cgroupsPath` (its driver, not today's). */
  runtimeFlags(cgroupsPath: string | undefined): string[] {
    return cgroupsPath && isSystemdPath(cgroupsPath) ? ['--systemd-cgroup'] : [];
  }

  /** Absolute directory of `cgPath` in the unified hierarchy (v2) or a v1 controller's. */
  dir(cgPath: string, controller: 'memory' | 'cpu' | 'pids' = 'memory'): string | undefined {
    const l = this.layout;
    if (!l) return undefined;
    const m = l.version === 2 ? l.unified : l.controllers[controller];
    return m ? cgroupDir(m, cgPath) : undefined;
  }

  /** conmon's command line, placed in its own scope or cgroup (conmon.ts). */
  async conmon(id: string, conmon: string, args: string[]): Promise<Launch & { env?: Record<string, string> }> {
    if (this.driver === 'cgroupfs' && this.layout) {
      this.procsFiles ??= conmonProcsFiles(this.layout);
      return conmonLaunch('cgroupfs', await this.procsFiles, id, conmon, args);
    }
    return conmonLaunch(this.driver, [], id, conmon, args);
  }

  /** memory.events of a cgroup on v2, for watching OOM kills as they happen; none on v1. */
  memoryEventsFile(cgPath: string): string | undefined {
    if (this.layout?.version !== 2) return undefined;
    return path.join(cgroupDir(this.layout.unified, cgPath), 'memory.events');
  }

  oomKills(cgPath: string): Promise<number> {
    return this.layout ? oomKillCount(this.layout, cgPath) : Promise.resolve(0);
  }

  apply(cgPath: string, r: CgroupResources, opts: { create?: boolean } = {}): Promise<void> {
    if (!this.layout) return Promise.reject(new Error('no cgroup hierarchy is mounted on this host'));
    return applyResources(this.layout, cgPath, r, opts);
  }
}
