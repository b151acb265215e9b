// Pod sandboxes against the real daemon, the real CNI plugins (bridge, host-local, portmap,
// loopback from /usr/lib/cni) and real namespaces. Bridge berth-sb0, 10.201.0.0/24.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { eventually, startDaemon, type TestDaemon } from './harness.js';
import { daemonToml, hostCounts, inNetns, podConfig, sh, writeNet } from './sandbox-fixtures.js';

const BRIDGE = 'berth-sb0';
const GATEWAY = '10.201.0.1';

/** A TCP server answering "pong <name>" inside the netns, started with node under nsenter. */
async function podServer(netns: string, port: number, name: string): Promise<ChildProcess> {
  const script = `require('net').createServer((s)=>s.end('pong ${name}\\n')).listen(${port},'0.0.0.0',()=>console.log('listening'))`;
  const p = spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (c) => reject(new Error(`pod server exited ${c}`)));
  });
  return p;
}

function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

/** Connects from the host and returns what the server sent. */
function tcpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = net.connect({ host, port, timeout: 5000 }, () => undefined);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (data += c));
    s.on('end', () => resolve(data.trim()));
    s.on('timeout', () => { s.destroy(); reject(new Error(`timeout connecting to ${host}:${port}`)); });
    s.on('error', reject);
  });
}

/** Connects from inside a netns (node under nsenter) and returns what the server sent. */
async function tcpGetFrom(netns: string, host: string, port: number): Promise<string> {
  const script = `const s=require('net').connect(${port},'${host}');let d='';s.on('data',c=>d+=c);s.on('end',()=>{console.log(d.trim())});s.setTimeout(5000,()=>{console.error('timeout');process.exit(1)})`;
  return (await inNetns(netns, [process.execPath, '-e', script])).stdout.trim();
}

interface Verbose { netnsPath: string | null; ipcnsPath: string | null; utsnsPath: string | null; pausePid: number | null; cniResult: { ips: { address: string }[] } | null }

describe('sandbox: pods on a CNI bridge network', () => {
  let d: TestDaemon;
  let tmp: string;
  let dataDir: string;
  const procs: ChildProcess[] = [];
  const run = async (cfg: ReturnType<typeof podConfig>) => (await d.client.runtime('RunPodSandbox', { config: cfg })).pod_sandbox_id;
  const status = async (id: string) => {
    const r = await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    return { status: r.status!, verbose: JSON.parse(r.info.info!) as Verbose };
  };
  const cleanupPod = async (id: string) => {
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-'));
    dataDir = path.join(tmp, 'ipam');
    await writeNet(path.join(tmp, 'net.d'), '10-sb.conflist', { bridge: BRIDGE, subnet: '10.201.0.0/24', dataDir });
    d = await startDaemon({ toml: daemonToml(path.join(tmp, 'net.d')) });
  });
  after(async () => {
    for (const p of procs) await stopProc(p);
    for (const s of (await d.client.runtime('ListPodSandbox', {})).items) await cleanupPod(s.id).catch(() => undefined);
    await d.stop();
    await d.cleanup();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('reports NetworkReady true with a config present', async () => {
    const s = await d.client.runtime('Status', {});
    const c = s.status!.conditions.find((x) => x.type === 'NetworkReady')!;
    assert.equal(c.status, true, c.message);
  });

  it('gives two pods distinct IPs; pods reach each other and the host over TCP, and the host reaches them', async () => {
    const a = await run(podConfig('net-a'));
    const b = await run(podConfig('net-b'));
    const sa = await status(a);
    const sb = await status(b);
    const ipA = sa.status.network!.ip;
    const ipB = sb.status.network!.ip;
    assert.match(ipA, /^10\.201\.0\.\d+$/);
    assert.match(ipB, /^10\.201\.0\.\d+$/);
    assert.notEqual(ipA, ipB);
    assert.equal(sa.verbose.cniResult!.ips[0]!.address.split('/')[0], ipA);
    // eth0 in the pod carries the IP; lo is up.
    const addrs = (await inNetns(sa.verbose.netnsPath!, ['ip', '-o', 'addr'])).stdout;
    assert.match(addrs, new RegExp(`eth0\\s+inet ${ipA.replaceAll('.', '\\.')}/24`));
    assert.match((await inNetns(sa.verbose.netnsPath!, ['ip', '-o', 'link', 'show', 'lo'])).stdout, /UP/);

    procs.push(await podServer(sa.verbose.netnsPath!, 8080, 'a'));
    procs.push(await podServer(sb.verbose.netnsPath!, 8080, 'b'));
    assert.equal(await tcpGet(ipA, 8080), 'pong a', 'host → pod a');
    assert.equal(await tcpGetFrom(sb.verbose.netnsPath!, ipA, 8080), 'pong a', 'pod b → pod a');
    assert.equal(await tcpGetFrom(sa.verbose.netnsPath!, ipB, 8080), 'pong b', 'pod a → pod b');
    // pod → host: a server on the bridge's gateway address in the host namespace.
    const hostSrv = net.createServer((s) => s.end('pong host\n'));
    await new Promise<void>((r) => hostSrv.listen(28901, GATEWAY, () => r()));
    try {
      assert.equal(await tcpGetFrom(sa.verbose.netnsPath!, GATEWAY, 28901), 'pong host', 'pod a → host');
    } finally {
      hostSrv.close();
    }
    for (const p of procs.splice(0)) await stopProc(p);
    await cleanupPod(a);
    await cleanupPod(b);
  });

  it('forwards a hostPort on 127.0.0.1 to the pod (portmap) and removes the rules on stop', async () => {
    const id = await run(podConfig('hostport', { port_mappings: [{ protocol: 'TCP', container_port: 8081, host_port: 28081 }] }));
    const s = await status(id);
    const srv = await podServer(s.verbose.netnsPath!, 8081, 'hostport');
    try {
      assert.equal(await tcpGet('127.0.0.1', 28081), 'pong hostport');
      const nat = (await sh('iptables-save', ['-t', 'nat'])).stdout;
      assert.match(nat, /--dport 28081/);
    } finally {
      await stopProc(srv);
    }
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    assert.doesNotMatch((await sh('iptables-save', ['-t', 'nat'])).stdout, /--dport 28081/, 'portmap rules removed by DEL');
    assert.equal((await status(id)).status.state, 'SANDBOX_NOTREADY');
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  });

  it('writes hostname, resolv.conf from dns_config, hosts, and sets namespaced sysctls in the pod only', async () => {
    const hostPortStart = (await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).trim();
    const hostMsgmax = (await readFile('/proc/sys/kernel/msgmax', 'utf8')).trim();
    const id = await run(podConfig('files', {
      hostname: 'files-host',
      dns_config: { servers: ['10.96.0.10', '1.1.1.1'], searches: ['ns.svc.cluster.local', 'cluster.local'], options: ['ndots:5'] },
      linux: {
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '123', 'kernel.msgmax': '12345' },
        security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    }));
    const { status: st, verbose } = await status(id);
    const dir = path.join(d.state, 'sandboxes', id);
    assert.equal(await readFile(path.join(dir, 'hostname'), 'utf8'), 'files-host\n');
    assert.equal(await readFile(path.join(dir, 'resolv.conf'), 'utf8'),
      'search ns.svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:5\n');
    const hosts = await readFile(path.join(dir, 'hosts'), 'utf8');
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(hosts, new RegExp(`^${st.network!.ip.replaceAll('.', '\\.')}\\tfiles-host$`, 'm'));
    assert.equal((await sh('nsenter', [`--uts=${verbose.utsnsPath}`, 'hostname'])).stdout.trim(), 'files-host');
    assert.equal((await inNetns(verbose.netnsPath!, ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).stdout.trim(), '123');
    assert.equal((await sh('nsenter', [`--ipc=${verbose.ipcnsPath}`, 'cat', '/proc/sys/kernel/msgmax'])).stdout.trim(), '12345');
    assert.equal((await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')).trim(), hostPortStart, 'host untouched');
    assert.equal((await readFile('/proc/sys/kernel/msgmax', 'utf8')).trim(), hostMsgmax, 'host untouched');
    assert.notEqual(os.hostname(), 'files-host');
    // A 64 MiB tmpfs for /dev/shm.
    const mi = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(` ${dir}/shm `));
    assert.ok(mi && /tmpfs/.test(mi) && /size=65536k/.test(mi), `shm mount: ${mi}`);
    await cleanupPod(id);
  });

  it('a host-network pod has no netns, no veth, the host hostname and hosts file', async () => {
    const before = await hostCounts(d, dataDir, BRIDGE);
    const id = await run(podConfig('hostnet', {
      hostname: 'ignored',
      linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'NODE' } } },
    }));
    const { status: st, verbose } = await status(id);
    assert.equal(verbose.netnsPath, null);
    assert.equal(verbose.utsnsPath, null);
    assert.equal(verbose.ipcnsPath, null);
    assert.equal(verbose.cniResult, null);
    assert.equal(st.network!.ip, '');
    assert.equal(st.linux!.namespaces!.options!.network, 'NODE');
    const during = await hostCounts(d, dataDir, BRIDGE);
    assert.equal(during.veths, before.veths, 'no veth for a host-network pod');
    assert.equal(during.ipFiles, before.ipFiles, 'no IP reserved');
    const dir = path.join(d.state, 'sandboxes', id);
    assert.equal(await readFile(path.join(dir, 'hostname'), 'utf8'), `${os.hostname()}\n`);
    assert.equal(await readFile(path.join(dir, 'hosts'), 'utf8'), await readFile('/etc/hosts', 'utf8'));
    assert.equal(await readFile(path.join(dir, 'resolv.conf'), 'utf8'), await readFile('/etc/resolv.conf', 'utf8'));
    assert.ok(!existsSync(path.join(dir, 'shm')), 'host IPC: no private shm');
    await cleanupPod(id);
  });

  it('POD pid mode runs pause in the pod namespaces under runc; it is gone after stop', async () => {
    const id = await run(podConfig('pidpod', {
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
    }));
    const { verbose } = await status(id);
    const pid = verbose.pausePid!;
    assert.ok(pid > 0, 'pause pid reported');
    // `runc run --detach` may return while its init is still about to exec /pause (ea8805a).
    const cmdline = () => readFile(`/proc/${pid}/cmdline`, 'utf8').then((s) => s.replace(/\0/g, ' ').trim());
    assert.equal(await eventually('pause has exec\'d', cmdline, (c) => c === '/pause'), '/pause');
    const same = async (a: string, b: string) => (await stat(a)).ino === (await stat(b)).ino;
    assert.ok(await same(`/proc/${pid}/ns/net`, verbose.netnsPath!), 'pause joined the pod netns');
    assert.ok(await same(`/proc/${pid}/ns/ipc`, verbose.ipcnsPath!), 'pause joined the pod ipc ns');
    assert.ok(!(await same(`/proc/${pid}/ns/pid`, '/proc/self/ns/pid')), 'pause has its own pid ns');
    assert.equal((await readFile(`/proc/${pid}/status`, 'utf8')).match(/^NSpid:.*\s(\d+)$/m)?.[1], '1', 'pause is pid 1 of its ns');
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    // runc's detached process re-parents to pid 1, which may take a moment to reap it: dead is a zombie or gone.
    const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    assert.ok(st === '' || /^\d+ \([^)]*\) [ZX]/.test(st), `pause gone after stop: ${st}`);
    assert.equal((await status(id)).verbose.pausePid, null);
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  });

  it('stop + remove leave nothing: no pin, veth, IP reservation, mount, file or cache entry; both are idempotent', async () => {
    const before = await hostCounts(d, dataDir, BRIDGE);
    const id = await run(podConfig('gone', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: 28082 }] }));
    const during = await hostCounts(d, dataDir, BRIDGE);
    assert.equal(during.veths, before.veths + 1);
    assert.equal(during.pins, before.pins + 3);
    assert.equal(during.ipFiles, before.ipFiles + 1);
    assert.ok(during.iptablesRules > before.iptablesRules, 'portmap rules added');
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id });
    assert.deepEqual(await hostCounts(d, dataDir, BRIDGE), before);
    assert.ok(!existsSync(path.join(d.state, 'ns', 'net', id)));
    assert.ok(!existsSync(path.join(d.state, 'sandboxes', id)));
    await assert.rejects(d.client.runtime('PodSandboxStatus', { pod_sandbox_id: id }), (e: CriError) => {
      assert.equal(e.code, GrpcStatus.NOT_FOUND);
      assert.match(e.details, new RegExp(id));
      return true;
    });
  });

  it('lists with id prefix, state and label filters', async () => {
    const a = await run(podConfig('list-a', { labels: { app: 'berth-sb', tier: 'x' } }));
    const b = await run(podConfig('list-b', { labels: { app: 'berth-sb', tier: 'y' } }));
    await d.client.runtime('StopPodSandbox', { pod_sandbox_id: b });
    const ids = async (filter: object) => (await d.client.runtime('ListPodSandbox', { filter })).items.map((i) => i.id).sort();
    assert.deepEqual(await ids({ id: a.slice(0, 12) }), [a]);
    assert.deepEqual(await ids({ label_selector: { tier: 'y' } }), [b]);
    assert.deepEqual(await ids({ state: { state: 'SANDBOX_READY' }, label_selector: { app: 'berth-sb' } }), [a]);
    assert.deepEqual(await ids({ state: { state: 'SANDBOX_NOTREADY' }, label_selector: { app: 'berth-sb' } }), [b]);
    const st = await d.client.runtime('PodSandboxStatus', { pod_sandbox_id: a.slice(0, 16) });
    assert.equal(st.status!.id, a, 'unique prefix accepted');
    await cleanupPod(a);
    await cleanupPod(b);
  });
});
