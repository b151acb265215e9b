// Containers end to end: kill -9 of the daemon (containers keep running, a restarted daemon
// reports them and their real exit codes), bad inputs (clear errors, nothing left behind),
// ReopenContainerLog, UpdateContainerResources and the container event stream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { untilFile } from './harness.js';
import { sh } from './sandbox-fixtures.js';
import { ctrConfig, execText, exists, runCtr, runPod, startCtEnv, status, waitExited, waitForLog, type CtEnv } from './container-fixtures.js';
import { containerCgroup, memoryLimitFile } from './cgroup-fixtures.js';
import { scaled } from './harness.js';

const code = (c: number) => (e: CriError) => {
  assert.equal(e.code, c, e.details);
  return true;
};

describe('containers: daemon crash and restart', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  it('kill -9 the daemon: containers keep running; restarted, berth reports RUNNING, then the real exit codes', async () => {
    const pod = await runPod(env, 'crash');
    const waiter = await runCtr(env, pod, ctrConfig(env, 'waiter', {
      command: ['sh', '-c', 'echo up; while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 5'],
    }));
    const quick = await runCtr(env, pod, ctrConfig(env, 'quick', { command: ['sh', '-c', 'sleep 1; exit 4'] }));
    await waitForLog(path.join(pod.config.log_directory!, 'waiter.log'), /up/);
    const pid = (JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: waiter, verbose: true })).info.info!) as { pid: number }).pid;
    await env.d.kill();
    // A CreateContainer the daemon died in: a bundle with a mounted rootfs and no record.
    const half = path.join(env.d.state, 'containers', 'e'.repeat(64));
    await mkdir(path.join(half, 'rootfs'), { recursive: true });
    await sh('mount', ['-t', 'tmpfs', 'tmpfs', path.join(half, 'rootfs')]);
    // The container lives on without the daemon, and "quick" exits while no one is watching
    // (conmon writes its exit file).
    process.kill(pid, 0);
    await untilFile(path.join(env.d.state, 'exits', quick));
    process.kill(pid, 0);
    await env.restart();
    assert.equal(await exists(half), false, 'the half-made container was removed');
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(half));
    const s = await status(env, waiter);
    assert.equal(s.state, 'CONTAINER_RUNNING');
    const q = await status(env, quick);
    assert.equal(q.state, 'CONTAINER_EXITED');
    assert.equal(q.exit_code, 4);
    assert.equal(q.reason, 'Error');
    // Exec still works after the restart; it also releases the waiter.
    assert.equal((await execText(env, waiter, ['touch', '/tmp/go'])).code, 0);
    const w = await waitExited(env, waiter);
    assert.equal(w.state, 'CONTAINER_EXITED');
    assert.equal(w.exit_code, 5);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });
});

describe('containers: restart with a container whose conmon is gone', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  it('the exit is still noticed (code unknown, said so)', async () => {
    const pod = await runPod(env, 'lostmon');
    const id = await runCtr(env, pod, ctrConfig(env, 'w', { command: ['sh', '-c', 'while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 6'] }));
    const bundle = (JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true })).info.info!) as { bundle: string }).bundle;
    process.kill(Number((await readFile(path.join(bundle, 'conmon-pidfile'), 'utf8')).trim()), 'SIGKILL');
    await env.d.kill();
    await env.restart();
    assert.equal((await status(env, id)).state, 'CONTAINER_RUNNING');
    await execText(env, id, ['touch', '/tmp/go']);
    const s = await waitExited(env, id, scaled(20_000));
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.match(s.message, /conmon/);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });
});

describe('containers: bad inputs and maintenance rpcs', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  const leftovers = async () => ({
    bundles: (await readdir(path.join(env.d.state, 'containers')).catch(() => [])).length,
    layers: (await readdir(path.join(env.d.root, 'containers')).catch(() => [])).length,
    mounts: (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(path.join(env.d.state, 'containers'))).length,
    containers: (await env.d.client.runtime('ListContainers', {})).containers.length,
  });

  it('unknown sandbox, duplicate name, image not present, start twice: clear errors, nothing left behind', async () => {
    const pod = await runPod(env, 'bad');
    const before = await leftovers();
    await assert.rejects(runCtr(env, { id: 'f'.repeat(64), config: pod.config }, ctrConfig(env, 'x')), code(GrpcStatus.NOT_FOUND));
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'x', { image: { image: `${env.reg.host}/ct/absent:1` } })), (e: CriError) => {
      assert.equal(e.code, GrpcStatus.NOT_FOUND);
      assert.match(e.details, /ct\/absent:1/);
      return true;
    });
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'x', { command: ['sleep', '9'], linux: { security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: '/nonexistent.json' } } } })), code(GrpcStatus.INVALID_ARGUMENT));
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'x', { devices: [{ container_path: '/dev/x', host_path: '/etc/hostname', permissions: 'rwm' }] })), code(GrpcStatus.INVALID_ARGUMENT));
    assert.deepEqual(await leftovers(), before, 'failed creates leave nothing');

    const id = await runCtr(env, pod, ctrConfig(env, 'dup', { command: ['sleep', '1000'] }));
    // The identical request again is a kubelet retry: it gets the same container back.
    assert.equal(await runCtr(env, pod, ctrConfig(env, 'dup', { command: ['sleep', '1000'] }), false), id);
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'dup', { command: ['sleep', '999'] })), (e: CriError) => {
      assert.equal(e.code, GrpcStatus.ALREADY_EXISTS);
      assert.match(e.details, /dup/);
      return true;
    });
    await assert.rejects(env.d.client.runtime('StartContainer', { container_id: id }), code(GrpcStatus.FAILED_PRECONDITION));
    await assert.rejects(env.d.client.runtime('ContainerStatus', { container_id: 'nope' }), code(GrpcStatus.NOT_FOUND));
    // Unknown ids: StopContainer and RemoveContainer succeed (CRI idempotence, since fb1b5cc).
    await env.d.client.runtime('StopContainer', { container_id: 'nope', timeout: 0 });
    await env.d.client.runtime('RemoveContainer', { container_id: 'nope' });

    // A command that does not exist: a clear error, and remove cleans up.
    // (runc refuses it at create, crun at start.)
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'nocmd', { command: ['/no/such/binary'] })), (e: CriError) => {
      assert.match(e.details, /["`]\/no\/such\/binary["`].*no such file or directory/i);
      assert.ok(!e.details.includes('level=error'), e.details);
      return true;
    });
    for (const c of (await env.d.client.runtime('ListContainers', { filter: { label_selector: { ctr: 'nocmd' } } })).containers) {
      await env.d.client.runtime('RemoveContainer', { container_id: c.id });
    }
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    // The name is free again once removed.
    const again = await runCtr(env, pod, ctrConfig(env, 'dup', { command: ['true'] }));
    await env.d.client.runtime('RemoveContainer', { container_id: again });
    assert.deepEqual(await leftovers(), before, 'removed containers leave nothing');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'late')), code(GrpcStatus.FAILED_PRECONDITION));
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a container whose conmon was killed can still be stopped and removed', async () => {
    const pod = await runPod(env, 'noconmon');
    const id = await runCtr(env, pod, ctrConfig(env, 'orphan', { command: ['sleep', '1000'] }));
    const bundle = (JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true })).info.info!) as { bundle: string }).bundle;
    const conmonPid = Number((await readFile(path.join(bundle, 'conmon-pidfile'), 'utf8')).trim());
    process.kill(conmonPid, 'SIGKILL');
    const t0 = Date.now();
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    assert.ok(Date.now() - t0 < scaled(10_000), `stop took ${Date.now() - t0} ms`);
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.exit_code, 137);
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('ReopenContainerLog: after the log is rotated, new lines go to a new file', async () => {
    const pod = await runPod(env, 'rotate');
    const id = await runCtr(env, pod, ctrConfig(env, 'talker', { command: ['sh', '-c', 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.05; done'] }));
    const log = path.join(pod.config.log_directory!, 'talker.log');
    await waitForLog(log, /tick-3/);
    await rename(log, `${log}.1`);
    await env.d.client.runtime('ReopenContainerLog', { container_id: id });
    const fresh = await waitForLog(log, /tick-/);
    assert.match(fresh, /stdout F tick-\d+/);
    const firstNew = Number(/tick-(\d+)/.exec(fresh)![1]);
    const old = await readFile(`${log}.1`, 'utf8');
    assert.ok(firstNew > 3 && !old.includes(`tick-${firstNew}\n`), 'the new file continues where the old one stopped');
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    await assert.rejects(env.d.client.runtime('ReopenContainerLog', { container_id: id }), code(GrpcStatus.FAILED_PRECONDITION));
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('UpdateContainerResources changes the cgroup and the reported resources', async () => {
    const pod = await runPod(env, 'update');
    const id = await runCtr(env, pod, ctrConfig(env, 'u', {
      command: ['sleep', '1000'], linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024, cpu_shares: 256 } },
    }));
    const cg = memoryLimitFile(containerCgroup(pod.config.linux!.cgroup_parent!, id));
    assert.equal((await readFile(cg, 'utf8')).trim(), String(64 * 1024 * 1024));
    await env.d.client.runtime('UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: 128 * 1024 * 1024, cpu_shares: 512 } });
    assert.equal((await readFile(cg, 'utf8')).trim(), String(128 * 1024 * 1024));
    const s = await status(env, id);
    assert.equal(s.resources?.linux?.memory_limit_in_bytes, String(128 * 1024 * 1024));
    assert.equal(s.resources?.linux?.cpu_shares, '512');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });
});
