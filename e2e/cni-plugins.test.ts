// CniManager with real and recording plugins, without the daemon: what each plugin receives
// (CNI_ARGS, runtimeConfig only for declared capabilities, prevResult), CHECK, and DEL that
// tolerates repeats and a namespace that is gone; bandwidth annotations through the daemon.
// Bridges berth-sb4 (10.201.4.0/24) and berth-sb6 (10.201.6.0/24).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CniManager } from '../pkg/cni/manager.js';
import { silentLogger } from '../pkg/log/log.js';
import { pinNamespaces, unpinNamespaces } from '../pkg/sandbox/namespaces.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { daemonToml, podConfig, sh } from './sandbox-fixtures.js';

const recorder = (recDir: string) => `#!/bin/sh
REC_DIR=${recDir}
# Records its environment and stdin, then answers with prevResult (a pass-through chained plugin).
n=$(ls "$REC_DIR" | grep -c '\\.env$')
env | grep ^CNI_ | sort > "$REC_DIR/$n.env"
cat > "$REC_DIR/$n.json"
if [ "$CNI_COMMAND" = ADD ]; then
  ${process.execPath} -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(JSON.stringify(c.prevResult))' "$REC_DIR/$n.json"
fi
`;

describe('cni: plugin invocation against real plugins', () => {
  let tmp: string;
  let cni: CniManager;
  let recDir: string;
  const nsDir = () => path.join(tmp, 'ns');

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-'));
    recDir = path.join(tmp, 'rec');
    await sh('mkdir', ['-p', recDir, path.join(tmp, 'bin'), path.join(tmp, 'net.d')]);
    await writeFile(path.join(tmp, 'bin', 'recorder'), recorder(recDir));
    await chmod(path.join(tmp, 'bin', 'recorder'), 0o755);
    await writeFile(path.join(tmp, 'net.d', '10-rec.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'berth-sb4',
      plugins: [
        { type: 'bridge', bridge: 'berth-sb4', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.201.4.0/24' }]], dataDir: path.join(tmp, 'ipam') } },
        { type: 'recorder', capabilities: { portMappings: true } },
        { type: 'recorder', capabilities: { bandwidth: true } },
        { type: 'recorder' },
      ],
    }));
    cni = new CniManager({ confDir: path.join(tmp, 'net.d'), binDirs: [path.join(tmp, 'bin'), '/usr/lib/cni'], cacheDir: path.join(tmp, 'cache'), log: silentLogger() });
    await cni.start();
  });
  after(async () => {
    cni.close();
    await unpinNamespaces(nsDir(), 'p1').catch(() => undefined);
    await sh('ip', ['link', 'del', 'berth-sb4']).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('ADD passes CNI_ARGS, capability-filtered runtimeConfig and prevResult; CHECK passes; DEL twice and without netns is fine', async () => {
    assert.equal(cni.networkStatus().ready, true, cni.networkStatus().message);
    const pins = await pinNamespaces({ nsDir: nsDir(), id: 'p1', kinds: ['net'], sysctls: {} });
    const result = await cni.add({
      id: 'p1', netnsPath: pins.net!, podName: 'web', podNamespace: 'default', podUid: 'uid-1',
      portMappings: [{ hostPort: 28300, containerPort: 80, protocol: 'tcp' }], bandwidth: { ingressRate: 1000, ingressBurst: 2000 },
    });
    assert.match(result.ips[0]!.address, /^10\.201\.4\.\d+\/24$/);
    const rec = async (n: number) => ({ env: await readFile(path.join(recDir, `${n}.env`), 'utf8'), conf: JSON.parse(await readFile(path.join(recDir, `${n}.json`), 'utf8')) as Record<string, unknown> });
    const [r0, r1, r2] = [await rec(0), await rec(1), await rec(2)];
    assert.match(r0.env, /^CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=p1;K8S_POD_UID=uid-1$/m);
    assert.match(r0.env, /^CNI_COMMAND=ADD$/m);
    assert.match(r0.env, new RegExp(`^CNI_NETNS=${pins.net}$`, 'm'));
    assert.match(r0.env, /^CNI_IFNAME=eth0$/m);
    assert.deepEqual(r0.conf.runtimeConfig, { portMappings: [{ hostPort: 28300, containerPort: 80, protocol: 'tcp' }] });
    assert.deepEqual(r1.conf.runtimeConfig, { bandwidth: { ingressRate: 1000, ingressBurst: 2000 } });
    assert.equal(r2.conf.runtimeConfig, undefined, 'no capabilities, no runtimeConfig');
    assert.equal(r0.conf.name, 'berth-sb4');
    assert.equal(r0.conf.cniVersion, '1.0.0');
    assert.deepEqual((r0.conf.prevResult as { ips: unknown[] }).ips, result.raw.ips, 'chained prevResult');

    await cni.check('p1');
    assert.match(await readFile(path.join(recDir, '3.env'), 'utf8'), /^CNI_COMMAND=CHECK$/m);

    await cni.del('p1');
    const dels = (await readdir(recDir)).filter((f) => f.endsWith('.env')).length;
    assert.match(await readFile(path.join(recDir, `${dels - 1}.env`), 'utf8'), /^CNI_COMMAND=DEL$/m);
    assert.ok((JSON.parse(await readFile(path.join(recDir, `${dels - 1}.json`), 'utf8')) as { prevResult?: unknown }).prevResult, 'DEL gets prevResult');
    assert.deepEqual((await readdir(path.join(tmp, 'ipam', 'berth-sb4'))).filter((f) => f.startsWith('10.')), [], 'IP released');
    await cni.del('p1');
    assert.equal((await readdir(recDir)).filter((f) => f.endsWith('.env')).length, dels, 'a repeated DEL runs nothing');
    assert.equal(await cni.cachedResult('p1'), undefined);

    // ADD again, lose the namespace (as a reboot would), DEL still releases the IP.
    await cni.add({ id: 'p1', netnsPath: pins.net!, podName: 'web', podNamespace: 'default', podUid: 'uid-1', portMappings: [] });
    await unpinNamespaces(nsDir(), 'p1');
    await cni.del('p1');
    assert.deepEqual((await readdir(path.join(tmp, 'ipam', 'berth-sb4'))).filter((f) => f.startsWith('10.')), []);
    await assert.rejects(cni.check('p1'), /no network attachment/);
  });

  it('a failing plugin fails ADD with its message and leaves nothing attached', async () => {
    const pins = await pinNamespaces({ nsDir: nsDir(), id: 'p1', kinds: ['net'], sysctls: {} });
    await writeFile(path.join(tmp, 'bin', 'recorder'), '#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] && { echo \'{"code":11,"msg":"boom","details":"by design"}\'; exit 1; }\nexit 0\n');
    await assert.rejects(cni.add({ id: 'p1', netnsPath: pins.net!, podName: 'w', podNamespace: 'd', podUid: 'u', portMappings: [] }),
      /CNI plugin recorder ADD: boom: by design/);
    assert.deepEqual((await readdir(path.join(tmp, 'ipam', 'berth-sb4'))).filter((f) => f.startsWith('10.')), [], 'bridge undone');
    assert.equal(await cni.cachedResult('p1'), undefined);
    await unpinNamespaces(nsDir(), 'p1');
  });
});

describe('cni: bandwidth annotations reach the bandwidth plugin', () => {
  let d: TestDaemon;
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-'));
    await sh('mkdir', ['-p', path.join(tmp, 'net.d')]);
    await writeFile(path.join(tmp, 'net.d', '10-bw.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'berth-sb6',
      plugins: [
        { type: 'bridge', bridge: 'berth-sb6', ipam: { type: 'host-local', ranges: [[{ subnet: '10.201.6.0/24' }]], dataDir: path.join(tmp, 'ipam') } },
        { type: 'bandwidth', capabilities: { bandwidth: true } },
      ],
    }));
    d = await startDaemon({ toml: daemonToml(path.join(tmp, 'net.d')) });
  });
  after(async () => {
    await d.stop();
    await d.cleanup();
    await sh('ip', ['link', 'del', 'berth-sb6']).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('shapes the pod veth at the annotated ingress rate and removes the shaping at stop', async () => {
    const id = (await d.client.runtime('RunPodSandbox', {
      config: podConfig('bw', { annotations: { 'kubernetes.io/ingress-bandwidth': '1M', 'kubernetes.io/egress-bandwidth': '2M' } }),
    })).pod_sandbox_id;
    const st = await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    const result = (JSON.parse(st.info.info!) as { cniResult: { interfaces: { name: string; sandbox?: string }[] } }).cniResult;
    const hostVeth = result.interfaces.find((i) => !i.sandbox && i.name !== 'berth-sb6')!.name;
    assert.match((await sh('tc', ['qdisc', 'show', 'dev', hostVeth])).stdout, /tbf .* rate 1Mbit/);
    const ifbs = async () => (await sh('ip', ['-o', 'link'])).stdout.split('\n').filter((l) => /: bwp/.test(l)).length;
    assert.ok((await ifbs()) >= 1, 'egress shaping device');
    const before = await ifbs();
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    assert.equal(await ifbs(), before - 1, 'egress shaping device removed by DEL');
  });
});
