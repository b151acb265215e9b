// Stand-in services for the dashboard's unit tests: sandboxes, containers and images held in
// maps, with the event emitters the real services publish.
import { EventEmitter } from 'node:events';
import type { ContainerEvent, ContainerEvents, ContainerInfo, ContainerService } from '../container/types.js';
import { DEFAULT_CONFIG } from '../config/config.js';
import { NotFoundError } from '../errors/errors.js';
import { Cgroups } from '../cgroups/cgroups.js';
import type { DaemonContext } from '../cri/module.js';
import { PullActivity } from '../image/activity.js';
import type { ImageRecord, ImageService } from '../image/types.js';
import { silentLogger } from '../log/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SandboxEvent, SandboxInfo, SandboxService } from '../sandbox/types.js';
import { Registry } from 'prom-client';

export const sec = (s: number): bigint => BigInt(s) * 1_000_000_000n;

export function sandbox(id: string, patch: Partial<SandboxInfo> = {}): SandboxInfo {
  return {
    id, name: `pod-${id.slice(0, 4)}`, namespace: 'default', uid: `uid-${id}`, attempt: 0, state: 'SANDBOX_READY', createdAt: sec(1000),
    runtimeHandler: '', netnsPath: `/run/berth/ns/net/${id}`, pidMode: 'CONTAINER', cgroupParent: '/berth', logDirectory: '/var/log/pods/x',
    hostsPath: '', resolvConfPath: '', hostnamePath: '', hostname: 'h', ip: '10.88.0.2', additionalIps: [],
    labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'SECRET-ANNOTATION' },
    sysctls: {}, portMappings: [], linux: { privileged: false, supplementalGroups: [], readonlyRootfs: false }, ...patch,
  };
}

export function container(id: string, sandboxId: string, patch: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id, sandboxId, name: `ctr-${id.slice(0, 4)}`, attempt: 0, state: 'CONTAINER_RUNNING', createdAt: sec(1001), startedAt: sec(1002), finishedAt: 0n,
    exitCode: 0, reason: '', message: '', image: 'docker.io/library/busybox:latest', imageId: 'sha256:aaa', imageRef: 'sha256:aaa',
    runtimeHandler: 'runc', logPath: '/var/log/pods/x/c.log', pid: 4242, labels: {}, annotations: { secret: 'SECRET-ANNOTATION' },
    user: { uid: 0, gid: 0, additionalGids: [] }, bundle: '', stopSignal: 15,
    config: {
      name: 'c', attempt: 0, image: 'busybox', command: ['sh', '-c', 'login --password=SECRET-ARG'], args: [], workingDir: '',
      envs: [{ key: 'DB_PASSWORD', value: 'SECRET-ENV' }], mounts: [], devices: [], labels: {}, annotations: {}, logPath: 'c.log',
      stdin: false, stdinOnce: false, tty: false,
      security: {
        capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
        namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' }, readonlyRootfs: false,
        supplementalGroups: [], supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [],
      },
    },
    ...patch,
  };
}

export function image(id: string, tags: string[], size = 1000): ImageRecord {
  return { id, repoTags: tags, repoDigests: [], size, user: '', pinned: false };
}

export interface FakeNode {
  ctx: DaemonContext;
  pods: Map<string, SandboxInfo>;
  ctrs: Map<string, ContainerInfo>;
  images: Map<string, ImageRecord>;
  pulls: PullActivity;
  /** `sandboxId` for a container already gone from the map (deleted). */
  emitContainer(type: ContainerEvent['type'], id: string, sandboxId?: string): void;
  emitSandbox(type: SandboxEvent['type'], id: string): void;
}

export function fakeNode(): FakeNode {
  const pods = new Map<string, SandboxInfo>();
  const ctrs = new Map<string, ContainerInfo>();
  const images = new Map<string, ImageRecord>();
  const pulls = new PullActivity();
  const cEvents = new EventEmitter() as ContainerEvents;
  const sEvents = new EventEmitter();
  const find = <T>(m: Map<string, T>, what: string, id: string): T => {
    const hit = [...m.entries()].filter(([k]) => k.startsWith(id));
    if (hit.length !== 1) throw new NotFoundError(`${what} "${id}" not found`);
    return hit[0]![1];
  };
  const containers = { get: (id: string) => find(ctrs, 'container', id), list: () => [...ctrs.values()], events: cEvents } as Partial<ContainerService>;
  const sandboxes = { get: (id: string) => find(pods, 'pod sandbox', id), list: () => [...pods.values()], events: sEvents } as Partial<SandboxService>;
  const imageSvc = {
    list: () => [...images.values()], pulls,
    imageFsUsage: async () => ({ mountpoint: '/var/lib/berth/images', usedBytes: 5000, inodesUsed: 12 }),
    writableFsUsage: async () => ({ mountpoint: '/var/lib/berth/containers', usedBytes: 300, inodesUsed: 4 }),
  } as Partial<ImageService>;
  const ctx: DaemonContext = {
    config: structuredClone(DEFAULT_CONFIG), log: silentLogger(), store: undefined as never,
    cgroups: new Cgroups({ version: 2, unified: { mountpoint: '/sys/fs/cgroup', root: '/' } }, 'cgroupfs', '/berth', ['cpu', 'memory', 'pids'], false),
    metrics: { registry: new Registry() } as Metrics,
    services: { containers: containers as ContainerService, sandboxes: sandboxes as SandboxService, images: imageSvc as ImageService },
    conditions: new Map([['RuntimeReady', () => ({ type: 'RuntimeReady', status: true, reason: '', message: '' })]]),
    onConfigChange: () => undefined,
  };
  const now = () => BigInt(Date.now()) * 1_000_000n;
  return {
    ctx, pods, ctrs, images, pulls,
    emitContainer: (type, id, sandboxId) => cEvents.emit('event', { type, containerId: id, sandboxId: sandboxId ?? ctrs.get(id)?.sandboxId ?? '', createdAt: now() }),
    emitSandbox: (type, id) => sEvents.emit('event', { type, sandboxId: id, createdAt: now() }),
  };
}
