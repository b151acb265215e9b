// The dashboard's views of the node, shaped from the same in-memory indexes the CRI list calls
// serve (one pass over the sandboxes, containers and images; no runtime call per row). What a
// view leaves out on purpose: container env (values may be secrets, and CRI marks none), command
// lines and annotations (both often carry credentials), registry credentials (never kept).
import type { ContainerInfo, ContainerState } from '../container/types.js';
import type { ImageRecord } from '../image/types.js';
import type { SandboxInfo } from '../sandbox/types.js';
import type { ContainerStateName, ContainerView, ImageView, PodView } from './web/views.js';

export type { ContainerView, ImageView, PodView } from './web/views.js';

const ms = (ns: bigint): number => Number(ns / 1_000_000n);

const STATE: Record<ContainerState, ContainerStateName> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
  CONTAINER_UNKNOWN: 'unknown',
};

/** Restarts of a pod's containers: the attempt of each name's newest container, summed. */
export function restartCount(ctrs: ContainerInfo[]): number {
  const newest = new Map<string, number>();
  for (const c of ctrs) newest.set(c.name, Math.max(newest.get(c.name) ?? 0, c.attempt));
  let n = 0;
  for (const a of newest.values()) n += a;
  return n;
}

/** Containers grouped by sandbox id, in one pass. */
export function bySandbox(ctrs: ContainerInfo[]): Map<string, ContainerInfo[]> {
  const out = new Map<string, ContainerInfo[]>();
  for (const c of ctrs) {
    const list = out.get(c.sandboxId);
    if (list) list.push(c);
    else out.set(c.sandboxId, [c]);
  }
  return out;
}

const newestFirst = <T extends { createdAt: number }>(a: T, b: T) => b.createdAt - a.createdAt;

export function podViews(sandboxes: SandboxInfo[], ctrs: ContainerInfo[]): PodView[] {
  const grouped = bySandbox(ctrs);
  return sandboxes
    .map((s): PodView => {
      const mine = grouped.get(s.id) ?? [];
      return {
        id: s.id, name: s.name, namespace: s.namespace, uid: s.uid, attempt: s.attempt,
        state: s.state === 'SANDBOX_READY' ? 'ready' : 'notready',
        createdAt: ms(s.createdAt), ip: s.ip ?? '', additionalIps: s.additionalIps, handler: s.runtimeHandler,
        hostNetwork: s.netnsPath === undefined,
        containers: mine.map((c) => ({ id: c.id, name: c.name, state: STATE[c.state] })),
        restarts: restartCount(mine),
      };
    })
    .sort(newestFirst);
}

export function containerView(c: ContainerInfo, pod: SandboxInfo | undefined): ContainerView {
  const exited = c.state === 'CONTAINER_EXITED';
  return {
    id: c.id, name: c.name, attempt: c.attempt, podId: c.sandboxId, podName: pod?.name ?? '', podNamespace: pod?.namespace ?? '',
    state: STATE[c.state], image: c.image, imageId: c.imageId,
    createdAt: ms(c.createdAt), startedAt: ms(c.startedAt), finishedAt: ms(c.finishedAt),
    exitCode: exited ? c.exitCode : null, reason: c.reason, message: c.message,
    handler: c.runtimeHandler, pid: c.state === 'CONTAINER_RUNNING' ? c.pid : 0, hasLog: c.logPath !== '',
  };
}

export function containerViews(ctrs: ContainerInfo[], sandboxes: SandboxInfo[]): ContainerView[] {
  const pods = new Map(sandboxes.map((s) => [s.id, s]));
  return ctrs.map((c) => containerView(c, pods.get(c.sandboxId))).sort(newestFirst);
}

export function imageViews(images: ImageRecord[], ctrs: ContainerInfo[], sandboxes: SandboxInfo[]): ImageView[] {
  const pods = new Map(sandboxes.map((s) => [s.id, s]));
  const users = new Map<string, ImageView['usedBy']>();
  for (const c of ctrs) {
    const u = { id: c.id, name: c.name, podName: pods.get(c.sandboxId)?.name ?? '', state: STATE[c.state] };
    const list = users.get(c.imageId);
    if (list) list.push(u);
    else users.set(c.imageId, [u]);
  }
  return images
    .map((i) => ({ id: i.id, tags: i.repoTags, digests: i.repoDigests, size: i.size, pinned: i.pinned, usedBy: users.get(i.id) ?? [] }))
    .sort((a, b) => (a.tags[0] ?? a.id).localeCompare(b.tags[0] ?? b.id));
}
