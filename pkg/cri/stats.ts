// Stats rpcs (ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats,
// ListMetricDescriptors, ListPodSandboxMetrics), GetContainerEvents (events.ts) and the runtime's
// own gauges. Conversion only; the work is in pkg/stats and pkg/events.
import { Counter, Gauge, Histogram } from '../metrics/metrics.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { containerMetrics, DESCRIPTORS, podMetrics, type MetricContext, type MetricSample } from '../stats/cadvisor.js';
import { StatsCollector } from '../stats/collector.js';
import { BlockDeviceNames } from '../stats/devices.js';
import {
  StatsService, type ContainerStatsFilter, type ContainerStatsResult, type PodStatsFilter, type PodStatsResult,
} from '../stats/service.js';
import { nowNs, type CgroupStats, type NetInterfaceStats, type NetworkStats, type PsiData, type PsiStats } from '../stats/types.js';
import { createEventStream } from './events.js';
import { criServices } from './proto.js';
import type { ContainerStats } from './gen/runtime/v1/ContainerStats.js';
import type { ContainerStatsFilter__Output } from './gen/runtime/v1/ContainerStatsFilter.js';
import type { PodSandboxStatsFilter__Output } from './gen/runtime/v1/PodSandboxStatsFilter.js';
import type { CpuUsage } from './gen/runtime/v1/CpuUsage.js';
import type { IoUsage } from './gen/runtime/v1/IoUsage.js';
import type { PsiData as PsiDataMsg } from './gen/runtime/v1/PsiData.js';
import type { PsiStats as PsiStatsMsg } from './gen/runtime/v1/PsiStats.js';
import type { SwapUsage } from './gen/runtime/v1/SwapUsage.js';
import type { MemoryUsage } from './gen/runtime/v1/MemoryUsage.js';
import type { Metric } from './gen/runtime/v1/Metric.js';
import type { NetworkInterfaceUsage } from './gen/runtime/v1/NetworkInterfaceUsage.js';
import type { NetworkUsage } from './gen/runtime/v1/NetworkUsage.js';
import type { PodSandboxMetrics } from './gen/runtime/v1/PodSandboxMetrics.js';
import type { PodSandboxStats } from './gen/runtime/v1/PodSandboxStats.js';
import { chunked, itemEncoder, serveList } from './list-stream.js';
import type { CriModule, DaemonContext } from './module.js';

declare module './module.js' {
  interface Services {
    stats: StatsService;
  }
}

const u64 = (v: bigint | undefined) => (v === undefined ? null : { value: v.toString() });

const psiData = (d: PsiData | undefined): PsiDataMsg | null =>
  d ? { Total: d.total.toString(), Avg10: d.avg10, Avg60: d.avg60, Avg300: d.avg300 } : null;
const psi = (p: PsiStats | undefined): PsiStatsMsg | null => (p ? { Some: psiData(p.some), Full: psiData(p.full) } : null);

function cpu(s: CgroupStats | undefined): CpuUsage | null {
  if (!s?.cpu) return null;
  return {
    timestamp: s.timestamp.toString(), usage_core_nano_seconds: u64(s.cpu.usageCoreNanoSeconds), usage_nano_cores: u64(s.cpu.usageNanoCores),
    psi: psi(s.cpu.psi),
  };
}

/** IoUsage carries only pressure: none on cgroup v1. */
function io(s: CgroupStats | undefined): IoUsage | null {
  return s?.ioPsi ? { timestamp: s.timestamp.toString(), psi: psi(s.ioPsi) } : null;
}

function swap(s: CgroupStats | undefined): SwapUsage | null {
  if (!s?.swap) return null;
  return { timestamp: s.timestamp.toString(), swap_usage_bytes: u64(s.swap.usageBytes), swap_available_bytes: u64(s.swap.availableBytes) };
}

function memory(s: CgroupStats | undefined): MemoryUsage | null {
  if (!s?.memory) return null;
  const m = s.memory;
  return {
    timestamp: s.timestamp.toString(), working_set_bytes: u64(m.workingSetBytes), available_bytes: u64(m.availableBytes),
    usage_bytes: u64(m.usageBytes), rss_bytes: u64(m.rssBytes), page_faults: u64(m.pageFaults), major_page_faults: u64(m.majorPageFaults),
    psi: psi(m.psi),
  };
}

function iface(i: NetInterfaceStats): NetworkInterfaceUsage {
  return { name: i.name, rx_bytes: u64(i.rxBytes), rx_errors: u64(i.rxErrors), tx_bytes: u64(i.txBytes), tx_errors: u64(i.txErrors) };
}

function network(n: NetworkStats | undefined): NetworkUsage | null {
  if (!n) return null;
  // kubelet names the pod's default interface eth0, as CNI plugins do.
  const def = n.interfaces.find((i) => i.name === 'eth0') ?? n.interfaces[0];
  return { timestamp: n.timestamp.toString(), default_interface: def ? iface(def) : null, interfaces: n.interfaces.map(iface) };
}

export function toContainerStats(r: ContainerStatsResult): ContainerStats {
  const c = r.container;
  const w = r.writableLayer;
  return {
    attributes: { id: c.id, metadata: { name: c.name, attempt: c.attempt }, labels: c.labels, annotations: c.annotations },
    cpu: cpu(r.cgroup),
    memory: memory(r.cgroup),
    swap: swap(r.cgroup),
    io: io(r.cgroup),
    writable_layer: w
      ? { timestamp: w.timestamp.toString(), fs_id: { mountpoint: w.mountpoint }, used_bytes: u64(w.bytes), inodes_used: u64(w.inodes) }
      : null,
  };
}

export function toPodStats(p: PodStatsResult): PodSandboxStats {
  const sb = p.sandbox;
  return {
    attributes: {
      id: sb.id, metadata: { name: sb.name, namespace: sb.namespace, uid: sb.uid, attempt: sb.attempt },
      labels: sb.labels, annotations: sb.annotations,
    },
    linux: {
      cpu: cpu(p.cgroup),
      memory: memory(p.cgroup),
      network: network(p.network),
      process: p.cgroup?.processes !== undefined ? { timestamp: p.cgroup.timestamp.toString(), process_count: u64(p.cgroup.processes) } : null,
      containers: p.containers.map(toContainerStats),
      io: io(p.cgroup),
    },
  };
}

const toMetric = (m: MetricSample): Metric => ({
  name: m.name, timestamp: m.timestamp.toString(), metric_type: m.kind, label_values: m.labelValues, value: { value: m.value.toString() },
});

/** What the metrics of these pods need besides their stats: the names of the block devices they touched. */
export async function metricContext(pods: PodStatsResult[], devices: BlockDeviceNames): Promise<MetricContext> {
  const cgroups = pods.flatMap((p) => [p.cgroup, ...p.containers.map((c) => c.cgroup)]);
  await devices.refresh(cgroups.flatMap((s) => s?.io?.map((i) => i.device) ?? []));
  return { now: nowNs(), deviceName: (d) => devices.name(d) };
}

export function toPodSandboxMetrics(p: PodStatsResult, ctx: MetricContext): PodSandboxMetrics {
  return {
    pod_sandbox_id: p.sandbox.id,
    metrics: podMetrics(p, ctx).map(toMetric),
    container_metrics: p.containers.map((c) => ({ container_id: c.container.id, metrics: containerMetrics(c, p.sandbox, ctx).map(toMetric) })),
  };
}

const containerStatsFilter = (f: ContainerStatsFilter__Output | null): ContainerStatsFilter => ({
  id: f?.id, sandboxId: f?.pod_sandbox_id, labelSelector: f?.label_selector,
});
const podStatsFilter = (f: PodSandboxStatsFilter__Output | null): PodStatsFilter => ({ id: f?.id, labelSelector: f?.label_selector });

/** Stats streams read this many objects' stats at once, then send them before reading more. */
const STATS_GROUP = 64;

/** The metrics read the counters only they use, and block I/O. */
export const METRICS_READ = { extended: true, io: true } as const;

let encodersWarm = false;

/**
 * Encodes one pod's stats as both list answers would, once: protobufjs generates each message
 * type's encoder at its first use, and tens of milliseconds of that would otherwise fall on
 * kubelet's first stats call.
 */
function warmEncoders(p: PodStatsResult | undefined): void {
  if (encodersWarm || !p) return;
  encodersWarm = true;
  const svc = criServices().RuntimeService;
  const pod = toPodStats(p);
  svc.ListPodSandboxStats.responseSerialize({ stats: [pod] });
  svc.ListContainerStats.responseSerialize({ stats: pod.linux?.containers ?? [] });
}

/** Gauges of sandboxes and containers by state, read from the services at scrape time. */
function registerStateGauges(ctx: DaemonContext): void {
  const reg = ctx.metrics.registry;
  if (!reg.getSingleMetric('berth_sandboxes')) {
    new Gauge({
      name: 'berth_sandboxes', help: 'Pod sandboxes by state.', labelNames: ['state'], registers: [reg],
      collect() {
        this.reset();
        for (const st of ['SANDBOX_READY', 'SANDBOX_NOTREADY']) this.set({ state: st }, 0);
        for (const s of ctx.services.sandboxes?.list() ?? []) this.inc({ state: s.state });
      },
    });
  }
  if (!reg.getSingleMetric('berth_containers')) {
    new Gauge({
      name: 'berth_containers', help: 'Containers by state.', labelNames: ['state'], registers: [reg],
      collect() {
        this.reset();
        for (const st of ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN']) this.set({ state: st }, 0);
        for (const c of ctx.services.containers?.list() ?? []) this.inc({ state: c.state });
      },
    });
  }
}

export const statsModule: CriModule = {
  name: 'stats',
  async start(ctx) {
    // A host without usable cgroups still serves everything else; its stats are just empty.
    const collector = await StatsCollector.create().catch((err: Error) => {
      ctx.log.warn({ err: err.message }, 'stats: no cgroup hierarchy found; container and pod stats will carry no cgroup numbers');
      return new StatsCollector({ version: 1, read: async () => undefined, pids: async () => [] });
    });
    const stats = new StatsService({
      collector,
      containers: () => ctx.services.containers,
      sandboxes: () => ctx.services.sandboxes,
      cgroups: ctx.cgroups,
      writableLayerRoot: () => ctx.services.images?.writableLayerRoot(),
    });
    ctx.services.stats = stats;
    const reg = ctx.metrics.registry;
    registerStateGauges(ctx);
    const duration = new Histogram({
      name: 'berth_stats_collection_duration_seconds', help: 'Time to collect the stats of one stats call, by method.',
      labelNames: ['method'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [reg],
    });
    const devices = new BlockDeviceNames();
    const oomKills = new Counter({ name: 'berth_container_oom_kills_total', help: 'Containers that ended OOMKilled.', registers: [reg] });
    const timed = async <T>(method: string, f: () => Promise<T>): Promise<T> => {
      const end = duration.startTimer({ method });
      try {
        return await f();
      } finally {
        end();
      }
    };
    const events = createEventStream(ctx, {
      onStopped: (status) => {
        if (status.reason === 'OOMKilled') oomKills.inc();
      },
      onRemoved: (containerId) => stats.forgetContainer(containerId),
      onSandboxRemoved: (sandboxId) => {
        const sb = ctx.services.sandboxes?.list().find((s) => s.id === sandboxId);
        stats.forgetSandbox({ id: sandboxId, netnsPath: sb?.netnsPath });
      },
      onStarted: (containerId) => void stats.warm(containerId).then(warmEncoders, () => undefined),
    });
    // Stale CPU samples of containers that vanished without an event.
    const prune = setInterval(() => collector.rates.prune(10 * 60_000), 60_000);
    prune.unref();

    return {
      close: async () => {
        clearInterval(prune);
        events.close();
        collector.close();
      },
      handlers: {
        ContainerStats: (req) => timed('ContainerStats', async () => {
          if (!req.container_id) throw new InvalidArgumentError('ContainerStats: container_id is required');
          return { stats: toContainerStats(await stats.container(req.container_id)) };
        }),
        ListContainerStats: (req) => timed('ListContainerStats', async () => {
          const f = req.filter;
          const list = await stats.listContainers(containerStatsFilter(f));
          return { stats: list.map(toContainerStats) };
        }),
        PodSandboxStats: (req) => timed('PodSandboxStats', async () => {
          if (!req.pod_sandbox_id) throw new InvalidArgumentError('PodSandboxStats: pod_sandbox_id is required');
          return { stats: toPodStats(await stats.pod(req.pod_sandbox_id)) };
        }),
        ListPodSandboxStats: (req) => timed('ListPodSandboxStats', async () => {
          const list = await stats.listPods(podStatsFilter(req.filter));
          return { stats: list.map(toPodStats) };
        }),
        StreamContainerStats: (call) => {
          const encode = itemEncoder<ContainerStats>('RuntimeService', 'StreamContainerStats', 'container_stats');
          const f = call.request.filter;
          void serveList(call, async (w) => {
            for (const group of chunked(stats.matchingContainers(containerStatsFilter(f)), STATS_GROUP)) {
              for (const r of await stats.containersStats(group)) if (!(await w.add(encode(toContainerStats(r))))) return;
            }
          });
        },
        StreamPodSandboxStats: (call) => {
          const encode = itemEncoder<PodSandboxStats>('RuntimeService', 'StreamPodSandboxStats', 'pod_sandbox_stats');
          const f = call.request.filter;
          void serveList(call, async (w) => {
            for (const group of chunked(stats.matchingPods(podStatsFilter(f)), STATS_GROUP)) {
              for (const p of await stats.podsStats(group)) if (!(await w.add(encode(toPodStats(p))))) return;
            }
          });
        },
        StreamPodSandboxMetrics: (call) => {
          const encode = itemEncoder<PodSandboxMetrics>('RuntimeService', 'StreamPodSandboxMetrics', 'pod_sandbox_metrics');
          void serveList(call, async (w) => {
            for (const group of chunked(stats.matchingPods(), STATS_GROUP)) {
              const pods = await stats.podsStats(group, METRICS_READ);
              const mctx = await metricContext(pods, devices);
              for (const p of pods) if (!(await w.add(encode(toPodSandboxMetrics(p, mctx))))) return;
            }
          });
        },
        ListMetricDescriptors: async () => ({
          descriptors: DESCRIPTORS.map((x) => ({ name: x.name, help: x.help, label_keys: x.labelKeys })),
        }),
        ListPodSandboxMetrics: () => timed('ListPodSandboxMetrics', async () => {
          const pods = await stats.listPods({}, METRICS_READ);
          const mctx = await metricContext(pods, devices);
          return { pod_metrics: pods.map((p) => toPodSandboxMetrics(p, mctx)) };
        }),
        GetContainerEvents: events.handler,
      },
    };
  },
};
