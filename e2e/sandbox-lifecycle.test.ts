// Sandbox lifecycle edges against the real daemon: refused inputs leave nothing, retries of the
// same RunPodSandbox get the same sandbox, 50 run/stop/remove cycles leak nothing, and restart
// recovery. Bridge berth-sb2, 10.201.2.0/24.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { umount } from '../pkg/sys/mount.js';
import { pinNamespaces } from '../pkg/sandbox/namespaces.js';
import { existsSync } from 'node:fs';
import { startDaemon, type TestDaemon } from './harness.js';
import { daemonToml, hostCounts, podConfig, sh, writeNet } from './sandbox-fixtures.js';

const BRIDGE = 'berth-sb2';

describe('sandbox: lifecycle, refusals, retries, leaks, recovery', () => {
  let d: TestDaemon;
  let tmp: string;
  let dataDir: string;
  const run = async (cfg: ReturnType<typeof podConfig>, handler = '') =>
    (await d.client.runtime('RunPodSandbox', { config: cfg, runtime_handler: handler })).pod_sandbox_id;
  const cleanupPod = async (id: string) => {
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-'));
    dataDir = path.join(tmp, 'ipam');
    await writeNet(path.join(tmp, 'net.d'), '10-sb.conflist', { bridge: BRIDGE, subnet: '10.201.2.0/24', dataDir });
    await mkdir(path.join(tmp, 'daemon'));
    d = await startDaemon({ toml: daemonToml(path.join(tmp, 'net.d')), dir: path.join(tmp, 'daemon'), logLevel: 'info' });
  });
  after(async () => {
    for (const s of (await d.client.runtime('ListPodSandbox', {}).catch(() => ({ items: [] }))).items) await cleanupPod(s.id).catch(() => undefined);
    await d.stop();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('refuses bad inputs with INVALID_ARGUMENT (or ALREADY_EXISTS) and creates nothing', async () => {
    const keep = await run(podConfig('dup'));
    const before = await hostCounts(d, dataDir, BRIDGE);
    const listBefore = (await d.client.runtime('ListPodSandbox', {})).items.length;
    const nsopts = { namespace_options: { network: 'POD' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } };
    const cases: [string, () => Promise<unknown>, number, RegExp][] = [
      ['no metadata', () => d.client.runtime('RunPodSandbox', { config: { hostname: 'x' } }), GrpcStatus.INVALID_ARGUMENT, /metadata\.name/],
      ['no namespace', () => run({ ...podConfig('x'), metadata: { name: 'x', uid: 'u' } }), GrpcStatus.INVALID_ARGUMENT, /namespace is required/],
      ['no uid', () => run({ ...podConfig('x'), metadata: { name: 'x', namespace: 'n' } }), GrpcStatus.INVALID_ARGUMENT, /uid is required/],
      ['unsafe sysctl', () => run(podConfig('x', { linux: { sysctls: { 'kernel.panic': '1' }, security_context: nsopts } })), GrpcStatus.INVALID_ARGUMENT, /kernel\.panic.*not namespaced/],
      ['unknown sysctl', () => run(podConfig('x', { linux: { sysctls: { 'net.ipv4.no_such_thing': '1' }, security_context: nsopts } })), GrpcStatus.INVALID_ARGUMENT, /unknown sysctl "net\.ipv4\.no_such_thing"/],
      ['net sysctl on host network', () => run(podConfig('x', { linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' }, security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } } })), GrpcStatus.INVALID_ARGUMENT, /host network/],
      ['unknown handler', () => run(podConfig('x'), 'kata'), GrpcStatus.INVALID_ARGUMENT, /unknown runtime handler "kata"/],
      ['bad hostname', () => run(podConfig('x', { hostname: 'bad host!' })), GrpcStatus.INVALID_ARGUMENT, /invalid hostname/],
      ['bad dns server', () => run(podConfig('x', { dns_config: { servers: ['not-an-ip'] } })), GrpcStatus.INVALID_ARGUMENT, /dns server/],
      ['bad port', () => run(podConfig('x', { port_mappings: [{ container_port: 0, host_port: 28100 }] })), GrpcStatus.INVALID_ARGUMENT, /container_port/],
    ];
    const dupCfg = (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: keep })).status!.metadata!;
    cases.push(['duplicate name', () => run({ ...podConfig('dup', { hostname: 'other' }), metadata: dupCfg }), GrpcStatus.ALREADY_EXISTS, new RegExp(`already used by sandbox ${keep}`)]);
    for (const [what, call, code, re] of cases) {
      await assert.rejects(call(), (e: CriError) => {
        assert.equal(e.code, code, `${what}: ${e.details}`);
        assert.match(e.details, re, what);
        return true;
      }, what);
    }
    assert.deepEqual(await hostCounts(d, dataDir, BRIDGE), before, 'nothing created');
    assert.equal((await d.client.runtime('ListPodSandbox', {})).items.length, listBefore);
    await cleanupPod(keep);
  });

  it('a retry of the same RunPodSandbox, concurrent or just after, returns the same sandbox', async () => {
    const cfg = podConfig('retry');
    const [a, b] = await Promise.all([run(cfg), run(cfg)]);
    assert.equal(a, b, 'concurrent identical calls share one sandbox');
    assert.equal(await run(cfg), a, 'a retry after it finished gets it too');
    const items = (await d.client.runtime('ListPodSandbox', { filter: { label_selector: { pod: 'retry' } } })).items;
    assert.equal(items.length, 1);
    await cleanupPod(a);
    // Once stopped, the name is taken until removal... and after removal it is free again.
    const c = await run(cfg);
    assert.notEqual(c, a);
    await cleanupPod(c);
  });

  it('50 run/stop/remove cycles with a hostPort leak no veth, pin, mount, IP, file, cache entry or iptables rule', async () => {
    const before = await hostCounts(d, dataDir, BRIDGE);
    for (let i = 0; i < 50; i++) {
      const id = await run(podConfig(`cycle-${i}`, {
        port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: 28200 + i }],
        linux: { security_context: { namespace_options: { network: 'POD', pid: i % 10 === 0 ? 'POD' : 'CONTAINER', ipc: 'POD' } } },
      }));
      await cleanupPod(id);
    }
    const after = await hostCounts(d, dataDir, BRIDGE);
    assert.deepEqual(after, before);
    assert.equal((await d.client.runtime('ListPodSandbox', {})).items.length, 0);
  });

  it('10 pods started, stopped and removed concurrently get distinct IPs and leave nothing', async () => {
    const before = await hostCounts(d, dataDir, BRIDGE);
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => run(podConfig(`par-${i}`))));
    const ips = await Promise.all(ids.map(async (id) => (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status!.network!.ip));
    assert.equal(new Set(ips).size, 10, `distinct IPs: ${ips}`);
    assert.equal((await hostCounts(d, dataDir, BRIDGE)).veths, before.veths + 10);
    // Stop and remove of the same pod race each other too: per-sandbox locking keeps them in order.
    await Promise.all(ids.flatMap((id) => [d.client.runtime('StopPodSandbox', { pod_sandbox_id: id }), d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id })]));
    assert.deepEqual(await hostCounts(d, dataDir, BRIDGE), before);
  });

  it('restart keeps sandboxes; one whose netns pin is gone comes back NOTREADY and removes cleanly', async () => {
    const keep = await run(podConfig('survivor'));
    const lose = await run(podConfig('lost'));
    const ipLost = (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: lose })).status!.network!.ip;
    await d.kill();
    // What a reboot does to /run: the pin is unmounted and gone.
    umount(path.join(d.state, 'ns', 'net', lose));
    await rm(path.join(d.state, 'ns', 'net', lose));
    // What a crash in the middle of RunPodSandbox leaves: pins and a directory with no record.
    const orphan = 'f'.repeat(64);
    await pinNamespaces({ nsDir: path.join(d.state, 'ns'), id: orphan, kinds: ['net', 'ipc', 'uts'], sysctls: {} });
    await mkdir(path.join(d.state, 'sandboxes', orphan, 'shm'), { recursive: true });
    d = await startDaemon({ toml: daemonToml(path.join(tmp, 'net.d')), dir: path.join(tmp, 'daemon'), logLevel: 'info' });
    const st = async (id: string) => (await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status!;
    assert.equal((await st(keep)).state, 'SANDBOX_READY');
    assert.equal((await st(lose)).state, 'SANDBOX_NOTREADY');
    assert.equal((await st(lose)).network!.ip, ipLost);
    for (const k of ['net', 'ipc', 'uts']) assert.ok(!existsSync(path.join(d.state, 'ns', k, orphan)), `orphan ${k} pin removed at start`);
    assert.ok(!existsSync(path.join(d.state, 'sandboxes', orphan)), 'orphan dir removed at start');
    const before = await hostCounts(d, dataDir, BRIDGE);
    await cleanupPod(lose);
    const after = await hostCounts(d, dataDir, BRIDGE);
    assert.equal(after.ipFiles, before.ipFiles - 1, 'IP released by DEL without the netns');
    await cleanupPod(keep);
  });
});
