// What the agent tells the cluster about its node: labels and annotations under berth.io/,
// made from berth's own verbose Status (handlers and their features, cgroup version, CDI), and
// patches that touch only those keys: keys berth no longer reports are removed, everyone
// else's labels and annotations are left alone.
import type { StatusResponse__Output } from '../cri/gen/runtime/v1/StatusResponse.js';
import type { VersionResponse__Output } from '../cri/gen/runtime/v1/VersionResponse.js';

export const PREFIX = 'berth.io/';
export const READY_LABEL = `${PREFIX}runtime`;

export interface HandlerFacts {
  name: string;
  userNamespaces: boolean;
  recursiveReadOnlyMounts: boolean;
}

export interface NodeFacts {
  version: string;
  /** RuntimeReady is true: berth can run containers. */
  ready: boolean;
  handlers: HandlerFacts[];
  cgroupVersion: string;
  cdi: boolean;
}

export function factsFromStatus(version: VersionResponse__Output, status: StatusResponse__Output): NodeFacts {
  const conditions = status.status?.conditions ?? [];
  const features = JSON.parse(status.info.features ?? '{}') as { cgroupVersion?: string; cdi?: boolean };
  return {
    version: version.runtime_version,
    ready: conditions.some((c) => c.type === 'RuntimeReady' && c.status),
    // The default handler is listed a second time under the empty name.
    handlers: status.runtime_handlers.filter((h) => h.name).map((h) => ({
      name: h.name,
      userNamespaces: !!h.features?.user_namespaces,
      recursiveReadOnlyMounts: !!h.features?.recursive_read_only_mounts,
    })),
    cgroupVersion: features.cgroupVersion ?? 'unknown',
    cdi: !!features.cdi,
  };
}

/** A label value: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends. */
export function labelValue(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export interface NodeMetadata {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function nodeMetadata(f: NodeFacts): NodeMetadata {
  const labels: Record<string, string> = {
    [`${PREFIX}version`]: labelValue(f.version),
    [`${PREFIX}cgroup`]: labelValue(f.cgroupVersion),
    [`${PREFIX}user-namespaces`]: String(f.handlers.some((h) => h.userNamespaces)),
    [`${PREFIX}cdi`]: String(f.cdi),
  };
  // Only a runtime that can run containers draws pods: RuntimeClasses select on this label.
  if (f.ready) labels[READY_LABEL] = 'ready';
  const handlers = Object.fromEntries(f.handlers.map((h) => [h.name, { userNamespaces: h.userNamespaces, recursiveReadOnlyMounts: h.recursiveReadOnlyMounts }]));
  return {
    labels,
    annotations: {
      [`${PREFIX}handlers`]: f.handlers.map((h) => h.name).join(','),
      [`${PREFIX}features`]: JSON.stringify({ handlers, cgroupVersion: f.cgroupVersion, cdi: f.cdi }),
    },
  };
}

type Patchable = Record<string, string | null>;

function diffOwned(current: Record<string, string> | undefined, want: Record<string, string>): Patchable {
  const out: Patchable = {};
  for (const [k, v] of Object.entries(want)) if (current?.[k] !== v) out[k] = v;
  for (const k of Object.keys(current ?? {})) if (k.startsWith(PREFIX) && !(k in want)) out[k] = null;
  return out;
}

/**
 * The patch (strategic merge or JSON merge: the same for these maps) that brings the node's
 * berth.io/ labels and annotations to `want`, or undefined when they already are.
 */
export function nodePatch(current: Partial<NodeMetadata>, want: NodeMetadata): { metadata: Partial<Record<'labels' | 'annotations', Patchable>> } | undefined {
  const labels = diffOwned(current.labels, want.labels);
  const annotations = diffOwned(current.annotations, want.annotations);
  const metadata: Partial<Record<'labels' | 'annotations', Patchable>> = {};
  if (Object.keys(labels).length) metadata.labels = labels;
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  return Object.keys(metadata).length ? { metadata } : undefined;
}
