// The cAdvisor metric names and labels kubelet serves on /metrics/cadvisor, computed from our
// stats for ListMetricDescriptors / ListPodSandboxMetrics (kubelet's PodAndContainerStatsFromCRI).
// CRI metric values are uint64, so CPU seconds are whole seconds, as in CRI-O.
import type { ContainerStatsResult, PodStatsResult } from './service.js';

export type MetricKind = 'COUNTER' | 'GAUGE';

export interface MetricDescriptorDef {
  name: string;
  help: string;
  kind: MetricKind;
  labelKeys: string[];
}

export interface MetricSample {
  name: string;
  kind: MetricKind;
  timestamp: bigint;
  labelValues: string[];
  value: bigint;
}

const BASE = ['container', 'id', 'image', 'name', 'namespace', 'pod'];
const NET = [...BASE, 'interface'];

const d = (name: string, kind: MetricKind, help: string, labelKeys = BASE): MetricDescriptorDef => ({ name, kind, help, labelKeys });

export const DESCRIPTORS: MetricDescriptorDef[] = [
  d('container_cpu_usage_seconds_total', 'COUNTER', 'Cumulative cpu time consumed in seconds.'),
  d('container_memory_usage_bytes', 'GAUGE', 'Current memory usage in bytes, including all memory regardless of when it was accessed.'),
  d('container_memory_working_set_bytes', 'GAUGE', 'Current working set in bytes.'),
  d('container_memory_rss', 'GAUGE', 'Size of RSS in bytes.'),
  d('container_memory_page_faults_total', 'COUNTER', 'Cumulative count of page faults.'),
  d('container_memory_major_page_faults_total', 'COUNTER', 'Cumulative count of major page faults.'),
  d('container_spec_memory_limit_bytes', 'GAUGE', 'Memory limit for the container.'),
  d('container_processes', 'GAUGE', 'Number of processes running inside the container.'),
  d('container_fs_usage_bytes', 'GAUGE', 'Number of bytes that are consumed by the container on this filesystem.'),
  d('container_fs_inodes_used', 'GAUGE', 'Number of inodes used by the container on this filesystem.'),
  d('container_start_time_seconds', 'GAUGE', 'Start time of the container since unix epoch in seconds.'),
  d('container_network_receive_bytes_total', 'COUNTER', 'Cumulative count of bytes received', NET),
  d('container_network_transmit_bytes_total', 'COUNTER', 'Cumulative count of bytes transmitted', NET),
  d('container_network_receive_packets_total', 'COUNTER', 'Cumulative count of packets received', NET),
  d('container_network_transmit_packets_total', 'COUNTER', 'Cumulative count of packets transmitted', NET),
  d('container_network_receive_errors_total', 'COUNTER', 'Cumulative count of errors encountered while receiving', NET),
  d('container_network_transmit_errors_total', 'COUNTER', 'Cumulative count of errors encountered while transmitting', NET),
  d('container_network_receive_packets_dropped_total', 'COUNTER', 'Cumulative count of packets dropped while receiving', NET),
  d('container_network_transmit_packets_dropped_total', 'COUNTER', 'Cumulative count of packets dropped while transmitting', NET),
];

const KIND = new Map(DESCRIPTORS.map((x) => [x.name, x.kind]));

/** Metrics of one container: labels container, id, image, name, namespace, pod. */
export function containerMetrics(c: ContainerStatsResult, pod: { name: string; namespace: string }): MetricSample[] {
  const out: MetricSample[] = [];
  const ci = c.container;
  const labels = [ci.name, ci.id, ci.imageRef || ci.image, ci.name, pod.namespace, pod.name];
  const add = (name: string, value: bigint | undefined, ts: bigint) => {
    if (value !== undefined) out.push({ name, kind: KIND.get(name)!, timestamp: ts, labelValues: labels, value });
  };
  const s = c.cgroup;
  if (s?.cpu) add('container_cpu_usage_seconds_total', s.cpu.usageCoreNanoSeconds / 1_000_000_000n, s.timestamp);
  if (s?.memory) {
    const m = s.memory;
    add('container_memory_usage_bytes', m.usageBytes, s.timestamp);
    add('container_memory_working_set_bytes', m.workingSetBytes, s.timestamp);
    add('container_memory_rss', m.rssBytes, s.timestamp);
    add('container_memory_page_faults_total', m.pageFaults, s.timestamp);
    add('container_memory_major_page_faults_total', m.majorPageFaults, s.timestamp);
    add('container_spec_memory_limit_bytes', m.limitBytes ?? 0n, s.timestamp);
  }
  if (s) add('container_processes', s.processes, s.timestamp);
  if (c.writableLayer) {
    add('container_fs_usage_bytes', c.writableLayer.bytes, c.writableLayer.timestamp);
    add('container_fs_inodes_used', c.writableLayer.inodes, c.writableLayer.timestamp);
  }
  if (ci.startedAt > 0n) add('container_start_time_seconds', ci.startedAt / 1_000_000_000n, s?.timestamp ?? ci.startedAt);
  return out;
}

/** Pod-level metrics: network counters per interface (container label "POD", as cAdvisor reports them). */
export function podMetrics(p: PodStatsResult): MetricSample[] {
  const out: MetricSample[] = [];
  const sb = p.sandbox;
  if (!p.network) return out;
  for (const i of p.network.interfaces) {
    const labels = ['POD', sb.id, '', sb.name, sb.namespace, sb.name, i.name];
    const add = (name: string, value: bigint) =>
      out.push({ name, kind: KIND.get(name)!, timestamp: p.network!.timestamp, labelValues: labels, value });
    add('container_network_receive_bytes_total', i.rxBytes);
    add('container_network_transmit_bytes_total', i.txBytes);
    add('container_network_receive_packets_total', i.rxPackets);
    add('container_network_transmit_packets_total', i.txPackets);
    add('container_network_receive_errors_total', i.rxErrors);
    add('container_network_transmit_errors_total', i.txErrors);
    add('container_network_receive_packets_dropped_total', i.rxDropped);
    add('container_network_transmit_packets_dropped_total', i.txDropped);
  }
  return out;
}
