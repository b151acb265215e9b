// The sandbox domain's plain types, published on ctx.services.sandboxes for the container module.
import type { ResourcesInput } from '../container/types.js';

export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export interface IdMapping {
  containerId: number;
  hostId: number;
  length: number;
}

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface SandboxLinux {
  privileged: boolean;
  supplementalGroups: number[];
  runAsUser?: number;
  runAsGroup?: number;
  readonlyRootfs: boolean;
  seccompProfile?: { type: string; localhostRef?: string };
  /** Pod-level overhead and resources (the sum of the containers'), as RunPodSandbox or the last UpdatePodSandboxResources gave them. */
  overhead?: ResourcesInput;
  resources?: ResourcesInput;
}

export interface SandboxInfo {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: SandboxState;
  /** Unix nanoseconds. */
  createdAt: bigint;
  runtimeHandler: string;
  /** Pinned namespace files; undefined = the host's namespace (NODE mode). */
  netnsPath?: string;
  ipcnsPath?: string;
  utsnsPath?: string;
  /** Pinned user namespace of a pod with userns mode POD (its net/ipc/uts belong to it). */
  usernsPath?: string;
  /** That namespace's mappings (one each); containers repeat them in their OCI spec. */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  /** POD: containers join the pause process's pid namespace (/proc/<pausePid>/ns/pid). */
  pidMode: 'POD' | 'CONTAINER' | 'NODE';
  pausePid?: number;
  /** Pod cgroup parent as kubelet gave it, or the configured default. */
  cgroupParent: string;
  logDirectory: string;
  /** Files to bind-mount into containers at /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  /** tmpfs to bind at /dev/shm; undefined when the pod uses the host IPC namespace. */
  shmPath?: string;
  hostname: string;
  ip?: string;
  additionalIps: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Namespaced sysctls the pod asked for (already applied in the pod namespaces). */
  sysctls: Record<string, string>;
  portMappings: PortMapping[];
  linux: SandboxLinux;
}

export interface ContainerHooks {
  /** Stops every container of the sandbox (SIGTERM, grace, SIGKILL). */
  stopAll(sandboxId: string): Promise<void>;
  /** Removes every container of the sandbox. */
  removeAll(sandboxId: string): Promise<void>;
}

/** A sandbox lifecycle change, as kubelet's evented PLEG receives it (the sandbox id in container_id). */
export interface SandboxEvent {
  type: 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';
  sandboxId: string;
  /** Nanoseconds since the epoch. */
  createdAt: bigint;
}

export interface SandboxService {
  /** Emits 'event' with a SandboxEvent after each lifecycle change (never blocks on listeners' work). */
  readonly events: import('node:events').EventEmitter;
  /** NotFoundError naming the id; accepts a unique id prefix as crictl does. */
  get(id: string): SandboxInfo;
  list(): SandboxInfo[];
  /** As list, lazily: for streaming without copying the index. */
  iterate(): Iterable<SandboxInfo>;
  /**
   * Runs `fn` holding the pod's lock shared once it is READY (FailedPreconditionError naming
   * `what` otherwise); StopPodSandbox and RemovePodSandbox wait for it and hold the lock alone.
   */
  withReadySandbox<T>(id: string, what: string, fn: (info: SandboxInfo) => Promise<T>): Promise<T>;
  /** The container module registers these so stop/remove of a pod covers its containers. */
  setContainerHooks(hooks: ContainerHooks): void;
}

declare module '../cri/module.js' {
  interface Services {
    sandboxes: SandboxService;
  }
}
