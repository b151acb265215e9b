// The container domain's plain types, published on ctx.services.containers for the streaming
// and stats modules. pkg/cri converts CRI messages to and from these.
import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type Propagation = 'PRIVATE' | 'HOST_TO_CONTAINER' | 'BIDIRECTIONAL';

export interface MountInput {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation: Propagation;
  /** Recursive read-only (rro) where the runtime supports it. */
  recursiveReadOnly: boolean;
  selinuxRelabel: boolean;
  /** An image volume (KEP-4639): the image as named; hostPath is then berth's read-only view of it. */
  image?: string;
  /** The image's ID, once resolved at create. */
  imageId?: string;
  /** A directory inside the image to mount instead of its root. */
  imageSubPath?: string;
}

export interface DeviceInput {
  containerPath: string;
  hostPath: string;
  /** cgroup permissions: any of r, w, m. */
  permissions: string;
}

export interface ResourcesInput {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
  memorySwapLimitInBytes?: number;
  oomScoreAdj?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  hugepageLimits: { pageSize: string; limit: number }[];
  unified: Record<string, string>;
}

export interface SecurityProfileInput {
  type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostRef?: string;
}

export interface SecurityInput {
  capabilities: { add: string[]; drop: string[]; addAmbient: string[] };
  privileged: boolean;
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string };
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername?: string;
  readonlyRootfs: boolean;
  supplementalGroups: number[];
  /** Merge adds the image's /etc/group memberships of the user; Strict uses only the CRI's list. */
  supplementalGroupsPolicy: 'Merge' | 'Strict';
  noNewPrivs: boolean;
  /** Empty = the runtime's defaults (CRI sends none when kubelet wants the default). */
  maskedPaths: string[];
  readonlyPaths: string[];
  seccomp?: SecurityProfileInput;
  apparmor?: SecurityProfileInput;
}

/** CreateContainer's ContainerConfig as plain data. */
export interface ContainerConfigInput {
  name: string;
  attempt: number;
  /** The image as the caller named it (reference or id). */
  image: string;
  command: string[];
  args: string[];
  workingDir: string;
  envs: { key: string; value: string }[];
  mounts: MountInput[];
  devices: DeviceInput[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Relative to the sandbox's log directory. */
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  resources?: ResourcesInput;
  security: SecurityInput;
  /** Linux number of the CRI stop_signal; undefined = the image's StopSignal (or SIGTERM). */
  stopSignal?: number;
  /** Qualified CDI device names (ContainerConfig.CDI_devices); `cdi.k8s.io/*` annotations add more. */
  cdiDevices?: string[];
}

export interface ContainerUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface ContainerInfo {
  id: string;
  sandboxId: string;
  name: string;
  attempt: number;
  state: ContainerState;
  /** Unix nanoseconds; 0n when not yet. */
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  /** Completed, Error, OOMKilled or '' while running. */
  reason: string;
  /** Termination message, or why the state is what it is. */
  message: string;
  /** As the caller named it. */
  image: string;
  /** Image ID (config digest). */
  imageId: string;
  /** repo@digest when known, else the image ID. */
  imageRef: string;
  runtimeHandler: string;
  /** Absolute log file path ('' when the sandbox has no log directory). */
  logPath: string;
  pid: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  config: ContainerConfigInput;
  user: ContainerUser;
  bundle: string;
  /** Linux number of the signal StopContainer sends (CRI override, else the image's, else SIGTERM). */
  stopSignal: number;
  /** linux.cgroupsPath in the form of the cgroup driver that made it (pkg/cgroups). */
  cgroupsPath?: string;
}

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  sandboxId?: string;
  labelSelector?: Record<string, string>;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface ExecOptions {
  tty: boolean;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Terminal size changes (tty only). */
  resize?: AsyncIterable<{ width: number; height: number }>;
}

export interface ExecProcess {
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
  /** Kills the exec'd process (SIGKILL). */
  kill(): void;
}

export type ContainerEventType =
  | 'CONTAINER_CREATED_EVENT'
  | 'CONTAINER_STARTED_EVENT'
  | 'CONTAINER_STOPPED_EVENT'
  | 'CONTAINER_DELETED_EVENT';

export interface ContainerEvent {
  type: ContainerEventType;
  containerId: string;
  sandboxId: string;
  /** Unix nanoseconds of the event. */
  createdAt: bigint;
}

export interface ContainerEvents extends EventEmitter {
  on(event: 'event', listener: (e: ContainerEvent) => void): this;
  off(event: 'event', listener: (e: ContainerEvent) => void): this;
  emit(event: 'event', e: ContainerEvent): boolean;
}

export interface ContainerService {
  /** NotFoundError naming the id; accepts a unique id prefix as crictl does. */
  get(id: string): ContainerInfo;
  list(filter?: ContainerFilter): ContainerInfo[];
  /** As list, lazily: for streaming without copying the index. */
  iterate(filter?: ContainerFilter): Iterable<ContainerInfo>;
  create(sandboxId: string, config: ContainerConfigInput): Promise<string>;
  start(id: string): Promise<void>;
  /** timeoutSec 0 kills at once; stopping an exited container succeeds. */
  stop(id: string, timeoutSec: number): Promise<void>;
  /** Unknown ids succeed. */
  remove(id: string): Promise<void>;
  /** timeoutSec 0 = none; a timeout kills the process and throws DeadlineExceededError. */
  execSync(id: string, cmd: string[], timeoutSec: number, signal?: AbortSignal): Promise<ExecSyncResult>;
  /** Streaming exec in the container's namespaces, user, env and cwd (no TTY: see execCommand). */
  exec(id: string, cmd: string[], opts: ExecOptions): Promise<ExecProcess>;
  /**
   * The runtime argv (`<runtime> --root R exec --process FILE ID`) of an exec that the caller runs
   * itself, e.g. under a pseudo-terminal; `env` is appended to the process env. Call cleanup()
   * once it has exited (removes FILE).
   */
  execCommand(id: string, cmd: string[], env?: string[]): Promise<{ argv: string[]; cleanup(): Promise<void> }>;
  /** conmon's attach socket (SOCK_SEQPACKET; first byte of a packet = stream 1 stdin, 2 stdout, 3 stderr). */
  attachSocketPath(id: string): string;
  /** conmon's control fifo: "1 H W\n" resizes the tty, "2 0 0\n" reopens the log. */
  controlPath(id: string): string;
  reopenLog(id: string): Promise<void>;
  updateResources(id: string, resources: ResourcesInput): Promise<void>;
  /** The OCI spec berth wrote (verbose status). */
  ociSpec(id: string): Promise<unknown>;
  events: ContainerEvents;
}

declare module '../cri/module.js' {
  interface Services {
    containers: ContainerService;
  }
}
