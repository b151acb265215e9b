// Container stats and the event stream with real containers (runc + conmon, busybox fixture
// image): CPU usage and rate, a 50 MiB working set, pod network counters through a container's
// netns, writable-layer growth, exact list filters, events in order with the exit code, two
// subscribers and a stalled one. Bridge berth-sx2 (10.204.2.0/24); pod cgroups under
// /berth-test-stats-e2e-<pid>.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { ContainerEventResponse__Output } from '../pkg/cri/gen/runtime/v1/ContainerEventResponse.js';
import type { PodSandboxConfig } from '../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';
import { eventually, scaled, startDaemon, subscribe, type TestDaemon } from './harness.js';
import { containerCgroupDirs, removeTestCgroups, testParent } from './cgroup-fixtures.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';
import { daemonToml, podConfig, sh, writeNet } from './sandbox-fixtures.js';

const BRIDGE = 'berth-sx2';
const CG_ROOT = `/berth-test-stats-e2e-${process.pid}`;
const MiB = 1024n * 1024n;

async function udpBlast(host: string, count: number, size: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  const buf = Buffer.alloc(size, 1);
  for (let i = 0; i < count; i++) await new Promise<void>((res, rej) => sock.send(buf, 9, host, (e) => (e ? rej(e) : res())));
  sock.close();
}


/** Collects the events of a live GetContainerEvents stream. */
async function collect(d: TestDaemon) {
  const stream = await subscribe(d);
  const events: ContainerEventResponse__Output[] = [];
  stream.on('data', (e: ContainerEventResponse__Output) => events.push(e));
  return { stream, events };
}

describe('stats e2e with containers', () => {
  let d: TestDaemon;
  let reg: TestRegistry;
  let tmp: string;
  let image: string;
  let skip: string | false = false;
  const pods: string[] = [];

  const pod = async (name: string, labels: Record<string, string>, cgroup?: string): Promise<{ id: string; cfg: PodSandboxConfig }> => {
    const cfg = podConfig(name, { labels, log_directory: path.join(tmp, 'logs', name) });
    if (cgroup) cfg.linux = { ...cfg.linux, cgroup_parent: testParent(CG_ROOT, cgroup) };
    const id = (await d.client.runtime('RunPodSandbox', { config: cfg })).pod_sandbox_id;
    pods.push(id);
    return { id, cfg };
  };
  const run = async (p: { id: string; cfg: PodSandboxConfig }, name: string, script: string, extra: Partial<ContainerConfig> = {}) => {
    const c = await d.client.runtime('CreateContainer', {
      pod_sandbox_id: p.id, sandbox_config: p.cfg,
      config: { metadata: { name }, image: { image }, command: ['sh', '-c', script], log_path: `${name}.log`, ...extra },
    });
    await d.client.runtime('StartContainer', { container_id: c.container_id });
    return c.container_id;
  };
  const cstats = async (id: string) => (await d.client.runtime('ContainerStats', { container_id: id })).stats!;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-'));
    await writeNet(path.join(tmp, 'net.d'), '10-sx2.conflist', { bridge: BRIDGE, subnet: '10.204.2.0/24', dataDir: path.join(tmp, 'ipam'), portmap: false });
    d = await startDaemon({ metrics: true, toml: daemonToml(path.join(tmp, 'net.d')) });
    try {
      await d.client.runtime('ContainerStatus', { container_id: 'probe' });
    } catch (err) {
      if ((err as CriError).code === GrpcStatus.UNIMPLEMENTED) skip = 'the container module is not in this build';
    }
    if (skip) return;
    reg = await startRegistry();
    await pushBusybox(reg.host, 'sx/busybox', 'v1');
    image = `${reg.host}/sx/busybox:v1`;
    await d.client.image('PullImage', { image: { image } });
  });
  after(async () => {
    for (const id of pods) {
      await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
    }
    await d.stop();
    await d.cleanup();
    await reg?.stop();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await removeTestCgroups(CG_ROOT);
    await rm(tmp, { recursive: true, force: true });
  });

  it('a CPU-burning container: usage rises, nano-cores non-zero; its pod cgroup adds up', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-cpu', { app: 'sx', kind: 'cpu' }, 'cpu');
    const id = await run(p, 'burn', 'while :; do :; done', { labels: { role: 'burn' } });
    const a = await cstats(id);
    const ua = BigInt(a.cpu!.usage_core_nano_seconds!.value);
    const usage = (x: typeof a) => BigInt(x.cpu!.usage_core_nano_seconds!.value);
    const b = await eventually('CPU usage rises and has a rate', () => cstats(id), (x) => usage(x) > ua && BigInt(x.cpu?.usage_nano_cores?.value ?? 0) > 0n);
    const ub = usage(b);
    const rate = BigInt(b.cpu!.usage_nano_cores!.value);
    assert.ok(rate > 100_000_000n, `nano-cores ${rate}`);
    assert.ok(BigInt(b.cpu!.timestamp) > BigInt(a.cpu!.timestamp));
    assert.equal(b.attributes!.metadata!.name, 'burn');
    const ps = (await d.client.runtime('PodSandboxStats', { pod_sandbox_id: p.id })).stats!;
    assert.ok(BigInt(ps.linux!.cpu!.usage_core_nano_seconds!.value) >= ub, 'the pod cgroup includes its container');
    assert.ok(BigInt(ps.linux!.process!.process_count!.value) >= 1n);
    assert.deepEqual(ps.linux!.containers.map((c) => c.attributes!.id), [id]);
    await d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    await d.client.runtime('RemoveContainer', { container_id: id });
    // Stats keep cgroup files open for re-reading; that must not keep the cgroup alive. (The
    // runtime's delete, which removes it, is the exit path's and may end just after the remove.)
    await eventually('the cgroup of the removed container is gone', () => containerCgroupDirs(CG_ROOT, id), (dirs) => dirs.length === 0);
    await assert.rejects(d.client.runtime('ContainerStats', { container_id: id }), (e: CriError) => e.code === GrpcStatus.NOT_FOUND);
  });

  it('a container holding 50 MiB shows a working set of at least 50 MiB', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-mem', { app: 'sx', kind: 'mem' }, 'mem');
    // awk keeps a 50 MiB string (every byte written, so resident) while sleep runs.
    const id = await run(p, 'mem', `exec awk 'BEGIN { s = sprintf("%52428800s", ""); print "held"; system("sleep 3600") }'`);
    // awk fills its string after it starts: wait for the anonymous memory itself.
    const s = await eventually('working set and rss ≥ 50 MiB', () => cstats(id),
      (s) => BigInt(s.memory?.working_set_bytes?.value ?? '0') >= 50n * MiB && BigInt(s.memory?.rss_bytes?.value ?? '0') >= 50n * MiB);
    const m = s.memory!;
    assert.ok(BigInt(m.usage_bytes!.value) >= BigInt(m.working_set_bytes!.value));
    assert.ok(BigInt(m.rss_bytes!.value) >= 50n * MiB, `rss ${m.rss_bytes!.value}`);
    assert.ok(BigInt(m.page_faults!.value) > 0n);
    // The pod cgroup's figure is read on its own and may lag the container's by a sample.
    await eventually('the pod working set ≥ 50 MiB', async () => (await d.client.runtime('PodSandboxStats', { pod_sandbox_id: p.id })).stats!,
      (ps) => BigInt(ps.linux?.memory?.working_set_bytes?.value ?? '0') >= 50n * MiB);
  });

  it('ListPodSandboxMetrics: a throttled container reports cAdvisor\'s counters, each described with its labels', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-metrics', { app: 'sx', kind: 'metrics' }, 'metrics');
    const id = await run(p, 'throttled', 'while :; do :; done', {
      linux: { resources: { cpu_period: '100000', cpu_quota: '10000', cpu_shares: '256', memory_limit_in_bytes: String(64 * 1024 * 1024) } },
    });
    const descs = new Map((await d.client.runtime('ListMetricDescriptors', {})).descriptors.map((x) => [x.name, x]));
    const scrape = async () => (await d.client.runtime('ListPodSandboxMetrics', {})).pod_metrics.find((x) => x.pod_sandbox_id === p.id)!;
    const valueOf = (ms: { name: string; value: { value: string } | null }[], name: string) => BigInt(ms.find((m) => m.name === name)?.value?.value ?? '-1');
    const pm = await eventually('throttled periods counted', scrape,
      (x) => valueOf(x.container_metrics[0]?.metrics ?? [], 'container_cpu_cfs_throttled_periods_total') > 0n);
    const ms = pm.container_metrics.find((c) => c.container_id === id)!.metrics;
    for (const m of [...ms, ...pm.metrics]) {
      const desc = descs.get(m.name);
      assert.ok(desc, `${m.name} is described`);
      assert.equal(m.label_values.length, desc.label_keys.length, m.name);
    }
    const one = (name: string) => ms.find((m) => m.name === name)!;
    assert.deepEqual(one('container_cpu_usage_seconds_total').label_values.slice(-1), ['total']);
    assert.equal(valueOf(ms, 'container_spec_cpu_quota'), 10000n);
    assert.equal(valueOf(ms, 'container_spec_cpu_shares'), 256n);
    assert.equal(valueOf(ms, 'container_spec_memory_limit_bytes'), 64n * MiB);
    assert.ok(valueOf(ms, 'container_cpu_cfs_periods_total') >= valueOf(ms, 'container_cpu_cfs_throttled_periods_total'));
    assert.ok(valueOf(ms, 'container_memory_max_usage_bytes') > 0n);
    for (const n of ['container_memory_cache', 'container_memory_mapped_file', 'container_memory_failcnt', 'container_oom_events_total',
      'container_cpu_user_seconds_total', 'container_threads_max', 'container_last_seen', 'container_start_time_seconds']) {
      assert.ok(valueOf(ms, n) >= 0n, `${n} present`);
    }
    const fs = one('container_fs_usage_bytes');
    assert.match(fs.label_values.at(-1)!, /./, 'device label names the filesystem');
    assert.ok(valueOf(ms, 'container_fs_limit_bytes') > 0n);
    assert.ok(valueOf(ms, 'container_fs_inodes_total') >= valueOf(ms, 'container_fs_inodes_free'));
    const podWs = pm.metrics.find((m) => m.name === 'container_memory_working_set_bytes' && m.label_values[0] === '');
    assert.ok(podWs, 'the pod cgroup reports its totals with container=""');
    assert.deepEqual(podWs.label_values.slice(4), [p.cfg.metadata!.namespace, p.cfg.metadata!.name]);
  });

  it('pod network counters (read through a container in the pod) grow after traffic', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-net', { app: 'sx', kind: 'net' });
    await run(p, 'idle', 'sleep 3600');
    const ip = (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: p.id })).status!.network!.ip;
    const rx = async () => BigInt((await d.client.runtime('PodSandboxStats', { pod_sandbox_id: p.id })).stats!.linux!.network!.default_interface!.rx_bytes!.value);
    const before = await rx();
    await udpBlast(ip, 300, 1000);
    const after = await rx();
    assert.ok(after - before >= 300_000n, `rx grew by ${after - before} (no cache: a process is in the netns)`);
  });

  it('writable layer usage grows after writing a 10 MiB file', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-disk', { app: 'sx', kind: 'disk' });
    const id = await run(p, 'disk', 'sleep 3600');
    const used = async () => {
      const w = (await cstats(id)).writable_layer;
      return w?.used_bytes ? BigInt(w.used_bytes.value) : -1n;
    };
    const base = await eventually('first walk', used, (v) => v >= 0n);
    const st = await cstats(id);
    assert.ok(st.writable_layer!.fs_id!.mountpoint.startsWith('/'), 'fs_id names a mountpoint');
    const r = await d.client.runtime('ExecSync', { container_id: id, cmd: ['sh', '-c', 'head -c 10485760 /dev/zero > /big && sync'], timeout: 30 });
    assert.equal(r.exit_code, 0, r.stderr.toString());
    await eventually('writable layer +10 MiB', used, (v) => v >= base + 10n * MiB);
  });

  it('list filters return exactly the matching containers and pods', async (t) => {
    if (skip) return t.skip(skip);
    const p1 = await pod('sx-f1', { app: 'sxf', tier: 'a' });
    const p2 = await pod('sx-f2', { app: 'sxf', tier: 'b' });
    const a1 = await run(p1, 'a1', 'sleep 3600', { labels: { role: 'web' } });
    const a2 = await run(p1, 'a2', 'sleep 3600', { labels: { role: 'db' } });
    const b1 = await run(p2, 'b1', 'sleep 3600', { labels: { role: 'web' } });
    const ids = async (filter: Record<string, unknown>) =>
      (await d.client.runtime('ListContainerStats', { filter })).stats.map((s) => s.attributes!.id).sort();
    assert.deepEqual(await ids({ id: a1 }), [a1]);
    assert.deepEqual(await ids({ pod_sandbox_id: p1.id }), [a1, a2].sort());
    assert.deepEqual(await ids({ pod_sandbox_id: p1.id, label_selector: { role: 'web' } }), [a1]);
    assert.deepEqual((await ids({ label_selector: { role: 'web' } })).filter((x) => [a1, a2, b1].includes(x)), [a1, b1].sort());
    assert.deepEqual(await ids({ id: b1, pod_sandbox_id: p1.id }), []);
    const pods = async (filter: Record<string, unknown>) =>
      (await d.client.runtime('ListPodSandboxStats', { filter })).stats.map((s) => s.attributes!.id).sort();
    assert.deepEqual(await pods({ label_selector: { app: 'sxf' } }), [p1.id, p2.id].sort());
    assert.deepEqual(await pods({ label_selector: { app: 'sxf', tier: 'b' } }), [p2.id]);
    assert.deepEqual(await pods({ id: p1.id }), [p1.id]);
    const ps = (await d.client.runtime('PodSandboxStats', { pod_sandbox_id: p1.id })).stats!;
    assert.deepEqual(ps.linux!.containers.map((c) => c.attributes!.id).sort(), [a1, a2].sort());
    const m = await d.client.runtime('ListPodSandboxMetrics', {});
    const pm = m.pod_metrics.find((x) => x.pod_sandbox_id === p1.id)!;
    assert.deepEqual(pm.container_metrics.map((c) => c.container_id).sort(), [a1, a2].sort());
    const ws = pm.container_metrics[0]!.metrics.find((x) => x.name === 'container_memory_working_set_bytes')!;
    assert.equal(ws.label_values.length, 6);
  });

  it('an OOM kill shows as OOMKilled in the STOPPED event and in berth_container_oom_kills_total', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-oom', { app: 'sx', kind: 'oom' });
    const sub = await collect(d);
    const id = await run(p, 'oom', `exec awk 'BEGIN { s = sprintf("%67108864s", ""); system("sleep 3600") }'`, {
      linux: { resources: { memory_limit_in_bytes: String(32 * 1024 * 1024) } },
    });
    const evs = await eventually('stopped event', async () => sub.events.filter((e) => e.container_id === id && e.container_event_type === 'CONTAINER_STOPPED_EVENT'), (x) => x.length > 0);
    const st = evs[0]!.containers_statuses.find((s) => s.id === id)!;
    assert.equal(st.reason, 'OOMKilled');
    assert.equal(st.state, 'CONTAINER_EXITED');
    const body = await (await fetch(`http://${d.metricsAddress}/metrics`)).text();
    assert.match(body, /berth_container_oom_kills_total [1-9]/);
    sub.stream.cancel();
  });

  it('event subscribers see created, started, stopped, deleted in order with the exit code; a stalled one delays nothing', async (t) => {
    if (skip) return t.skip(skip);
    const p = await pod('sx-ev', { app: 'sx', kind: 'ev' });
    const a = await collect(d);
    const b = await collect(d);
    const stalled = await subscribe(d); // its CANCELLED at the end is ignored
    stalled.pause(); // never reads
    const c = await d.client.runtime('CreateContainer', {
      pod_sandbox_id: p.id, sandbox_config: p.cfg,
      config: { metadata: { name: 'ev' }, image: { image }, command: ['sh', '-c', 'sleep 0.2; exit 3'], log_path: 'ev.log' },
    });
    const t0 = Date.now();
    await d.client.runtime('StartContainer', { container_id: c.container_id });
    const startMs = Date.now() - t0;
    assert.ok(startMs < scaled(3000), `StartContainer took ${startMs} ms`);
    const mine = (evs: ContainerEventResponse__Output[]) => evs.filter((e) => e.container_id === c.container_id);
    await eventually('stopped event', async () => mine(a.events).length, (n) => n >= 3, scaled(10_000));
    // An exited container still has stats (kubelet lists them until it removes the container).
    const exited = await cstats(c.container_id);
    assert.equal(exited.attributes!.id, c.container_id);
    await d.client.runtime('RemoveContainer', { container_id: c.container_id });
    await eventually('deleted event on both', async () => mine(a.events).length + mine(b.events).length, (n) => n >= 8, scaled(10_000));
    for (const sub of [a, b]) {
      const evs = mine(sub.events);
      assert.deepEqual(evs.map((e) => e.container_event_type),
        ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      const stopped = evs[2]!;
      const st = stopped.containers_statuses.find((s) => s.id === c.container_id)!;
      assert.equal(st.state, 'CONTAINER_EXITED');
      assert.equal(st.exit_code, 3);
      assert.equal(stopped.pod_sandbox_status!.id, p.id);
      assert.ok(BigInt(evs[1]!.created_at) >= BigInt(evs[0]!.created_at));
    }
    for (const s of [a.stream, b.stream, stalled]) s.cancel();
  });
});
