// List streaming (KEP-5825) against the unary call: ListContainers vs StreamContainers over
// N container records (default 5000). The records are written straight into a stopped daemon's
// state database (kubelet-shaped labels and annotations, EXITED, so recovery asks no runtime
// about them), then the daemon is started on that database and loads them into its index as it
// would after a restart. Per call: time to the first item, total time, and the daemon's peak
// RSS during the call (VmHWM, reset before each call through /proc/<pid>/clear_refs).
// Run alone: node dist/bench/list-stream.js [records] [calls]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startDaemon, type TestDaemon } from '../e2e/harness.js';
import { populateContainers } from '../e2e/list-fixtures.js';
import { collectStream } from '../pkg/client/cri.js';
import { DEFAULT_BATCH } from '../pkg/cri/list-stream.js';
import { loadCri } from '../pkg/cri/proto.js';
import { summarize } from './summary.js';

async function status(pid: number): Promise<{ rss: number; hwm: number }> {
  const t = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

interface Sample {
  firstMs: number;
  totalMs: number;
  peakRssBytes: number;
  rssBeforeBytes: number;
  items: number;
  batches: number;
}

async function measure(d: TestDaemon, mode: 'unary' | 'stream'): Promise<Sample> {
  const pid = d.proc.pid!;
  await writeFile(`/proc/${pid}/clear_refs`, '5'); // VmHWM := VmRSS
  const before = await status(pid);
  const t0 = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  let firstMs = 0;
  let items = 0;
  let batches = 1;
  if (mode === 'unary') {
    items = (await d.client.runtime('ListContainers', {})).containers.length;
    firstMs = ms();
  } else {
    const s = d.client.runtimeStream('StreamContainers', {});
    s.once('data', () => (firstMs = ms()));
    const r = await collectStream(s, (b) => b.containers);
    items = r.items.length;
    batches = r.batches;
  }
  const totalMs = ms();
  const after = await status(pid);
  return { firstMs, totalMs, peakRssBytes: after.hwm, rssBeforeBytes: before.rss, items, batches };
}

function report(samples: Sample[]) {
  const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
  const peaks = samples.map((s) => s.peakRssBytes).sort((a, b) => a - b);
  const growth = samples.map((s) => s.peakRssBytes - s.rssBeforeBytes).sort((a, b) => a - b);
  return {
    items: samples[0]?.items, batches: samples[0]?.batches,
    time_to_first_item: summarize(samples.map((s) => s.firstMs)),
    total: summarize(samples.map((s) => s.totalMs)),
    daemon_peak_rss_mib: { median: mib(peaks[Math.floor(peaks.length / 2)]!), max: mib(peaks[peaks.length - 1]!) },
    daemon_rss_growth_during_call_mib: { median: mib(growth[Math.floor(growth.length / 2)]!), max: mib(growth[growth.length - 1]!) },
  };
}

export async function benchListStream(n = 5000, calls = 30): Promise<Record<string, unknown>> {
  const first = await startDaemon({ logLevel: 'info', toml: '[cni]\nconf_dir = "/nonexistent/berth-bench-cni"\n' });
  const dir = first.dir;
  await first.stop();
  await mkdir(first.root, { recursive: true });
  await populateContainers(first.root, n);
  const d = await startDaemon({ dir, logLevel: 'info' });
  try {
    const out: Record<string, unknown> = { records: n, calls, batch_limits: DEFAULT_BATCH };
    // Each mode warms up, then alternates with the other so neither gets a quieter machine.
    for (const mode of ['unary', 'stream'] as const) for (let i = 0; i < 3; i++) await measure(d, mode);
    const res: Record<'unary' | 'stream', Sample[]> = { unary: [], stream: [] };
    for (let i = 0; i < calls; i++) for (const mode of ['unary', 'stream'] as const) res[mode].push(await measure(d, mode));
    out.ListContainers = report(res.unary);
    out.StreamContainers = report(res.stream);
    const all = await d.client.runtime('ListContainers', {});
    out.unary_response_bytes = loadCri().runtime.v1.RuntimeService.service.ListContainers.responseSerialize(all).length;
    return out;
  } finally {
    await d.stop();
    await d.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchListStream(Number(process.argv[2] ?? 5000), Number(process.argv[3] ?? 30))
    .then((r) => console.log(JSON.stringify({ list_stream: r }, null, 2)))
    .catch((err: Error) => {
      console.error(err);
      process.exit(1);
    });
}
