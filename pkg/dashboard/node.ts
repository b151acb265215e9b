// The node summary: runtime version and handlers, cgroup layout, Status conditions, image store
// and writable-layer disk use, object counts, pulls under way, and the daemon's own footprint.
import os from 'node:os';
import type { DaemonContext } from '../cri/module.js';
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from '../version/version.js';
import type { NodeView } from './web/views.js';

export async function nodeView(ctx: DaemonContext): Promise<NodeView> {
  const { sandboxes, containers, images } = ctx.services;
  const [conditions, imageFs, writableFs] = await Promise.all([
    Promise.all([...ctx.conditions.values()].map(async (f) => f())),
    images?.imageFsUsage(),
    images?.writableFsUsage(),
  ]);
  const pods = sandboxes?.list() ?? [];
  const ctrs = containers?.list() ?? [];
  const disk: NodeView['disk'] = [];
  if (imageFs) disk.push({ ...imageFs, what: 'image store (layers and blobs)' });
  if (writableFs) disk.push({ ...writableFs, what: 'container writable layers' });
  const { runtime } = ctx.config;
  return {
    runtime: { name: RUNTIME_NAME, version: VERSION, apiVersion: CRI_API_VERSION },
    handlers: Object.entries(runtime.handlers).map(([name, h]) => ({ name, path: h.path, isDefault: name === runtime.default_handler })),
    cgroup: { version: ctx.cgroups.version ?? null, driver: ctx.cgroups.driver },
    conditions: conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    disk,
    counts: {
      pods: pods.length, readyPods: pods.filter((p) => p.state === 'SANDBOX_READY').length,
      containers: ctrs.length, running: ctrs.filter((c) => c.state === 'CONTAINER_RUNNING').length,
      images: images?.list().length ?? 0,
    },
    pulls: images?.pulls.snapshot() ?? { running: [], ended: [] },
    daemon: { pid: process.pid, uptimeSeconds: Math.round(process.uptime()), rssBytes: process.memoryUsage.rss() },
    host: { hostname: os.hostname(), kernel: os.release(), cpus: os.cpus().length, memoryBytes: os.totalmem() },
  };
}
