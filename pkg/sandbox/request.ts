// What RunPodSandbox asks for, as plain data (pkg/cri converts the CRI message into this), and
// its validation. Everything that can be refused is refused here, before anything is created.
import { access } from 'node:fs/promises';
import net from 'node:net';
import { InvalidArgumentError, quote } from '../errors/errors.js';
import { kernelRootOf } from '../sys/files.js';
import { checkAbsolutePath, checkLabelsSize, checkName } from '../validate/input.js';
import type { IdMapping, NamespaceMode, PortMapping, SandboxLinux } from './types.js';

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface SandboxRequest {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  hostname: string;
  logDirectory: string;
  dns?: DnsConfig;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  cgroupParent: string;
  sysctls: Record<string, string>;
  namespaces: {
    network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode;
    /** userns_options: absent or NODE = the host's user namespace; POD = one of the pod's own. */
    usernsMode?: NamespaceMode; uids?: IdMapping[]; gids?: IdMapping[];
  };
  linux: SandboxLinux;
  /** '' means the configured default. */
  runtimeHandler: string;
}

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** Sysctls that live in a namespace a pod owns (the kubelet's list): IPC ones and net.*. */
export function sysctlNamespace(key: string): 'ipc' | 'net' | undefined {
  const k = key.replaceAll('/', '.');
  if (k === 'kernel.sem' || k.startsWith('kernel.shm') || k.startsWith('kernel.msg') || k.startsWith('fs.mqueue.')) return 'ipc';
  if (k.startsWith('net.')) return 'net';
  return undefined;
}

/** /proc/sys path a sysctl is checked against on the host; per-interface keys use `default`. */
export function sysctlProbePath(key: string): string {
  const parts = key.includes('/') ? key.split('/') : key.split('.');
  if (parts[0] === 'net' && (parts[1] === 'ipv4' || parts[1] === 'ipv6') && (parts[2] === 'conf' || parts[2] === 'neigh') && parts.length >= 5) {
    parts[3] = 'default';
  }
  return `/proc/sys/${parts.join('/')}`;
}

/** Refuses a bad request with InvalidArgumentError naming the field; resolves the handler name. */
export async function validateRequest(req: SandboxRequest, handlers: Record<string, unknown>, defaultHandler: string): Promise<string> {
  checkName('config.metadata.name', req.name);
  checkName('config.metadata.namespace', req.namespace);
  checkName('config.metadata.uid', req.uid);
  const what = `pod sandbox ${req.namespace}/${req.name}`;
  checkLabelsSize('config.labels', req.labels);
  checkLabelsSize('config.annotations', req.annotations);
  const handler = req.runtimeHandler || defaultHandler;
  if (!Object.hasOwn(handlers, handler)) {
    throw new InvalidArgumentError(`${what}: unknown runtime handler "${handler}" (configured: ${Object.keys(handlers).join(', ')})`);
  }
  const ns = req.namespaces;
  for (const [kind, mode] of [['network', ns.network], ['ipc', ns.ipc], ['pid', ns.pid]] as const) {
    if (mode === 'TARGET') throw new InvalidArgumentError(`${what}: ${kind} namespace mode TARGET is only valid for containers`);
  }
  validateUserns(what, ns);
  if (ns.network !== 'NODE' && req.hostname && (req.hostname.length > 64 || !HOSTNAME_RE.test(req.hostname))) {
    throw new InvalidArgumentError(`${what}: invalid hostname "${req.hostname}"`);
  }
  if (req.logDirectory) {
    checkAbsolutePath('config.log_directory', req.logDirectory);
    const root = kernelRootOf(req.logDirectory);
    if (root) throw new InvalidArgumentError(`config.log_directory ${quote(req.logDirectory)} is under ${root}`);
  }
  if (req.cgroupParent.split('/').includes('..')) throw new InvalidArgumentError(`config.linux.cgroup_parent ${quote(req.cgroupParent)} contains a ".." component`);
  for (const s of req.dns?.servers ?? []) {
    if (!net.isIP(s)) throw new InvalidArgumentError(`${what}: dns server "${s}" is not an IP address`);
  }
  for (const d of [...(req.dns?.searches ?? []), ...(req.dns?.options ?? [])]) {
    if (/\s/.test(d) || !d) throw new InvalidArgumentError(`${what}: invalid dns search or option "${d}"`);
  }
  for (const p of req.portMappings) {
    if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) {
      throw new InvalidArgumentError(`${what}: port mapping has invalid container_port ${p.containerPort}`);
    }
    if (!Number.isInteger(p.hostPort) || p.hostPort < 0 || p.hostPort > 65535) {
      throw new InvalidArgumentError(`${what}: port mapping has invalid host_port ${p.hostPort}`);
    }
    if (p.hostIp && !net.isIP(p.hostIp)) throw new InvalidArgumentError(`${what}: port mapping host_ip "${p.hostIp}" is not an IP address`);
  }
  for (const [key, value] of Object.entries(req.sysctls)) {
    const kind = sysctlNamespace(key);
    if (!kind) throw new InvalidArgumentError(`${what}: sysctl "${key}" is not namespaced and cannot be set for a pod`);
    if (kind === 'net' && ns.network === 'NODE') throw new InvalidArgumentError(`${what}: sysctl "${key}" needs the pod's own network namespace, but the pod uses the host network`);
    if (kind === 'ipc' && ns.ipc === 'NODE') throw new InvalidArgumentError(`${what}: sysctl "${key}" needs the pod's own IPC namespace, but the pod uses the host IPC`);
    if (/[\0\n]/.test(value) || key.includes('..') || /[\0=]/.test(key)) throw new InvalidArgumentError(`${what}: invalid sysctl ${key}=${value}`);
    try {
      await access(sysctlProbePath(key));
    } catch {
      throw new InvalidArgumentError(`${what}: unknown sysctl "${key}"`);
    }
  }
  for (const key of ['kubernetes.io/ingress-bandwidth', 'kubernetes.io/egress-bandwidth']) {
    const v = req.annotations[key];
    if (v !== undefined && parseQuantity(v) === undefined) throw new InvalidArgumentError(`${what}: annotation ${key}="${v}" is not a quantity`);
  }
  return handler;
}

const MAX_ID = 2 ** 32 - 1;

/**
 * User namespace options: NODE (or none) without mappings, or POD with exactly one uid and one
 * gid mapping that maps container id 0 (kubelet sends one range per pod). A POD user namespace
 * owns the pod's IPC and PID namespaces, so those cannot be the host's; the host network is
 * allowed (RuntimeFeatures.user_namespaces_host_network): containers then get the host's /sys
 * bound read-only instead of a sysfs of their own.
 */
function validateUserns(what: string, ns: SandboxRequest['namespaces']): void {
  const mode = ns.usernsMode ?? 'NODE';
  const uids = ns.uids ?? [];
  const gids = ns.gids ?? [];
  if (mode === 'NODE') {
    if (uids.length || gids.length) throw new InvalidArgumentError(`${what}: user namespace mode NODE takes no uid/gid mappings`);
    return;
  }
  if (mode !== 'POD') throw new InvalidArgumentError(`${what}: user namespace mode ${mode} is not supported (only NODE or POD)`);
  for (const [kind, maps] of [['uid', uids], ['gid', gids]] as const) {
    if (maps.length !== 1) throw new InvalidArgumentError(`${what}: user namespace mode POD needs exactly one ${kind} mapping, got ${maps.length}`);
    const m = maps[0]!;
    if (!(m.length >= 1) || m.hostId + m.length - 1 > MAX_ID || m.containerId + m.length - 1 > MAX_ID) {
      throw new InvalidArgumentError(`${what}: invalid ${kind} mapping ${m.containerId}:${m.hostId}:${m.length}`);
    }
    if (m.containerId !== 0) throw new InvalidArgumentError(`${what}: the ${kind} mapping must map container id 0 (got ${m.containerId}:${m.hostId}:${m.length})`);
  }
  for (const [kind, mode2] of [['ipc', ns.ipc], ['pid', ns.pid]] as const) {
    if (mode2 === 'NODE') throw new InvalidArgumentError(`${what}: a pod user namespace cannot be combined with the host ${kind} namespace`);
  }
}

const SUFFIX: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes resource quantity ("10M", "1Gi", "500k") as a number; undefined if malformed. */
export function parseQuantity(q: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)([kMGTPE]i?|Ki|)$/.exec(q.trim());
  if (!m) return undefined;
  const mul = SUFFIX[m[2]!];
  return mul === undefined ? undefined : Math.round(Number(m[1]) * mul);
}
