// The cAdvisor metrics berth serves through ListMetricDescriptors, with cAdvisor's own names,
// help texts, types and extra labels (google/cadvisor lib/metrics/prometheus.go). Every metric
// starts with kubelet's /metrics/cadvisor labels: container, id, image, name, namespace, pod.

export type MetricKind = 'COUNTER' | 'GAUGE';

export interface MetricDescriptorDef {
  name: string;
  help: string;
  kind: MetricKind;
  labelKeys: string[];
}

export const BASE_LABELS = ['container', 'id', 'image', 'name', 'namespace', 'pod'];

const C: MetricKind = 'COUNTER';
const G: MetricKind = 'GAUGE';
const d = (name: string, kind: MetricKind, help: string, extra: string[] = []): MetricDescriptorDef => ({
  name, kind, help, labelKeys: [...BASE_LABELS, ...extra],
});

export const DESCRIPTORS: MetricDescriptorDef[] = [
  d('container_last_seen', G, 'Last time a container was seen by the exporter'),
  // CPU
  d('container_cpu_usage_seconds_total', C, 'Cumulative cpu time consumed in seconds.', ['cpu']),
  d('container_cpu_user_seconds_total', C, 'Cumulative user cpu time consumed in seconds.'),
  d('container_cpu_system_seconds_total', C, 'Cumulative system cpu time consumed in seconds.'),
  d('container_cpu_cfs_periods_total', C, 'Number of elapsed enforcement period intervals.'),
  d('container_cpu_cfs_throttled_periods_total', C, 'Number of throttled period intervals.'),
  d('container_cpu_cfs_throttled_seconds_total', C, 'Total time duration the container has been throttled.'),
  // Memory
  d('container_memory_cache', G, 'Number of bytes of page cache memory.'),
  d('container_memory_rss', G, 'Size of RSS in bytes.'),
  d('container_memory_kernel_usage', G, 'Size of kernel memory allocated in bytes.'),
  d('container_memory_mapped_file', G, 'Size of memory mapped files in bytes.'),
  d('container_memory_swap', G, 'Container swap usage in bytes.'),
  d('container_memory_failcnt', C, 'Number of memory usage hits limits'),
  d('container_memory_usage_bytes', G, 'Current memory usage in bytes, including all memory regardless of when it was accessed'),
  d('container_memory_max_usage_bytes', G, 'Maximum memory usage recorded in bytes'),
  d('container_memory_working_set_bytes', G, 'Current working set in bytes.'),
  d('container_memory_failures_total', C, 'Cumulative count of memory allocation failures.', ['failure_type', 'scope']),
  d('container_oom_events_total', C, 'Count of out of memory events observed for the container'),
  // Hugetlb
  d('container_hugetlb_failcnt', C, 'Number of hugepage usage hits limits', ['pagesize']),
  d('container_hugetlb_usage_bytes', G, 'Current hugepage usage in bytes', ['pagesize']),
  d('container_hugetlb_max_usage_bytes', G, 'Maximum hugepage usage recorded in bytes', ['pagesize']),
  // Processes
  d('container_processes', G, 'Number of processes running inside the container.'),
  d('container_threads', G, 'Number of threads running inside the container'),
  d('container_threads_max', G, 'Maximum number of threads allowed inside the container, infinity if value is zero'),
  // Filesystem (the writable layer) and block I/O
  d('container_fs_usage_bytes', G, 'Number of bytes that are consumed by the container on this filesystem.', ['device']),
  d('container_fs_limit_bytes', G, 'Number of bytes that can be consumed by the container on this filesystem.', ['device']),
  d('container_fs_inodes_total', G, 'Number of Inodes', ['device']),
  d('container_fs_inodes_free', G, 'Number of available Inodes', ['device']),
  d('container_fs_reads_bytes_total', C, 'Cumulative count of bytes read', ['device']),
  d('container_fs_reads_total', C, 'Cumulative count of reads completed', ['device']),
  d('container_fs_writes_bytes_total', C, 'Cumulative count of bytes written', ['device']),
  d('container_fs_writes_total', C, 'Cumulative count of writes completed', ['device']),
  d('container_blkio_device_usage_total', C, 'Blkio Device bytes usage', ['device', 'major', 'minor', 'operation']),
  // Network (per pod: the pod's network namespace)
  d('container_network_receive_bytes_total', C, 'Cumulative count of bytes received', ['interface']),
  d('container_network_receive_packets_total', C, 'Cumulative count of packets received', ['interface']),
  d('container_network_receive_packets_dropped_total', C, 'Cumulative count of packets dropped while receiving', ['interface']),
  d('container_network_receive_errors_total', C, 'Cumulative count of errors encountered while receiving', ['interface']),
  d('container_network_transmit_bytes_total', C, 'Cumulative count of bytes transmitted', ['interface']),
  d('container_network_transmit_packets_total', C, 'Cumulative count of packets transmitted', ['interface']),
  d('container_network_transmit_packets_dropped_total', C, 'Cumulative count of packets dropped while transmitting', ['interface']),
  d('container_network_transmit_errors_total', C, 'Cumulative count of errors encountered while transmitting', ['interface']),
  // Spec
  d('container_creation_time_seconds', G, 'Container creation time since unix epoch in seconds.'),
  d('container_start_time_seconds', G, 'Start time of the container since unix epoch in seconds.'),
  d('container_spec_cpu_period', G, 'CPU period of the container.'),
  d('container_spec_cpu_quota', G, 'CPU quota of the container.'),
  d('container_spec_cpu_shares', G, 'CPU share of the container.'),
  d('container_spec_memory_limit_bytes', G, 'Memory limit for the container.'),
  d('container_spec_memory_swap_limit_bytes', G, 'Memory swap limit for the container.'),
  d('container_spec_memory_reservation_limit_bytes', G, 'Memory reservation limit for the container.'),
];

export const DESCRIPTOR = new Map(DESCRIPTORS.map((x) => [x.name, x]));
