// NetworkReady follows the CNI conf dir without a restart; UpdateRuntimeConfig writes the
// configured template with the pod CIDR; older CNI versions (0.3.1, 0.4.0) work end to end.
// Bridges berth-sb1 (10.201.1.0/24) and berth-sb3 (10.211.0.0/24).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { eventually, startDaemon, type TestDaemon } from './harness.js';
import { bridgeConflist, daemonToml, podConfig, sh, writeNet } from './sandbox-fixtures.js';

async function networkReady(d: TestDaemon) {
  const s = await d.client.runtime('Status', {});
  return s.status!.conditions.find((c) => c.type === 'NetworkReady')!;
}

async function waitReady(d: TestDaemon, want: boolean): Promise<void> {
  await eventually(`NetworkReady ${want}`, () => networkReady(d), (c) => c.status === want, 5000);
}

describe('cni: NetworkReady follows the conf dir; UpdateRuntimeConfig; CNI versions', () => {
  let d: TestDaemon;
  let tmp: string;
  let confDir: string;
  const cleanupPod = async (id: string) => {
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-'));
    confDir = path.join(tmp, 'net.d');
    await writeFile(path.join(tmp, 'template.conflist'), bridgeConflist({ bridge: 'berth-sb3', subnet: '{{.PodCIDR}}', dataDir: path.join(tmp, 'ipam') }));
    d = await startDaemon({ toml: `${daemonToml(confDir)}conf_template = "${path.join(tmp, 'template.conflist')}"\n` });
  });
  after(async () => {
    for (const s of (await d.client.runtime('ListPodSandbox', {})).items) await cleanupPod(s.id).catch(() => undefined);
    await d.stop();
    await d.cleanup();
    for (const b of ['berth-sb1', 'berth-sb3']) await sh('ip', ['link', 'del', b]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('without a config: NetworkReady false with a reason, pod-network RunPodSandbox fails clearly, host network works', async () => {
    const c = await networkReady(d);
    assert.equal(c.status, false);
    assert.equal(c.reason, 'NetworkPluginNotReady');
    assert.match(c.message, /no valid network config/);
    await assert.rejects(d.client.runtime('RunPodSandbox', { config: podConfig('nonet') }), (e: CriError) => {
      assert.equal(e.code, GrpcStatus.FAILED_PRECONDITION);
      assert.match(e.details, /network not ready: cni config uninitialized/);
      return true;
    });
    assert.equal((await d.client.runtime('ListPodSandbox', {})).items.length, 0, 'nothing left by the failure');
    const host = await d.client.runtime('RunPodSandbox', {
      config: podConfig('hostnet', { linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } } }),
    });
    await cleanupPod(host.pod_sandbox_id);
  });

  it('an invalid file keeps it false and says why; dropping a valid config in makes both work without a restart', async () => {
    await writeFile(path.join(confDir, '05-broken.conflist'), '{"name": "x", "plugins": [');
    const c = await eventually('NetworkReady names the broken file', () => networkReady(d), (x) => /05-broken/.test(x.message), 5000);
    assert.equal(c.status, false);
    assert.match(c.message, /05-broken\.conflist: invalid JSON/);
    await writeNet(confDir, '10-sb.conflist', { bridge: 'berth-sb1', subnet: '10.201.1.0/24', dataDir: path.join(tmp, 'ipam'), cniVersion: '0.4.0' });
    await waitReady(d, true);
    const id = (await d.client.runtime('RunPodSandbox', { config: podConfig('afterdrop') })).pod_sandbox_id;
    const st = await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    assert.match(st.status!.network!.ip, /^10\.201\.1\./);
    assert.equal((JSON.parse(st.info.info!) as { cniResult: { cniVersion: string } }).cniResult.cniVersion, '0.4.0');
    await cleanupPod(id);
    await unlink(path.join(confDir, '05-broken.conflist'));
  });

  it('removing the config turns NetworkReady false again', async () => {
    await unlink(path.join(confDir, '10-sb.conflist'));
    await waitReady(d, false);
  });

  it('UpdateRuntimeConfig writes the template with the pod CIDR, and pods get addresses from it (CNI 1.0.0)', async () => {
    await d.client.runtime('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.211.0.0/24' } } });
    const written = await readFile(path.join(confDir, '00-berth-podcidr.conflist'), 'utf8');
    assert.match(written, /"subnet": "10\.211\.0\.0\/24"/);
    await waitReady(d, true);
    const id = (await d.client.runtime('RunPodSandbox', { config: podConfig('templated') })).pod_sandbox_id;
    const st = await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id });
    assert.match(st.status!.network!.ip, /^10\.211\.0\./);
    await cleanupPod(id);
  });

  it('a 0.3.1 network works too', async () => {
    await unlink(path.join(confDir, '00-berth-podcidr.conflist'));
    await writeNet(confDir, '20-old.conflist', { bridge: 'berth-sb1', subnet: '10.201.1.0/24', dataDir: path.join(tmp, 'ipam'), cniVersion: '0.3.1', name: 'old' });
    const end = Date.now() + 5000;
    // Wait until the 0.3.1 network is the one loaded (the bridge is the same as before).
    let id = '';
    while (!id) {
      const r = await d.client.runtime('RunPodSandbox', { config: podConfig(`old-${Date.now()}`) });
      const st = await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: r.pod_sandbox_id, verbose: true });
      const v = JSON.parse(st.info.info!) as { cniResult: { cniVersion: string } };
      if (v.cniResult.cniVersion === '0.3.1') id = r.pod_sandbox_id;
      else await cleanupPod(r.pod_sandbox_id);
      assert.ok(Date.now() < end, '0.3.1 network not loaded in time');
    }
    assert.match((await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status!.network!.ip, /^10\.201\.1\./);
    await cleanupPod(id);
  });
});
