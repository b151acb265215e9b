// What the dashboard's API answers: the shapes both the server (pkg/dashboard/*.ts, which fills
// them from the services) and the page scripts read. Types only. Times are milliseconds since
// the epoch (0: not yet), which the browser's Date takes as they are.

export type ContainerStateName = 'created' | 'running' | 'exited' | 'unknown';

export interface PodView {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: 'ready' | 'notready';
  createdAt: number;
  ip: string;
  additionalIps: string[];
  handler: string;
  hostNetwork: boolean;
  containers: { id: string; name: string; state: ContainerStateName }[];
  /** kubelet's count: per container name, the attempt of its newest instance, added up. */
  restarts: number;
}

export interface ContainerView {
  id: string;
  name: string;
  attempt: number;
  podId: string;
  podName: string;
  podNamespace: string;
  state: ContainerStateName;
  image: string;
  imageId: string;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  /** Only for exited containers. */
  exitCode: number | null;
  reason: string;
  message: string;
  handler: string;
  pid: number;
  hasLog: boolean;
}

export interface ImageView {
  id: string;
  tags: string[];
  digests: string[];
  size: number;
  pinned: boolean;
  usedBy: { id: string; name: string; podName: string; state: ContainerStateName }[];
}

export interface PullView {
  id: number;
  ref: string;
  startedAt: number;
  finishedAt?: number;
  outcome?: 'ok' | 'error';
  imageId?: string;
  error?: string;
  /** Per layer: compressed size, bytes downloaded, state. */
  layers: { digest: string; size: number; current: number; state: 'waiting' | 'downloading' | 'extracting' | 'done' | 'exists' }[];
}

export interface NodeView {
  runtime: { name: string; version: string; apiVersion: string };
  handlers: { name: string; path: string; isDefault: boolean }[];
  cgroup: { version: number | null; driver: string };
  conditions: { type: string; status: boolean; reason: string; message: string }[];
  disk: { mountpoint: string; usedBytes: number; inodesUsed: number; what: string }[];
  counts: { pods: number; readyPods: number; containers: number; running: number; images: number };
  pulls: { running: PullView[]; ended: PullView[] };
  daemon: { pid: number; uptimeSeconds: number; rssBytes: number };
  host: { hostname: string; kernel: string; cpus: number; memoryBytes: number };
}

export interface FeedEvent {
  seq: number;
  time: number;
  kind: 'container' | 'pod' | 'image';
  action: string;
  id: string;
  name: string;
  podName: string;
  podNamespace: string;
  detail: string;
}

export interface LogLine {
  time: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** One stats sample: time and per container [CPU cores, working set bytes]. */
export interface Tick {
  t: number;
  values: Record<string, [number, number]>;
}

/** A container's recent samples: parallel arrays, oldest first. */
export interface Series {
  t: number[];
  cpu: number[];
  mem: number[];
}

export interface StatsHistory {
  intervalMs: number;
  series: Record<string, Series>;
}
