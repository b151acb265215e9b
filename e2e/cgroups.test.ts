// Cgroups on whatever node the tests run on, under the driver under test (E2E_DRIVER: cgroupfs
// on the v1 dev host; the VM test runs this file under systemd and cgroupfs on cgroup v2):
// the driver and cgroup facts berth reports, a driver the host cannot run refused at start,
// parents the driver cannot use refused, resources in the container's own cgroup and their
// update, conmon outside the daemon's cgroup, OOM kills (memory.oom.group on v2), pressure and
// swap in the stats.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { BERTH_BIN, eventually as poll, scaled } from './harness.js';
import { CGROUP_ROOT, ctrConfig, runCtr, runPod, startCtEnv, status, waitExited, type CtEnv } from './container-fixtures.js';
import { controllerDir, containerCgroup, E2E_DRIVER, LAYOUT, SYSTEMD_BOOTED, testParent } from './cgroup-fixtures.js';

const sh = promisify(execFile);
const V2 = LAYOUT?.version === 2;
const MiB = 1024 * 1024;
const read = (dir: string, file: string) => readFile(path.join(dir, file), 'utf8').then((s) => s.trim());

/** The harness's polling helper with a longer bound (pressure figures move slowly). */
const eventually = <T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = scaled(60_000)): Promise<T> => poll(what, f, ok, ms);

/** The cgroup of a process in one hierarchy, from /proc/<pid>/cgroup ("0::/x" on v2). */
async function procCgroup(pid: number): Promise<string> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  const want = V2 ? /^0::(.*)$/ : /^\d+:[^:]*\bmemory\b[^:]*:(.*)$/;
  for (const l of lines) {
    const m = want.exec(l);
    if (m) return m[1]!;
  }
  throw new Error(`no ${V2 ? 'unified' : 'memory'} cgroup in /proc/${pid}/cgroup`);
}

describe(`cgroups (${E2E_DRIVER} driver, cgroup v${LAYOUT?.version ?? '?'})`, () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env?.close();
  });

  it('RuntimeConfig and verbose Status report the driver, the cgroup version and the controllers', async () => {
    const rc = await env.d.client.runtime('RuntimeConfig', {});
    assert.equal(rc.linux?.cgroup_driver, E2E_DRIVER === 'systemd' ? 'SYSTEMD' : 'CGROUPFS');
    const st = await env.d.client.runtime('Status', { verbose: true });
    const info = JSON.parse(st.info.cgroups ?? '{}') as { version: number; driver: string; controllers: string[]; systemd: boolean };
    const fsType = spawnSync('stat', ['-fc', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(info.version, fsType === 'cgroup2fs' ? 2 : 1, `/sys/fs/cgroup is ${fsType}`);
    assert.equal(info.driver, E2E_DRIVER);
    assert.equal(info.systemd, SYSTEMD_BOOTED);
    assert.ok(info.controllers.includes('memory') && info.controllers.includes('pids'), info.controllers.join(' '));
    const cfg = JSON.parse(st.info.config ?? '{}') as { cgroup_driver: string };
    assert.equal(cfg.cgroup_driver, E2E_DRIVER, 'the effective config shows the resolved driver');
    const warned = env.d.logs().includes('failCgroupV1: false');
    assert.equal(warned, LAYOUT?.version === 1, 'the kubelet >= 1.35 warning exactly on cgroup v1');
  });

  it('cgroup_driver = "systemd" on a host without systemd stops the daemon at start (exit 2)', { skip: SYSTEMD_BOOTED && 'systemd is PID 1 here' }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-e2e-'));
    try {
      await writeFile(path.join(dir, 'c.toml'), 'cgroup_driver = "systemd"\n');
      const r = spawnSync(process.execPath, [BERTH_BIN, 'daemon', '--config', path.join(dir, 'c.toml'), '--listen', `unix://${dir}/s.sock`,
        '--root', `${dir}/root`, '--state', `${dir}/state`, '--metrics-listen', ''], { encoding: 'utf8', timeout: scaled(20_000) });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /cgroup_driver = "systemd", but systemd is not the init system of this host \(PID 1 is "[^"]+"\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a pod cgroup parent the driver cannot use is INVALID_ARGUMENT naming linux.cgroup_parent', async () => {
    const bad = E2E_DRIVER === 'systemd' ? `${CGROUP_ROOT}/not-a-slice` : 'kubepods.slice:berth:x';
    await assert.rejects(runPod(env, 'badparent', { linux: { cgroup_parent: bad } }), (e: CriError) =>
      e.code === GrpcStatus.INVALID_ARGUMENT && e.details.includes(`linux.cgroup_parent "${bad}"`));
  });

  // Under each handler: crun, left alone, puts the process and limits of a systemd scope in a
  // sub-cgroup "container" of it (berth tells it not to; README "Runtime handlers").
  for (const handler of ['runc', 'crun']) it(`${handler}: the process and its resources land in the container's own cgroup, where the driver names it; UpdateContainerResources changes them`, async () => {
    const pod = await runPod(env, `res-${handler}`, {}, handler);
    const parent = pod.config.linux!.cgroup_parent!;
    const id = await runCtr(env, pod, ctrConfig(env, 'res', {
      command: ['sleep', '1000'],
      linux: { resources: {
        cpu_shares: '512', cpu_quota: '20000', cpu_period: '100000', memory_limit_in_bytes: String(64 * MiB),
        unified: V2 ? { 'memory.high': String(48 * MiB) } : {},
      } },
    }));
    const cg = containerCgroup(parent, id);
    if (E2E_DRIVER === 'systemd') {
      assert.equal(path.basename(cg), `berth-${id}.scope`);
      const { stdout } = await sh('systemctl', ['show', '-p', 'Slice', '--value', `berth-${id}.scope`]);
      assert.equal(stdout.trim(), parent, 'a transient scope in the pod slice');
    } else {
      assert.equal(cg, `${parent}/${id}`);
    }
    const info = JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true })).info.info!) as { pid: number; runtimeHandler: string };
    assert.equal(info.runtimeHandler, handler);
    assert.equal(await procCgroup(info.pid), cg, 'the process is in the cgroup itself, not below it');
    const cpu = controllerDir(cg, 'cpu');
    const mem = controllerDir(cg, 'memory');
    if (V2) {
      assert.equal(await read(cpu, 'cpu.weight'), '20', 'shares 512 → weight 20');
      assert.equal(await read(cpu, 'cpu.max'), '20000 100000');
      assert.equal(await read(mem, 'memory.max'), String(64 * MiB));
      assert.equal(await read(mem, 'memory.high'), String(48 * MiB));
    } else {
      assert.equal(await read(cpu, 'cpu.shares'), '512');
      assert.equal(await read(cpu, 'cpu.cfs_quota_us'), '20000');
      assert.equal(await read(mem, 'memory.limit_in_bytes'), String(64 * MiB));
    }
    await env.d.client.runtime('UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: String(96 * MiB), cpu_shares: '1024', cpu_quota: '50000', cpu_period: '100000' } });
    assert.equal(await read(mem, V2 ? 'memory.max' : 'memory.limit_in_bytes'), String(96 * MiB));
    assert.equal(await read(cpu, V2 ? 'cpu.max' : 'cpu.cfs_quota_us'), V2 ? '50000 100000' : '50000');
    const s = await status(env, id);
    assert.equal(s.resources?.linux?.memory_limit_in_bytes, String(96 * MiB));
  });

  it('conmon runs in its own cgroup, not the daemon\'s (a scope in berth-conmon.slice under systemd, /berth-conmon under cgroupfs)', async () => {
    const pod = await runPod(env, 'conmon');
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }));
    const conmonPid = Number((await readFile(path.join(env.d.state, 'containers', id, 'conmon-pidfile'), 'utf8')).trim());
    const cg = await procCgroup(conmonPid);
    const want = E2E_DRIVER === 'systemd' ? `/berth.slice/berth-conmon.slice/berth-conmon-${id}.scope` : '/berth-conmon';
    assert.equal(cg, want);
    assert.notEqual(await procCgroup(env.d.proc.pid!), cg);
  });

  it('a container over its memory limit ends OOMKilled (v2: memory.oom.group takes every process of it)', async () => {
    const pod = await runPod(env, 'oom');
    // On v2 the shell waits for a sleeper that only the group kill ends; on v1 awk is the shell.
    const hog = `awk 'BEGIN { s = sprintf("%67108864s", ""); print length(s) }'`;
    const id = await runCtr(env, pod, ctrConfig(env, 'oom', {
      command: ['sh', '-c', V2 ? `sleep 1000 & ${hog}; wait` : `exec ${hog}`],
      linux: { resources: { memory_limit_in_bytes: String(32 * MiB), unified: V2 ? { 'memory.oom.group': '1' } : {} } },
    }));
    const s = await waitExited(env, id, scaled(60_000));
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.reason, 'OOMKilled');
    assert.equal(s.exit_code, 137);
  });

  it('a CPU-burning container shows CPU pressure (v2); I/O and memory pressure and swap are reported', async () => {
    const pod = await runPod(env, 'psi');
    // Two spinners under a fifth of a CPU: one is always waiting, so "some" pressure rises.
    const id = await runCtr(env, pod, ctrConfig(env, 'burn', {
      command: ['sh', '-c', 'while :; do :; done & while :; do :; done'],
      linux: { resources: { cpu_quota: '20000', cpu_period: '100000' } },
    }));
    const cstats = async () => (await env.d.client.runtime('ContainerStats', { container_id: id })).stats!;
    if (!V2) {
      const s = await cstats();
      assert.equal(s.cpu?.psi ?? null, null, 'no pressure files on cgroup v1');
      assert.equal(s.io ?? null, null);
      return;
    }
    const s = await eventually('cpu some avg10 > 0', cstats, (x) => (x.cpu?.psi?.Some?.Avg10 ?? 0) > 0);
    assert.ok(BigInt(s.cpu!.psi!.Some!.Total) > 0n);
    assert.ok(s.memory?.psi?.Some, 'memory pressure');
    assert.ok(s.io?.psi?.Some, 'I/O pressure');
    assert.ok(s.swap, 'swap usage (memory.swap.current)');
    assert.equal(typeof s.swap.swap_usage_bytes?.value, 'string');
    const ps = (await env.d.client.runtime('PodSandboxStats', { pod_sandbox_id: pod.id })).stats!;
    assert.ok(ps.linux?.io?.psi?.Some, 'pod I/O pressure');
    assert.ok(ps.linux?.cpu?.psi?.Some, 'pod CPU pressure');
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
  });

  it('cgroups of removed containers and their pod parents are gone', async () => {
    const pod = await runPod(env, 'gone', { linux: { cgroup_parent: testParent(CGROUP_ROOT, `gone-${process.pid}`) } });
    const id = await runCtr(env, pod, ctrConfig(env, 'g', { command: ['sleep', '1000'] }));
    const cg = containerCgroup(pod.config.linux!.cgroup_parent!, id);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    await assert.rejects(readFile(path.join(controllerDir(cg, 'memory'), 'cgroup.procs')), 'the container cgroup is removed');
    if (E2E_DRIVER === 'systemd') {
      const { stdout } = await sh('systemctl', ['list-units', '--all', '--plain', '--no-legend', `berth-${id}.scope`, `berth-conmon-${id}.scope`]);
      assert.equal(stdout.trim(), '', 'no scope units left');
    }
  });
});
