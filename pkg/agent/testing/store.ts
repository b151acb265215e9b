// The object store behind the test API server: one resourceVersion counter for every object
// (as etcd's revision is), an event history for watches from a resourceVersion, and
// compaction, after which a watch from an older resourceVersion is answered 410 Gone.
import { randomUUID } from 'node:crypto';
import type { Json } from './patch.js';

export type KubeObject = { [k: string]: Json } & { metadata: Metadata };

export interface Metadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: Json | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  resource: string;
  type: WatchEventType;
  object: KubeObject;
}

export interface Watcher {
  resource: string;
  matches(obj: KubeObject): boolean;
  send(type: WatchEventType, obj: KubeObject): void;
}

const key = (resource: string, namespace: string | undefined, name: string) => `${resource}/${namespace ?? ''}/${name}`;

export class ObjectStore {
  private rv = 1;
  /** Events with rv > compactedAt are kept for watches. */
  private compactedAt = 0;
  private readonly objects = new Map<string, KubeObject>();
  private history: StoredEvent[] = [];
  readonly watchers = new Set<Watcher>();

  get resourceVersion(): string {
    return String(this.rv);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.objects.get(key(resource, namespace, name));
    return o && structuredClone(o);
  }

  list(resource: string, namespace: string | undefined): KubeObject[] {
    const prefix = namespace === undefined ? `${resource}/` : key(resource, namespace, '');
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, o]) => structuredClone(o));
  }

  /** Stores a new or changed object under the next resourceVersion and tells the watches. */
  put(resource: string, obj: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    if (type === 'ADDED') {
      stored.metadata.uid = randomUUID();
      stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    }
    this.objects.set(key(resource, stored.metadata.namespace, stored.metadata.name), stored);
    this.record(resource, type, stored);
    return structuredClone(stored);
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const k = key(resource, namespace, name);
    const old = this.objects.get(k);
    if (!old) return undefined;
    this.objects.delete(k);
    // A deletion is a change too: the object carries the resourceVersion of its deletion.
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record(resource, 'DELETED', gone);
    return structuredClone(gone);
  }

  private record(resource: string, type: WatchEventType, obj: KubeObject): void {
    this.history.push({ rv: Number(obj.metadata.resourceVersion), resource, type, object: obj });
    for (const w of this.watchers) if (w.resource === resource && w.matches(obj)) w.send(type, structuredClone(obj));
  }

  /** Events after `from` for a watch, or undefined when `from` is older than the kept history. */
  since(resource: string, from: number): StoredEvent[] | undefined {
    if (from < this.compactedAt) return undefined;
    return this.history.filter((e) => e.resource === resource && e.rv > from);
  }

  /** Drops the history up to now, as etcd compaction does; older resourceVersions are then gone. */
  compact(): void {
    this.compactedAt = this.rv;
    this.history = [];
  }

  get compactedRevision(): number {
    return this.compactedAt;
  }
}
