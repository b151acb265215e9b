// The OCI runtime spec (config.json) of a container, built from the image config, the CRI
// ContainerConfig, the pod and a few facts about the host. Pure: no I/O, so it is unit tested.
import { InvalidArgumentError } from '../errors/errors.js';
import { normalizeCap, resolveCaps, type DaemonCaps } from './caps.js';
import { buildMounts, rootfsPropagation, type PodFiles } from './mounts.js';
import type { OciDevice, OciDeviceRule, OciResources, OciSpec } from './oci.js';
import { APPARMOR_DEFAULT } from './apparmor.js';
import { compileProfile, type SeccompProfileFile } from './seccomp.js';
import type { ContainerConfigInput, ContainerUser, ResourcesInput, SecurityInput } from './types.js';
import type { IdMapping, SandboxInfo } from '../sandbox/types.js';
import { runtimeCgroupAnnotations } from '../cgroups/paths.js';
import { allowedAnnotations } from './annotations.js';

export interface ImageConfigInput {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
}

/** What the spec takes from the pod: its files, its pinned namespaces and (runc wants them repeated) its user namespace's mappings. */
export interface SandboxSpecInput
  extends PodFiles, Pick<SandboxInfo, 'id' | 'hostname' | 'netnsPath' | 'ipcnsPath' | 'utsnsPath' | 'usernsPath' | 'uidMappings' | 'gidMappings'> {}

export interface HostFacts {
  caps: DaemonCaps;
  apparmorEnabled: boolean;
  /** Names of the AppArmor profiles loaded in the kernel (when enabled), read at CreateContainer. */
  apparmorProfiles: string[];
  cgroupV2: boolean;
  /** Every device on the host, for privileged containers (read at their CreateContainer). */
  hostDevices: OciDevice[];
}

export interface SpecInput {
  id: string;
  config: ContainerConfigInput;
  image: ImageConfigInput;
  imageName: string;
  sandbox: SandboxSpecInput;
  /** linux.cgroupsPath, in the form of the cgroup driver in use (pkg/cgroups). */
  cgroupsPath: string;
  rootfs: string;
  user: ContainerUser & { home?: string };
  /** Path of the PID namespace to join (POD or TARGET), or 'host' for NODE, undefined for its own. */
  pidNamespace?: string;
  /** CRI devices, already resolved on the host. */
  devices: { device: OciDevice; permissions: string }[];
  /** The profile the container asked for, already loaded; undefined = unconfined. */
  seccompProfile?: SeccompProfileFile;
  host: HostFacts;
  /** The handler's allowed_annotations: globs of the container annotations, beside io.kubernetes.*, that reach the spec. */
  allowedAnnotations: readonly string[];
}

export const DEFAULT_MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];


const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Devices every container may use (cgroup rules): null, zero, full, random, urandom, tty, ptmx, pts. */
const DEFAULT_DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
];

/**
 * kubelet's command/args semantics: `command` replaces the image Entrypoint and `args` its Cmd;
 * a command without args does not use the image Cmd.
 */
export function processArgs(command: string[], args: string[], image: ImageConfigInput): string[] {
  let cmd = command;
  let a = args;
  if (!cmd.length) {
    cmd = image.entrypoint;
    if (!a.length) a = image.cmd;
  }
  const all = [...cmd, ...a];
  if (!all.length) throw new InvalidArgumentError('no command specified: neither the container config nor the image has one');
  return all;
}

/** Image env, then the CRI's (same key replaces), with a PATH default and HOSTNAME. */
export function mergeEnv(imageEnv: string[], cri: { key: string; value: string }[], hostname: string): string[] {
  const out = new Map<string, string>();
  const put = (kv: string): void => {
    const i = kv.indexOf('=');
    out.set(i < 0 ? kv : kv.slice(0, i), kv);
  };
  put(DEFAULT_PATH);
  if (hostname) put(`HOSTNAME=${hostname}`);
  for (const kv of imageEnv) put(kv);
  for (const { key, value } of cri) put(`${key}=${value}`);
  return [...out.values()];
}

/** oom_score_adj the kernel will accept: without CAP_SYS_RESOURCE nothing below the daemon's own. */
export function clampOomScoreAdj(want: number, caps: DaemonCaps): number {
  const v = Math.max(-1000, Math.min(1000, want));
  return !caps.sysResource && v < caps.oomScoreAdj ? caps.oomScoreAdj : v;
}

export function buildResources(r: ResourcesInput | undefined, cgroupV2: boolean): OciResources {
  const out: OciResources = {};
  if (!r) return out;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.cpuQuota) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (r.memoryLimitInBytes) {
    out.memory = { limit: r.memoryLimitInBytes };
    if (r.memorySwapLimitInBytes) out.memory.swap = r.memorySwapLimitInBytes;
  }
  if (r.hugepageLimits.length) out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: h.limit }));
  if (Object.keys(r.unified).length) {
    if (!cgroupV2) throw new InvalidArgumentError('unified cgroup resources need cgroup v2; this host runs cgroup v1');
    out.unified = { ...r.unified };
  }
  return out;
}

export function buildSpec(inp: SpecInput): OciSpec {
  const { config: c, sandbox: sb, host } = inp;
  const sec = c.security;
  const privileged = sec.privileged;
  const caps = resolveCaps(sec.capabilities.add, sec.capabilities.drop, privileged, host.caps.bounding);

  const namespaces: { type: string; path?: string }[] = [{ type: 'mount' }];
  if (inp.pidNamespace === undefined) namespaces.push({ type: 'pid' });
  else if (inp.pidNamespace !== 'host') namespaces.push({ type: 'pid', path: inp.pidNamespace });
  if (sb.netnsPath) namespaces.push({ type: 'network', path: sb.netnsPath });
  if (sb.ipcnsPath) namespaces.push({ type: 'ipc', path: sb.ipcnsPath });
  if (sb.utsnsPath) namespaces.push({ type: 'uts', path: sb.utsnsPath });
  if (sb.usernsPath) namespaces.push({ type: 'user', path: sb.usernsPath });

  const resources = buildResources(c.resources, host.cgroupV2);
  resources.devices = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [...DEFAULT_DEVICE_RULES, ...inp.devices.map((d) => ({
        allow: true, type: d.device.type, major: d.device.major, minor: d.device.minor, access: d.permissions || 'rwm',
      }))];

  const devices = privileged ? [...host.hostDevices] : inp.devices.map((d) => d.device);

  const spec: OciSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: c.tty,
      user: { uid: inp.user.uid, gid: inp.user.gid, additionalGids: inp.user.additionalGids },
      args: processArgs(c.command, c.args, inp.image),
      env: mergeEnv(inp.image.env, c.envs, sb.hostname),
      cwd: c.workingDir || inp.image.workingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: sec.noNewPrivs,
    },
    root: { path: inp.rootfs, readonly: sec.readonlyRootfs },
    mounts: buildMounts(c.mounts, sb, { privileged, readonlyRootfs: sec.readonlyRootfs, hostSys: !!sb.usernsPath && !sb.netnsPath }),
    annotations: {
      ...allowedAnnotations(c.annotations, inp.allowedAnnotations),
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': c.name,
      'io.kubernetes.cri.sandbox-id': sb.id,
      'io.kubernetes.cri.image-name': inp.imageName,
      // berth's own, after the filter and last, so a container's annotation cannot move it out of the cgroup berth reads.
      ...runtimeCgroupAnnotations(inp.cgroupsPath),
    },
    linux: {
      namespaces,
      resources,
      cgroupsPath: inp.cgroupsPath,
    },
  };
  if (devices.length) spec.linux.devices = devices;
  if (sb.usernsPath) {
    const oci = (m: IdMapping) => ({ containerID: m.containerId, hostID: m.hostId, size: m.length });
    spec.linux.uidMappings = (sb.uidMappings ?? []).map(oci);
    spec.linux.gidMappings = (sb.gidMappings ?? []).map(oci);
  }
  if (sec.capabilities.addAmbient.length && !privileged) {
    // Ambient capabilities survive execve for a non-root user; the kernel needs them inheritable
    // and permitted too, and only those in the container's set can be raised.
    const ambient = sec.capabilities.addAmbient.map(normalizeCap).filter((c) => caps.includes(c));
    spec.process.capabilities!.ambient = ambient;
    spec.process.capabilities!.inheritable = ambient;
  }
  if (!spec.process.env.some((e) => e.startsWith('HOME=')) && inp.user.home) spec.process.env.push(`HOME=${inp.user.home}`);
  // Without a value the container would inherit conmon's, i.e. the daemon's (-999 under the
  // systemd unit): a runaway container must not be the last thing the OOM killer picks.
  spec.process.oomScoreAdj = clampOomScoreAdj(c.resources?.oomScoreAdj ?? 0, host.caps);
  const prop = rootfsPropagation(c.mounts);
  if (prop) spec.linux.rootfsPropagation = prop;
  if (!privileged) {
    spec.linux.maskedPaths = sec.maskedPaths.length ? [...sec.maskedPaths] : [...DEFAULT_MASKED_PATHS];
    spec.linux.readonlyPaths = sec.readonlyPaths.length ? [...sec.readonlyPaths] : [...DEFAULT_READONLY_PATHS];
    if (inp.seccompProfile) spec.linux.seccomp = compileProfile(inp.seccompProfile, caps);
  }
  const profile = apparmorProfile(sec.apparmor, privileged, host);
  if (profile) spec.process.apparmorProfile = profile;
  return spec;
}

/**
 * The AppArmor profile of a container. No profile asked is the runtime default, as containerd
 * and CRI-O have it: berth-default where AppArmor is on (berth loads it at start), none where it
 * is off or for privileged containers. A Localhost profile must be loaded in the kernel.
 */
export function apparmorProfile(aa: SecurityInput['apparmor'], privileged: boolean, host: HostFacts): string | undefined {
  const type = aa?.type ?? 'RuntimeDefault';
  if (type === 'Unconfined' || (privileged && type === 'RuntimeDefault')) return undefined;
  if (type === 'Localhost') {
    const name = (aa?.localhostRef ?? '').replace(/^localhost\//, '');
    if (!name) throw new InvalidArgumentError('security_context.apparmor: a Localhost profile needs localhost_ref');
    if (!host.apparmorEnabled) throw new InvalidArgumentError(`AppArmor profile "${name}" requested, but AppArmor is not enabled on this host`);
    if (!host.apparmorProfiles.includes(name)) throw new InvalidArgumentError(`AppArmor profile "${name}" is not loaded on this host (load it with apparmor_parser first)`);
    return name;
  }
  return host.apparmorEnabled && host.apparmorProfiles.includes(APPARMOR_DEFAULT) ? APPARMOR_DEFAULT : undefined;
}
