// A CDI spec file as the CDI specification defines it (cdiVersion 0.3.0 … 1.1.0), after parsing
// and validation. Field names are the file's.
import type { OciIntelRdt } from '../container/oci.js';

export type HookName = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';
export const HOOK_NAMES: readonly HookName[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export interface DeviceNode {
  /** Path in the container. */
  path: string;
  /** Path on the host (0.5.0+); `path` when absent. */
  hostPath?: string;
  /** b (block), c (char), u (unbuffered char), p (fifo); looked up on the host when absent. */
  type?: 'b' | 'c' | 'u' | 'p';
  major?: number;
  minor?: number;
  fileMode?: number;
  /** cgroup access: any of r, w, m; empty = rwm; "none" = no access rule. */
  permissions?: string;
  uid?: number;
  gid?: number;
}

export interface Mount {
  hostPath: string;
  containerPath: string;
  options?: string[];
  /** 0.4.0+ */
  type?: string;
}

export interface Hook {
  hookName: HookName;
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds; > 0. */
  timeout?: number;
}

/** 0.7.0+; schemata and enableMonitoring 1.1.0+; enableCMT and enableMBM before 1.1.0. The OCI field names. */
export type IntelRdt = OciIntelRdt;

/** 1.1.0+: a host network interface moved into the container under `name`. */
export interface NetDevice {
  hostInterfaceName: string;
  name: string;
}

export interface ContainerEdits {
  env?: string[];
  deviceNodes?: DeviceNode[];
  mounts?: Mount[];
  hooks?: Hook[];
  intelRdt?: IntelRdt;
  /** 0.7.0+ */
  additionalGids?: number[];
  netDevices?: NetDevice[];
}

export interface Device {
  name: string;
  /** 0.6.0+ */
  annotations?: Record<string, string>;
  containerEdits: ContainerEdits;
}

export interface Spec {
  cdiVersion: string;
  kind: string;
  /** 0.6.0+ */
  annotations?: Record<string, string>;
  devices: Device[];
  containerEdits?: ContainerEdits;
}
