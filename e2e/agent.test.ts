// `berth agent` end to end, against the test API server (pkg/agent/testing, a stand-in for
// kube-apiserver: none can run here) with the real @kubernetes/client-node inside the agent:
// the agent, run from a package built by scripts/package.mjs, installs berth into a temporary
// host root; the test starts the installed berth (there is no systemd here: --systemctl none);
// the agent labels the node and creates the RuntimeClasses; a ConfigMap change sends the next
// pull through a new mirror with no daemon restart; a Secret gives registry credentials; a
// broken ConfigMap is refused with an Event; a watch that expires (410) is survived; SIGTERM
// stops the agent cleanly; a second run changes nothing; --uninstall removes what was installed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, NodeV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { TestApiServer } from '../pkg/agent/testing/apiserver.js';
import { CriClient } from '../pkg/client/cri.js';
import { PROJECT_ROOT } from '../pkg/version/version.js';
import { eventually, waitExit } from './harness.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';

const NODE = 'e2e-node';
const NS = 'berth-system';
const run = promisify(execFile);

/** The harness's polling helper for a probe that may throw (not ready yet) or give undefined/false. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> =>
  eventually(what, () => fn().catch(() => undefined), (v) => v !== undefined && v !== false, timeoutMs) as Promise<T>;

interface Proc {
  proc: ChildProcess;
  logs(): string;
}

function start(cmd: string, args: string[], ready: RegExp): Promise<Proc & { match: RegExpExecArray }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      const m = ready.exec(err);
      if (m) resolve({ proc, logs: () => err, match: m });
    });
    proc.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}:\n${err}`)));
  });
}

describe('berth agent (test API server, installed berth)', () => {
  let tmp: string;
  let host: string;
  let pkg: string;
  let api: TestApiServer;
  let core: CoreV1Api;
  let nodeApi: NodeV1Api;
  let kubeconfig: string;
  let agent: Proc | undefined;
  let daemon: Proc | undefined;
  let cri: CriClient;
  let mirror: TestRegistry;
  let locked: TestRegistry;
  let probes = '';
  const socket = () => path.join(host, 'run/berth/berth.sock');

  const events = async (reason: string): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: 'default' })).items.filter((e) => e.reason === reason && e.involvedObject.name === NODE);
  const nthEvent = (reason: string, n: number) => until(`${n} ${reason} event(s)`, async () => {
    const evs = await events(reason);
    return evs.length >= n && evs[n - 1];
  });
  const readyz = async () => {
    const res = await fetch(`http://${probes}/readyz`);
    return { code: res.status, body: await res.text() };
  };
  const startAgent = async (extra: string[] = []) => {
    const p = await start(path.join(pkg, 'bin/berth'), ['agent', '--kubeconfig', kubeconfig, '--node-name', NODE, '--namespace', NS, '--host-root', host,
      '--systemctl', 'none', '--health-listen', '127.0.0.1:0', '--log-level', 'debug', ...extra], /"address":"([^"]+)","msg":"probes listening"/);
    probes = p.match[1]!;
    return p;
  };
  const setConfigMap = async (data: Record<string, string>) => {
    const body = { metadata: { name: 'berth-config', namespace: NS }, data };
    await core.replaceNamespacedConfigMap({ namespace: NS, name: 'berth-config', body }).catch(() => core.createNamespacedConfigMap({ namespace: NS, body }));
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-agent-'));
    host = path.join(tmp, 'host');
    pkg = path.join(tmp, 'pkg');
    await run(process.execPath, [path.join(PROJECT_ROOT, 'scripts/package.mjs'), '--out', pkg], { cwd: PROJECT_ROOT, maxBuffer: 1 << 24 });
    api = new TestApiServer();
    await api.start();
    kubeconfig = path.join(tmp, 'kubeconfig');
    await writeFile(kubeconfig, api.kubeconfig());
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    nodeApi = kc.makeApiClient(NodeV1Api);
    await core.createNode({ body: { metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } } });
    mirror = await startRegistry();
    locked = await startRegistry({ htpasswd: { username: 'puller', password: 'pw' } });
    await pushBusybox(mirror.host, 'library/busybox', 'agent');
    await pushBusybox(locked.host, 'private/busybox', 'v1', { authorization: `Basic ${Buffer.from('puller:pw').toString('base64')}` });
  });
  after(async () => {
    cri?.close();
    for (const p of [agent, daemon]) {
      if (p && p.proc.exitCode === null && p.proc.signalCode === null) {
        p.proc.kill('SIGKILL');
        await waitExit(p.proc).catch(() => undefined);
      }
    }
    await api?.stop();
    await mirror?.stop();
    await locked?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('installs berth into the host root, and the installed berth runs', async () => {
    agent = await startAgent();
    const installed = await nthEvent('Installed', 1);
    assert.match(installed.message!, /^berth 0\.1\.0 installed: \/opt\/berth, \/etc\/systemd\/system\/berth.service, \/etc\/berth\/berth.toml/);
    assert.equal(installed.type, 'Normal');
    assert.match(await readFile(path.join(host, 'etc/systemd/system/berth.service'), 'utf8'), /ExecStart=\/opt\/berth\/bin\/berth daemon --config \/etc\/berth\/berth.toml/);
    // No systemd here: the test starts the installed berth, as the unit would, on the host root's paths.
    daemon = await start(path.join(host, 'opt/berth/bin/berth'), ['daemon', '--config', path.join(host, 'etc/berth/berth.toml'),
      '--listen', `unix://${socket()}`, '--root', path.join(host, 'var/lib/berth'), '--state', path.join(host, 'run/berth'), '--metrics-listen', ''], /"msg":"berth ready"/);
    cri = new CriClient(socket());
    assert.equal((await cri.runtime('Version', {})).runtime_name, 'berth');
    // The package's wrapper runs its node with the node flags of the repository's bin/berth.
    const flags = /^#!\/usr\/bin\/env -S node (.+)$/m.exec(await readFile(path.join(PROJECT_ROOT, 'bin/berth'), 'utf8'))?.[1];
    const argv = (await readFile(`/proc/${daemon.proc.pid}/cmdline`, 'utf8')).split('\0');
    for (const f of flags?.split(/\s+/) ?? []) assert.ok(argv.includes(f), `the daemon runs with ${f}: ${argv.join(' ')}`);
  });

  it('labels and annotates the node (keeping its other labels) and creates the RuntimeClasses', async () => {
    const node = await until('the ready label', async () => {
      const n = await core.readNode({ name: NODE });
      return n.metadata!.labels!['berth.io/runtime'] === 'ready' && n;
    });
    const labels = node.metadata!.labels!;
    assert.equal(labels['kubernetes.io/hostname'], NODE);
    assert.equal(labels['berth.io/version'], '0.1.0');
    assert.match(labels['berth.io/cgroup']!, /^(v1|v2|hybrid)$/);
    assert.equal(labels['berth.io/cdi'], 'true', 'berth injects CDI devices');
    assert.equal(node.metadata!.annotations!['berth.io/handlers'], 'runc,crun');
    for (const h of ['runc', 'crun']) {
      const rc = await until(`RuntimeClass berth-${h}`, () => nodeApi.readRuntimeClass({ name: `berth-${h}` }));
      assert.equal(rc.handler, h);
      assert.deepEqual(rc.scheduling!.nodeSelector, { 'berth.io/runtime': 'ready' });
    }
    await nthEvent('BerthReady', 1);
    const r = await until('/readyz 200', async () => {
      const x = await readyz();
      return x.code === 200 && x;
    });
    assert.match(r.body, /\[\+\]config ok/);
  });

  it('applies a ConfigMap mirror to the next pull, with no restart of berth', async () => {
    await assert.rejects(cri.image('PullImage', { image: { image: 'docker.io/library/busybox:agent' } }), /registry-1\.docker\.io/);
    const pid = daemon!.proc.pid;
    await setConfigMap({ 'berth.toml': `[registry.mirrors]\n"docker.io" = ["http://${mirror.host}"]\n` });
    const applied = await nthEvent('ConfigApplied', 1);
    assert.match(applied.message!, /applied without a restart; changed: registry.mirrors$/);
    const r = await cri.image('PullImage', { image: { image: 'docker.io/library/busybox:agent' } });
    assert.match(r.image_ref, /^sha256:/);
    assert.match(mirror.logs(), /GET \/v2\/library\/busybox\/manifests\/agent HTTP\/1.1" 200/);
    assert.equal(daemon!.proc.pid, pid);
    assert.equal(daemon!.proc.exitCode, null);
    assert.match(daemon!.logs(), /"changed":\["registry.mirrors"\],"msg":"config reloaded"/);
    const dropIn = await readFile(path.join(host, 'etc/berth/berth.d/50-berth-agent.toml'), 'utf8');
    assert.match(dropIn, /docker\.io/);
    assert.ok(!(await readFile(path.join(host, 'etc/berth/berth.toml'), 'utf8')).includes(mirror.host), 'the node\'s own file is not touched');
  });

  it('takes registry credentials from a docker-registry Secret the ConfigMap names', async () => {
    await assert.rejects(cri.image('PullImage', { image: { image: `${locked.host}/private/busybox:v1` } }), /unauthorized/i);
    const dockerconfig = JSON.stringify({ auths: { [locked.host]: { username: 'puller', password: 'pw' } } });
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerconfig } } });
    await setConfigMap({ 'berth.toml': `[registry.mirrors]\n"docker.io" = ["http://${mirror.host}"]\n`, 'registry-secrets': 'regcred\n' });
    assert.match((await nthEvent('ConfigApplied', 2)).message!, /changed: registry.auths$/);
    await cri.image('PullImage', { image: { image: `${locked.host}/private/busybox:v1` } });
    const status = JSON.parse((await cri.runtime('Status', { verbose: true })).info.config!);
    assert.equal(status.registry.auths[locked.host].password, '<redacted>');
  });

  it('refuses a broken ConfigMap with a Warning Event; the old config stays in force', async () => {
    const before = await readFile(path.join(host, 'etc/berth/berth.d/50-berth-agent.toml'), 'utf8');
    await setConfigMap({ 'berth.toml': `log_level = "loud"\n[registry.mirrors]\n"docker.io" = ["http://127.0.0.1:1"]\n`, 'registry-secrets': 'regcred' });
    const refused = await nthEvent('ConfigRefused', 1);
    assert.equal(refused.type, 'Warning');
    assert.match(refused.message!, /key "log_level": "loud" is not one of/);
    assert.equal(await readFile(path.join(host, 'etc/berth/berth.d/50-berth-agent.toml'), 'utf8'), before);
    const r = await readyz();
    assert.equal(r.code, 503);
    assert.match(r.body, /\[-\]config failed: refused: .*"loud"/);
    await pushBusybox(mirror.host, 'library/busybox', 'still');
    await cri.image('PullImage', { image: { image: 'docker.io/library/busybox:still' } });

    await setConfigMap({ 'berth.toml': 'root = "/elsewhere"\n' });
    assert.match((await nthEvent('ConfigRefused', 2)).message!, /key "root" cannot be set from the cluster/);
  });

  it('survives a watch that expires (410 Gone) and applies the next change', async () => {
    const watchesBefore = api.watchCount;
    assert.equal(watchesBefore, 2, 'ConfigMap and Secret watches');
    // Another object's change moves the resourceVersion past the agent's; compaction then makes
    // the agent's resourceVersion too old, so its next watch gets 410 and it lists again.
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'unrelated' } } });
    // The Secret watch lists again more slowly than the ConfigMap watch (its answer is held): the
    // ConfigMap's change is applied meanwhile, with the Secrets the agent already has.
    const secretsList = api.holdNextList('secrets');
    api.compactAndCloseWatches();
    await secretsList.reached;
    await setConfigMap({ 'berth.toml': `[registry.mirrors]\n"docker.io" = ["http://${mirror.host}"]\n[image]\nmax_concurrent_downloads = 2\n`, 'registry-secrets': 'regcred' });
    try {
      assert.match((await nthEvent('ConfigApplied', 3)).message!, /changed: image.max_concurrent_downloads$/);
    } finally {
      secretsList.release();
    }
    await until('the watches back', async () => api.watchCount === 2);
    await until('/readyz 200 again', async () => (await readyz()).code === 200);
  });

  it('stops on SIGTERM, closing its watches; a second run changes nothing', async () => {
    agent!.proc.kill('SIGTERM');
    assert.equal(await waitExit(agent!.proc), 0);
    await until('watches closed', async () => api.watchCount === 0);
    assert.equal(daemon!.proc.exitCode, null, 'berth keeps running');

    agent = await startAgent();
    await until('/readyz 200', async () => (await readyz()).code === 200);
    assert.match(agent.logs(), /"treeChanged":false,"unitChanged":false,"wrote":\[\]/);
    assert.equal((await events('Installed')).length + (await events('Upgraded')).length, 1, 'no second install');
    assert.equal((await events('ConfigApplied')).length, 3, 'the drop-in already said this');
    agent.proc.kill('SIGTERM');
    assert.equal(await waitExit(agent.proc), 0);
  });

  it('--uninstall removes what it installed and berth\'s node labels, and nothing else', async () => {
    daemon!.proc.kill('SIGTERM');
    assert.equal(await waitExit(daemon!.proc), 0);
    cri.close();
    await writeFile(path.join(host, 'etc/cni/net.d/99-operator.conflist'), '{}');
    const u = await start(path.join(pkg, 'bin/berth'), ['agent', '--uninstall', '--kubeconfig', kubeconfig, '--node-name', NODE, '--namespace', NS,
      '--host-root', host, '--systemctl', 'none'], /"msg":"berth uninstalled"/);
    assert.equal(await waitExit(u.proc), 0);
    for (const gone of ['opt/berth', 'etc/systemd/system/berth.service', 'etc/berth/berth.toml', 'etc/berth/berth.d', 'etc/cni/net.d/10-berth-bridge.conflist', 'var/lib/berth-agent']) {
      await assert.rejects(access(path.join(host, gone)), { code: 'ENOENT' }, `${gone} removed`);
    }
    await access(path.join(host, 'etc/cni/net.d/99-operator.conflist'));
    await access(path.join(host, 'var/lib/berth/berth.db'));
    const node = await core.readNode({ name: NODE });
    assert.deepEqual(node.metadata!.labels, { 'kubernetes.io/hostname': NODE });
    assert.deepEqual(Object.keys(node.metadata!.annotations ?? {}).filter((k) => k.startsWith('berth.io/')), []);
    assert.match((await nthEvent('Uninstalled', 1)).message!, /removed .*\/opt\/berth/);
  });
});
