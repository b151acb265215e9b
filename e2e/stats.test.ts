// Stats, metrics and events through the real daemon: pod network counters from a real CNI
// bridge (berth-sx0, 10.204.0.0/24), list filters, cAdvisor metric descriptors, the event
// stream opening and closing, and the runtime's own gauges on /metrics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { eventually, startDaemon, type TestDaemon } from './harness.js';
import { daemonToml, podConfig, sh, writeNet } from './sandbox-fixtures.js';

const BRIDGE = 'berth-sx0';

async function udpBlast(host: string, count: number, size: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  const buf = Buffer.alloc(size, 1);
  for (let i = 0; i < count; i++) await new Promise<void>((res, rej) => sock.send(buf, 9, host, (e) => (e ? rej(e) : res())));
  sock.close();
}

async function metricsText(d: TestDaemon): Promise<string> {
  return (await fetch(`http://${d.metricsAddress}/metrics`)).text();
}

const notFound = (re: RegExp) => (err: CriError) => {
  assert.equal(err.code, GrpcStatus.NOT_FOUND, err.details);
  assert.match(err.details, re);
  return true;
};

describe('stats e2e: pods, metrics and the event stream', () => {
  let d: TestDaemon;
  let tmp: string;
  const pods: string[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-'));
    await writeNet(path.join(tmp, 'net.d'), '10-sx.conflist', { bridge: BRIDGE, subnet: '10.204.0.0/24', dataDir: path.join(tmp, 'ipam'), portmap: false });
    d = await startDaemon({ metrics: true, toml: daemonToml(path.join(tmp, 'net.d')) });
  });
  after(async () => {
    for (const id of pods) {
      await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
    }
    await d.stop();
    await d.cleanup();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('lists the cAdvisor metric descriptors with their label keys', async () => {
    const r = await d.client.runtime('ListMetricDescriptors', {});
    const byName = new Map(r.descriptors.map((x) => [x.name, x]));
    for (const n of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_rss',
      'container_memory_usage_bytes', 'container_network_receive_bytes_total', 'container_network_transmit_bytes_total']) {
      assert.ok(byName.has(n), `descriptor ${n}`);
      assert.ok(byName.get(n)!.help.length > 0);
    }
    assert.deepEqual(byName.get('container_memory_rss')!.label_keys, ['container', 'id', 'image', 'name', 'namespace', 'pod']);
    assert.deepEqual(byName.get('container_network_receive_bytes_total')!.label_keys.at(-1), 'interface');
  });

  it('answers NotFound for the stats of unknown containers and pods', async () => {
    await assert.rejects(d.client.runtime('ContainerStats', { container_id: 'feedface' }), notFound(/feedface/));
    await assert.rejects(d.client.runtime('PodSandboxStats', { pod_sandbox_id: 'feedface' }), notFound(/feedface/));
    await assert.rejects(d.client.runtime('ContainerStats', { container_id: '' }), (e: CriError) => e.code === GrpcStatus.INVALID_ARGUMENT);
  });

  it('reports pod stats whose network counters grow with traffic, and filters exactly', async () => {
    const a = (await d.client.runtime('RunPodSandbox', { config: podConfig('sx-a', { labels: { app: 'sx', tier: 'a' } }) })).pod_sandbox_id;
    pods.push(a);
    const b = (await d.client.runtime('RunPodSandbox', { config: podConfig('sx-b', { labels: { app: 'sx', tier: 'b' } }) })).pod_sandbox_id;
    pods.push(b);
    const ipA = (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: a })).status!.network!.ip;

    const all = await d.client.runtime('ListPodSandboxStats', {});
    assert.deepEqual(all.stats.map((s) => s.attributes!.id).sort(), [a, b].sort());
    const byLabel = await d.client.runtime('ListPodSandboxStats', { filter: { label_selector: { tier: 'b' } } });
    assert.deepEqual(byLabel.stats.map((s) => s.attributes!.id), [b]);
    const both = await d.client.runtime('ListPodSandboxStats', { filter: { label_selector: { app: 'sx' } } });
    assert.equal(both.stats.length, 2);
    const byId = await d.client.runtime('ListPodSandboxStats', { filter: { id: a } });
    assert.deepEqual(byId.stats.map((s) => s.attributes!.id), [a]);
    const none = await d.client.runtime('ListPodSandboxStats', { filter: { id: a, label_selector: { tier: 'b' } } });
    assert.equal(none.stats.length, 0);

    const first = (await d.client.runtime('PodSandboxStats', { pod_sandbox_id: a })).stats!;
    assert.equal(first.attributes!.metadata!.name, 'sx-a');
    assert.equal(first.attributes!.labels.tier, 'a');
    const net0 = first.linux!.network!;
    assert.equal(net0.default_interface!.name, 'eth0');
    assert.deepEqual(net0.interfaces.map((i) => i.name), ['eth0']);
    const rx0 = BigInt(net0.default_interface!.rx_bytes!.value);

    await udpBlast(ipA, 300, 1000);
    // A pod with no process is read through a short-lived nsenter whose result is refreshed in the background every ~5 s.
    const podRx = async () => BigInt((await d.client.runtime('PodSandboxStats', { pod_sandbox_id: a })).stats!.linux!.network!.default_interface!.rx_bytes!.value);
    const rx = await eventually('pod rx bytes grow by 300 kB', podRx, (v) => v - rx0 >= 300_000n).catch(() => podRx());
    assert.ok(rx - rx0 >= 300_000n, `rx grew by ${rx - rx0}`);

    const m = await d.client.runtime('ListPodSandboxMetrics', {});
    const pm = m.pod_metrics.find((x) => x.pod_sandbox_id === a)!;
    const rxMetric = pm.metrics.find((x) => x.name === 'container_network_receive_bytes_total')!;
    assert.equal(rxMetric.metric_type, 'COUNTER');
    assert.equal(rxMetric.label_values.length, 7);
    assert.equal(rxMetric.label_values[6], 'eth0');
    assert.ok(BigInt(rxMetric.value!.value) >= rx);
  });

  it('counts sandboxes by state on /metrics', async () => {
    const body = await metricsText(d);
    assert.match(body, /berth_sandboxes\{state="SANDBOX_READY"\} 2/);
    assert.match(body, /berth_containers\{state="CONTAINER_RUNNING"\} 0/);
    assert.match(body, /berth_stats_collection_duration_seconds_count\{method="ListPodSandboxStats"\} [1-9]/);
  });

  it('opens and closes GetContainerEvents streams through the daemon', async () => {
    const s1 = d.client.events();
    const s2 = d.client.events();
    const gauge = async () => Number(/berth_event_subscribers\{stream="container"\} (\d+)/.exec(await metricsText(d))?.[1] ?? -1);
    assert.equal(await eventually('two subscribers', gauge, (n) => n === 2, 5000), 2);
    const closed = (s: ReturnType<typeof d.client.events>) => new Promise<void>((res) => s.on('error', () => res()).on('end', () => res()));
    const c1 = closed(s1);
    s1.cancel();
    await c1;
    const c2 = closed(s2);
    s2.cancel();
    await c2;
    assert.equal(await eventually('no subscriber', gauge, (n) => n === 0, 5000), 0, 'subscribers gone after cancel');
  });
});
