// List streaming (KEP-5825) against the unary calls, over N containers and N pod sandboxes
// (default 5000 each): ListContainers vs StreamContainers, ListPodSandbox vs StreamPodSandboxes.
// The records are written through berth's store into a stopped daemon's state database
// (e2e/list-fixtures.ts: kubelet-shaped labels and annotations, containers EXITED, pods NOTREADY,
// so recovery asks no runtime about them), then the daemon is started on that database and loads
// them into its indexes as it would after a restart. Per call: time to the first item, time to
// the last item, and the daemon's peak RSS during the call (VmHWM, reset before each call through
// /proc/<pid>/clear_refs). Then clients that stop reading: each opens StreamContainers, takes its
// first batch and stops; the daemon's RSS is sampled while they hold still, then they read on.
// Run alone: node dist/bench/list-stream.js [records] [calls] [stalled clients]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemon, type TestDaemon } from '../e2e/harness.js';
import { populateContainers, populateSandboxes } from '../e2e/list-fixtures.js';
import { collectStream } from '../pkg/client/cri.js';
import { DEFAULT_BATCH } from '../pkg/cri/list-stream.js';
import { criServices } from '../pkg/cri/proto.js';
import { runAsMain, summarize } from './summary.js';

async function status(pid: number): Promise<{ rss: number; hwm: number }> {
  const t = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? NaN);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;

interface Sample {
  firstMs: number;
  totalMs: number;
  peakRssBytes: number;
  rssBeforeBytes: number;
  items: number;
  batches: number;
}

/** One list: the unary call or its stream twin, and the field holding the items. */
type Kind = 'containers' | 'sandboxes';
type Mode = 'unary' | 'stream';

function call(d: TestDaemon, kind: Kind, mode: Mode, onFirst: () => void): Promise<{ items: number; batches: number }> {
  if (mode === 'unary') {
    const p = kind === 'containers'
      ? d.client.runtime('ListContainers', {}).then((r) => r.containers.length)
      : d.client.runtime('ListPodSandbox', {}).then((r) => r.items.length);
    return p.then((items) => (onFirst(), { items, batches: 1 }));
  }
  if (kind === 'containers') {
    const s = d.client.runtimeStream('StreamContainers', {});
    s.once('data', onFirst);
    return collectStream(s, (b) => b.containers).then((r) => ({ items: r.items.length, batches: r.batches }));
  }
  const s = d.client.runtimeStream('StreamPodSandboxes', {});
  s.once('data', onFirst);
  return collectStream(s, (b) => b.pod_sandboxes).then((r) => ({ items: r.items.length, batches: r.batches }));
}

async function measure(d: TestDaemon, kind: Kind, mode: Mode): Promise<Sample> {
  const pid = d.proc.pid!;
  await writeFile(`/proc/${pid}/clear_refs`, '5'); // VmHWM := VmRSS
  const before = await status(pid);
  const t0 = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  let firstMs = 0;
  const { items, batches } = await call(d, kind, mode, () => (firstMs = ms()));
  const totalMs = ms();
  const after = await status(pid);
  return { firstMs, totalMs, peakRssBytes: after.hwm, rssBeforeBytes: before.rss, items, batches };
}

function report(samples: Sample[]) {
  const peaks = samples.map((s) => s.peakRssBytes).sort((a, b) => a - b);
  const growth = samples.map((s) => s.peakRssBytes - s.rssBeforeBytes).sort((a, b) => a - b);
  return {
    items: samples[0]?.items, batches: samples[0]?.batches,
    time_to_first_item: summarize(samples.map((s) => s.firstMs)),
    time_to_last_item: summarize(samples.map((s) => s.totalMs)),
    daemon_peak_rss_mib: { median: mib(peaks[Math.floor(peaks.length / 2)]!), max: mib(peaks[peaks.length - 1]!) },
    daemon_rss_growth_during_call_mib: { median: mib(growth[Math.floor(growth.length / 2)]!), max: mib(growth[growth.length - 1]!) },
  };
}

/** Unary and stream calls alternated, after a warm-up, so neither gets a quieter machine. */
async function compare(d: TestDaemon, kind: Kind, calls: number) {
  for (const mode of ['unary', 'stream'] as const) for (let i = 0; i < 3; i++) await measure(d, kind, mode);
  const res: Record<Mode, Sample[]> = { unary: [], stream: [] };
  for (let i = 0; i < calls; i++) for (const mode of ['unary', 'stream'] as const) res[mode].push(await measure(d, kind, mode));
  return { unary: report(res.unary), stream: report(res.stream) };
}

/**
 * `clients` StreamContainers calls that each take one batch and stop reading for `holdMs`:
 * the daemon's RSS sampled every 50 ms while they hold (its growth over the RSS before they
 * started shows what the stalled streams keep in the daemon), then each reads on to the end.
 */
async function stalledClients(d: TestDaemon, n: number, clients: number, holdMs: number) {
  const pid = d.proc.pid!;
  const before = (await status(pid)).rss;
  const got: number[] = [];
  const streams = Array.from({ length: clients }, () => d.client.runtimeStream('StreamContainers', {}));
  const done = streams.map((s, i) => {
    got[i] = 0;
    s.on('data', (b: { containers: unknown[] }) => (got[i]! += b.containers.length));
    s.once('data', () => s.pause());
    return new Promise<void>((resolve, reject) => s.on('end', resolve).on('error', reject));
  });
  while (got.some((g) => g === 0)) await sleep(10);
  const heldAt = got.reduce((a, b) => a + b, 0);
  const samples: number[] = [];
  for (let t = 0; t < holdMs; t += 50) {
    samples.push((await status(pid)).rss);
    await sleep(50);
  }
  const stillHeld = got.reduce((a, b) => a + b, 0) === heldAt;
  for (const s of streams) s.resume();
  await Promise.all(done);
  return {
    clients, hold_ms: holdMs, items_each_before_stopping: got.length ? Math.round(heldAt / clients) : 0,
    no_item_arrived_while_stopped: stillHeld, every_client_then_got_all: got.every((g) => g === n),
    daemon_rss_before_mib: mib(before),
    daemon_rss_while_held_mib: { first: mib(samples[0]!), last: mib(samples[samples.length - 1]!), max: mib(Math.max(...samples)) },
  };
}

export async function benchListStream(n = 5000, calls = 30, clients = 20): Promise<Record<string, unknown>> {
  const first = await startDaemon({ logLevel: 'info', toml: '[cni]\nconf_dir = "/nonexistent/berth-bench-cni"\n' });
  const dir = first.dir;
  await first.stop();
  await mkdir(first.root, { recursive: true });
  await populateContainers(first.root, n);
  await populateSandboxes(first.root, n);
  const d = await startDaemon({ dir, logLevel: 'info' });
  try {
    const out: Record<string, unknown> = { records: n, calls, batch_limits: DEFAULT_BATCH };
    const svc = criServices().RuntimeService;
    const ctrs = await compare(d, 'containers', calls);
    out.ListContainers = ctrs.unary;
    out.StreamContainers = ctrs.stream;
    out.ListContainers_response_bytes = svc.ListContainers.responseSerialize(await d.client.runtime('ListContainers', {})).length;
    const pods = await compare(d, 'sandboxes', calls);
    out.ListPodSandbox = pods.unary;
    out.StreamPodSandboxes = pods.stream;
    out.ListPodSandbox_response_bytes = svc.ListPodSandbox.responseSerialize(await d.client.runtime('ListPodSandbox', {})).length;
    out.stalled_StreamContainers_clients = await stalledClients(d, n, clients, 3000);
    return out;
  } finally {
    await d.stop();
    await d.cleanup();
  }
}

runAsMain(import.meta.url, 'list_stream', (a) => benchListStream(Number(a[0] ?? 5000), Number(a[1] ?? 30), Number(a[2] ?? 20)));
