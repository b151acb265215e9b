// The live event feed: container and pod sandbox lifecycle events (the emitters GetContainerEvents
// reads) and image pulls, turned into small rows with names attached, kept as a short history
// and fanned out to the open pages through pkg/events' Broadcaster (a page that stops reading is
// dropped, never waited for).
import type { Registry } from 'prom-client';
import type { ContainerEvent, ContainerService } from '../container/types.js';
import { Broadcaster, type Subscription } from '../events/broadcaster.js';
import type { PullActivity, PullRecord } from '../image/activity.js';
import type { Logger } from '../log/log.js';
import type { SandboxEvent, SandboxService } from '../sandbox/types.js';
import type { FeedEvent } from './web/views.js';

export interface FeedSources {
  containers?: ContainerService;
  sandboxes?: SandboxService;
  pulls?: PullActivity;
}

const ACTION: Record<ContainerEvent['type'], string> = {
  CONTAINER_CREATED_EVENT: 'created',
  CONTAINER_STARTED_EVENT: 'started',
  CONTAINER_STOPPED_EVENT: 'stopped',
  CONTAINER_DELETED_EVENT: 'deleted',
};

interface Names {
  name: string;
  podName: string;
  podNamespace: string;
}

export class EventFeed {
  readonly broadcaster: Broadcaster<FeedEvent>;
  private readonly history: FeedEvent[] = [];
  /** Names of objects seen, so a deleted one (gone from the services) still has its name. */
  private readonly names = new Map<string, Names>();
  private seq = 0;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly src: FeedSources, log: Logger, registry?: Registry, private readonly keep = 200) {
    this.broadcaster = new Broadcaster<FeedEvent>({ name: 'dashboard', log, registry, queueSize: 256 });
    const onCtr = (e: ContainerEvent) => this.onContainer(e);
    const onSb = (e: SandboxEvent) => this.onSandbox(e);
    const onPull = (p: PullRecord) => this.onPull(p);
    src.containers?.events.on('event', onCtr);
    src.sandboxes?.events.on('event', onSb);
    src.pulls?.on('change', onPull);
    this.offs.push(
      () => src.containers?.events.off('event', onCtr),
      () => src.sandboxes?.events.off('event', onSb),
      () => src.pulls?.off('change', onPull),
    );
  }

  /** The last events, oldest first. */
  recent(): FeedEvent[] {
    return [...this.history];
  }

  subscribe(write: (e: FeedEvent) => void | Promise<void>, name: string, onDrop: () => void): Subscription {
    return this.broadcaster.subscribe({ write }, { name, onDrop });
  }

  close(): void {
    for (const off of this.offs) off();
    this.broadcaster.close();
  }

  private podNames(sandboxId: string): { podName: string; podNamespace: string } {
    try {
      const sb = this.src.sandboxes?.get(sandboxId);
      if (sb) return { podName: sb.name, podNamespace: sb.namespace };
    } catch {
      // gone: use what was seen before
    }
    const seen = this.names.get(sandboxId);
    return { podName: seen?.podName ?? '', podNamespace: seen?.podNamespace ?? '' };
  }

  private remember(id: string, n: Names): void {
    this.names.delete(id);
    this.names.set(id, n);
    // Oldest first in a Map's order: forget beyond a bound.
    if (this.names.size > 2000) this.names.delete(this.names.keys().next().value as string);
  }

  private onContainer(e: ContainerEvent): void {
    let c;
    try {
      c = this.src.containers?.get(e.containerId);
    } catch {
      c = undefined;
    }
    const names = c ? { name: c.name, ...this.podNames(e.sandboxId) } : (this.names.get(e.containerId) ?? { name: '', ...this.podNames(e.sandboxId) });
    this.remember(e.containerId, names);
    let detail = '';
    if (e.type === 'CONTAINER_STOPPED_EVENT' && c) detail = `exit code ${c.exitCode}${c.reason ? ` (${c.reason})` : ''}`;
    this.publish({ time: Number(e.createdAt / 1_000_000n), kind: 'container', action: ACTION[e.type], id: e.containerId, ...names, detail });
  }

  private onSandbox(e: SandboxEvent): void {
    const pod = this.podNames(e.sandboxId);
    this.remember(e.sandboxId, { name: pod.podName, ...pod });
    this.publish({ time: Number(e.createdAt / 1_000_000n), kind: 'pod', action: ACTION[e.type], id: e.sandboxId, name: pod.podName, ...pod, detail: '' });
  }

  private onPull(p: PullRecord): void {
    const action = p.outcome === undefined ? 'pulling' : p.outcome === 'ok' ? 'pulled' : 'pull failed';
    const detail = p.outcome === 'ok' ? `${p.imageId ?? ''} in ${((p.finishedAt! - p.startedAt) / 1000).toFixed(1)} s` : (p.error ?? '');
    this.publish({ time: p.finishedAt ?? p.startedAt, kind: 'image', action, id: p.imageId ?? '', name: p.ref, podName: '', podNamespace: '', detail });
  }

  private publish(e: Omit<FeedEvent, 'seq'>): void {
    const ev: FeedEvent = { seq: ++this.seq, ...e };
    this.history.push(ev);
    if (this.history.length > this.keep) this.history.shift();
    this.broadcaster.publish(ev);
  }
}
