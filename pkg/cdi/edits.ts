// CDI container edits: gathered for the requested devices (each spec's own edits once, then each
// device's), and applied to the OCI spec the container spec builder made, as the CDI library
// applies them. Pure: device nodes come in already completed from the host (registry.ts).
import type { OciDevice, OciHook, OciMount, OciSpec } from '../container/oci.js';
import type { ContainerEdits, DeviceNode } from './types.js';

/** A device node with what the host told about it filled in. */
export interface ResolvedDeviceNode extends DeviceNode {
  type: 'b' | 'c' | 'u' | 'p';
  major: number;
  minor: number;
}

export interface ResolvedEdits extends Omit<ContainerEdits, 'deviceNodes'> {
  deviceNodes?: ResolvedDeviceNode[];
}

/**
 * The edits of the requested devices in order: a spec's own edits (`specEdits`, the same object
 * for devices of one spec) before its first device's, once.
 */
export function gatherEdits<E extends ContainerEdits>(devices: { specEdits?: E; edits: E }[]): E {
  const out = { env: [], deviceNodes: [], mounts: [], hooks: [], additionalGids: [], netDevices: [] } as unknown as Required<ContainerEdits>;
  const add = (e: ContainerEdits | undefined) => {
    if (!e) return;
    out.env.push(...(e.env ?? []));
    out.deviceNodes.push(...(e.deviceNodes ?? []));
    out.mounts.push(...(e.mounts ?? []));
    out.hooks.push(...(e.hooks ?? []));
    out.additionalGids.push(...(e.additionalGids ?? []));
    out.netDevices.push(...(e.netDevices ?? []));
    if (e.intelRdt) out.intelRdt = e.intelRdt;
  };
  const seen = new Set<ContainerEdits>();
  for (const d of devices) {
    if (d.specEdits && !seen.has(d.specEdits)) {
      seen.add(d.specEdits);
      add(d.specEdits);
    }
    add(d.edits);
  }
  return out as E;
}

const depth = (p: string) => p.replace(/\/+$/, '').split('/').filter(Boolean).length;

/** Returns `spec` with the edits applied; `spec` itself is not changed. */
export function applyEdits(input: OciSpec, e: ResolvedEdits): OciSpec {
  const spec = structuredClone(input);
  const proc = spec.process;
  for (const kv of e.env ?? []) {
    const key = kv.slice(0, kv.indexOf('='));
    const at = proc.env.findIndex((x) => x === key || x.startsWith(`${key}=`));
    if (at >= 0) proc.env[at] = kv;
    else proc.env.push(kv);
  }
  for (const n of e.deviceNodes ?? []) {
    const dev: OciDevice = { path: n.path, type: n.type, major: n.major, minor: n.minor };
    if (n.fileMode !== undefined) dev.fileMode = n.fileMode;
    // Owned by the container's user unless the spec says otherwise.
    const uid = n.uid ?? (proc.user.uid > 0 ? proc.user.uid : undefined);
    const gid = n.gid ?? (proc.user.gid > 0 ? proc.user.gid : undefined);
    if (uid !== undefined) dev.uid = uid;
    if (gid !== undefined) dev.gid = gid;
    const devices = (spec.linux.devices ??= []);
    const at = devices.findIndex((d) => d.path === n.path);
    if (at >= 0) devices[at] = dev;
    else devices.push(dev);
    // "none" grants nothing: the CDI library writes an allow rule with empty access for it,
    // which runc 1.1 refuses, so none is written.
    if ((n.type === 'b' || n.type === 'c') && n.permissions !== 'none') {
      (spec.linux.resources.devices ??= []).push({ allow: true, type: n.type, major: n.major, minor: n.minor, access: n.permissions || 'rwm' });
    }
  }
  for (const d of e.netDevices ?? []) (spec.linux.netDevices ??= {})[d.hostInterfaceName] = { name: d.name };
  if (e.mounts?.length) {
    for (const m of e.mounts) {
      const at = spec.mounts.findIndex((x) => x.destination === m.containerPath);
      if (at >= 0) spec.mounts.splice(at, 1);
      const om: OciMount = { destination: m.containerPath, source: m.hostPath };
      if (m.type) om.type = m.type;
      if (m.options) om.options = [...m.options];
      spec.mounts.push(om);
    }
    // Parents before children (stable), as the CDI library and CRI-O order mounts.
    spec.mounts = spec.mounts.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i).map((x) => x.m);
  }
  for (const h of e.hooks ?? []) {
    const oh: OciHook = { path: h.path };
    if (h.args) oh.args = [...h.args];
    if (h.env) oh.env = [...h.env];
    if (h.timeout !== undefined) oh.timeout = h.timeout;
    ((spec.hooks ??= {})[h.hookName] ??= []).push(oh);
  }
  if (e.intelRdt) spec.linux.intelRdt = { ...e.intelRdt };
  for (const gid of e.additionalGids ?? []) {
    const gids = (proc.user.additionalGids ??= []);
    if (gid !== 0 && !gids.includes(gid)) gids.push(gid);
  }
  return spec;
}
