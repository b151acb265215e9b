// deploy/berth.service on a systemd node (the VM test installs it as the README says and sets
// BERTH_E2E_SYSTEMD_UNIT): readiness through sd_notify, and containers that outlive the daemon
// whatever happens to it: `systemctl restart berth` and a SIGKILL (Restart=on-failure brings it
// back) with five running pods leave every container and conmon running; afterwards removing
// the pods leaves no scope, process, mount or pin behind. Skipped elsewhere.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CriClient } from '../pkg/client/cri.js';
import { pushBusybox, startRegistry, type TestRegistry } from './fixtures/registry.js';
import { eventually, scaled } from './harness.js';
import { writeNet } from './sandbox-fixtures.js';

const sh = promisify(execFile);
const UNIT = process.env.BERTH_E2E_SYSTEMD_UNIT ?? '';
const SOCKET = '/run/berth/berth.sock';
const STATE = '/run/berth';
const BRIDGE = 'berth-sd0';
const PODS = 5;

const systemctl = async (...args: string[]) => (await sh('systemctl', args)).stdout.trim();
const prop = (name: string) => systemctl('show', '-p', name, '--value', UNIT);
/** Running: there and neither a zombie nor dead. */
function alive(pid: number): boolean {
  let stat = '';
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return !/^\d+ \(.*\) [ZX]/s.test(stat);
}

describe('node: deploy/berth.service under systemd', { skip: !UNIT && 'not on a systemd test node (BERTH_E2E_SYSTEMD_UNIT)' }, () => {
  let tmp: string;
  let reg: TestRegistry;
  let client: CriClient;
  let image: string;
  const pods: { id: string; ctr: string; pid: number; conmon: number }[] = [];

  const connect = () => {
    client?.close();
    client = new CriClient(SOCKET, { timeoutMs: scaled(60_000) });
  };

  before(async () => {
    tmp = await mkdtemp('/tmp/berth-sd-');
    await writeNet(path.join(tmp, 'net.d'), '10-sd.conflist', { bridge: BRIDGE, subnet: '10.209.0.0/24', dataDir: path.join(tmp, 'ipam'), portmap: false });
    reg = await startRegistry();
    await pushBusybox(reg.host, 'sd/busybox', '1');
    image = `${reg.host}/sd/busybox:1`;
    await mkdir('/etc/berth', { recursive: true });
    await writeFile('/etc/berth/berth.toml', `log_level = "debug"\n[cni]\nconf_dir = "${tmp}/net.d"\nbin_dirs = ["/usr/lib/cni"]\n[registry]\ninsecure = ["${reg.host}"]\n`);
  });
  after(async () => {
    // Whatever a failed test left: its pods, their slices, then the daemon.
    const left = await client?.runtime('ListPodSandbox', {}).catch(() => undefined);
    for (const s of left?.items ?? []) {
      if (s.metadata?.namespace !== 'berth-sd') continue;
      await client.runtime('StopPodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
      await client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
    }
    client?.close();
    for (let i = 0; i < PODS; i++) await systemctl('stop', `berth_test_sd-pod${i}.slice`).catch(() => undefined);
    await systemctl('stop', UNIT).catch(() => undefined);
    await reg?.stop();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm('/etc/berth/berth.toml', { force: true });
    await rm(tmp, { recursive: true, force: true });
  });

  it('systemctl start returns once the socket serves (Type=notify, READY=1 from berth itself)', async () => {
    await systemctl('start', UNIT);
    assert.equal(await prop('ActiveState'), 'active');
    assert.equal(await prop('Type'), 'notify');
    assert.equal(await prop('Delegate'), 'yes');
    assert.equal(await prop('KillMode'), 'process');
    assert.equal(await prop('Restart'), 'on-failure');
    connect();
    // No waiting: readiness came after the socket was listening.
    const v = await client.runtime('Version', {});
    assert.equal(v.runtime_name, 'berth');
    const rc = await client.runtime('RuntimeConfig', {});
    assert.equal(rc.linux?.cgroup_driver, 'SYSTEMD', 'auto picks systemd on a systemd + cgroup v2 node');
    await client.image('PullImage', { image: { image } });
  });

  it(`${PODS} running pods keep running across systemctl restart berth`, async () => {
    for (let i = 0; i < PODS; i++) {
      const config = {
        metadata: { name: `sd-${i}`, namespace: 'berth-sd', uid: `uid-sd-${i}-${process.pid}`, attempt: 0 },
        hostname: `sd-${i}`, log_directory: path.join(tmp, 'logs', String(i)),
        linux: { cgroup_parent: `berth_test_sd-pod${i}.slice` },
      };
      const id = (await client.runtime('RunPodSandbox', { config })).pod_sandbox_id;
      const ctr = (await client.runtime('CreateContainer', {
        pod_sandbox_id: id, sandbox_config: config,
        config: { metadata: { name: 'sleep' }, image: { image }, command: ['sleep', '100000'], log_path: 'sleep.log' },
      })).container_id;
      await client.runtime('StartContainer', { container_id: ctr });
      const bundle = path.join(STATE, 'containers', ctr);
      pods.push({ id, ctr, pid: Number(await readFile(path.join(bundle, 'pidfile'), 'utf8')), conmon: Number(await readFile(path.join(bundle, 'conmon-pidfile'), 'utf8')) });
    }
    const before = await prop('MainPID');
    await systemctl('restart', UNIT);
    assert.notEqual(await prop('MainPID'), before);
    connect();
    await assertAllRunning('after systemctl restart');
  });

  it('a SIGKILL of the daemon: systemd starts it again (Restart=on-failure); every container still runs', async () => {
    const main = Number(await prop('MainPID'));
    const restarts = Number(await prop('NRestarts'));
    process.kill(main, 'SIGKILL');
    await eventually('systemd started berth again', async () => ({ restarts: Number(await prop('NRestarts')), state: await prop('ActiveState') }),
      (v) => v.restarts > restarts && v.state === 'active', scaled(120_000));
    assert.notEqual(Number(await prop('MainPID')), main);
    connect();
    await assertAllRunning('after kill -9');
  });

  it('removing the pods leaves no scope, conmon, mount or namespace pin behind; stopping berth stops only berth', async () => {
    for (const p of pods) {
      await client.runtime('StopPodSandbox', { pod_sandbox_id: p.id });
      await client.runtime('RemovePodSandbox', { pod_sandbox_id: p.id });
    }
    const units = await systemctl('list-units', '--all', '--plain', '--no-legend', 'berth-*.scope');
    assert.equal(units, '', 'no container or conmon scopes');
    for (const p of pods) {
      assert.ok(!alive(p.pid) && !alive(p.conmon), `processes of ${p.ctr} are gone`);
    }
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => pods.some((p) => l.includes(p.id) || l.includes(p.ctr)));
    assert.deepEqual(mounts, []);
    for (const k of ['net', 'ipc', 'uts']) {
      const pins = await readdir(path.join(STATE, 'ns', k)).catch(() => [] as string[]);
      assert.deepEqual(pins.filter((n) => pods.some((p) => p.id === n)), []);
    }
    for (let i = 0; i < PODS; i++) await systemctl('stop', `berth_test_sd-pod${i}.slice`).catch(() => undefined);
    await systemctl('stop', UNIT);
    assert.equal(await prop('ActiveState'), 'inactive');
    assert.ok(existsSync(STATE), 'RuntimeDirectoryPreserve keeps /run/berth');
  });

  async function assertAllRunning(when: string): Promise<void> {
    const list = await client.runtime('ListContainers', {});
    for (const p of pods) {
      const c = list.containers.find((x) => x.id === p.ctr);
      assert.equal(c?.state, 'CONTAINER_RUNNING', `${p.ctr} ${when}`);
      assert.ok(alive(p.pid), `container process ${p.pid} alive ${when}`);
      assert.ok(alive(p.conmon), `conmon ${p.conmon} alive ${when}`);
      const s = (await client.runtime('PodSandboxStatus', { pod_sandbox_id: p.id })).status;
      assert.equal(s?.state, 'SANDBOX_READY', `pod ${p.id} ${when}`);
    }
    const scopes = await systemctl('list-units', '--plain', '--no-legend', '--state=running', 'berth-*.scope');
    assert.equal(scopes.split('\n').filter(Boolean).length, PODS * 2, `a container scope and a conmon scope per pod ${when}`);
  }
});
