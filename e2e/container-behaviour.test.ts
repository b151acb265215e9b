// Containers end to end: stop semantics (trap / ignore SIGTERM, image StopSignal), OOMKilled,
// namespaces shared in a pod (network, IPC; PID only when the pod asks), host PID.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CGROUP_ROOT, ctrConfig, execText, runCtr, runPod, startCtEnv, status, waitExited, waitForLog, type CtEnv } from './container-fixtures.js';
import { testParent } from './cgroup-fixtures.js';
import { eventually } from './harness.js';

describe('containers: stop semantics and exits', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  it('a container that traps SIGTERM exits within the grace period; one that ignores it is killed at the timeout', async () => {
    const pod = await runPod(env, 'stop');
    const trap = await runCtr(env, pod, ctrConfig(env, 'trap', {
      command: ['sh', '-c', 'trap "echo got-term; exit 0" TERM; echo ready; while true; do sleep 0.1; done'],
    }));
    const ignore = await runCtr(env, pod, ctrConfig(env, 'ignore', {
      command: ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done'],
    }));
    await waitForLog(path.join(pod.config.log_directory!, 'trap.log'), /ready/);
    await waitForLog(path.join(pod.config.log_directory!, 'ignore.log'), /ready/);
    let t0 = Date.now();
    await env.d.client.runtime('StopContainer', { container_id: trap, timeout: 30 });
    const trapMs = Date.now() - t0;
    const s1 = await status(env, trap);
    assert.equal(s1.state, 'CONTAINER_EXITED');
    assert.equal(s1.exit_code, 0);
    assert.ok(trapMs < 3000, `trapping container stopped in ${trapMs} ms`);
    assert.match(await waitForLog(path.join(pod.config.log_directory!, 'trap.log'), /got-term/), /got-term/);

    t0 = Date.now();
    await env.d.client.runtime('StopContainer', { container_id: ignore, timeout: 2 });
    const ignoreMs = Date.now() - t0;
    const s2 = await status(env, ignore);
    assert.equal(s2.exit_code, 137);
    assert.equal(s2.reason, 'Error');
    assert.ok(ignoreMs >= 2000 && ignoreMs < 6000, `ignoring container stopped in ${ignoreMs} ms`);
  });

  it('timeout 0 kills at once; the image StopSignal is used', async () => {
    const pod = await runPod(env, 'stop0');
    const id = await runCtr(env, pod, ctrConfig(env, 'now', { command: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'] }));
    const t0 = Date.now();
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((await status(env, id)).exit_code, 137);
    // The user image declares StopSignal SIGUSR1.
    const usr = await runCtr(env, pod, ctrConfig(env, 'usr1', {
      image: { image: env.userImage },
      command: ['sh', '-c', 'trap "exit 42" USR1; trap "exit 1" TERM; echo ready; while true; do sleep 0.1; done'],
    }));
    await waitForLog(path.join(pod.config.log_directory!, 'usr1.log'), /ready/);
    await env.d.client.runtime('StopContainer', { container_id: usr, timeout: 10 });
    assert.equal((await status(env, usr)).exit_code, 42);
  });

  it('a 32 MiB memory limit and a larger allocation gives OOMKilled', async () => {
    const pod = await runPod(env, 'oom');
    const id = await runCtr(env, pod, ctrConfig(env, 'hog', {
      // tail buffers a 64 MiB line with no newline: more than the 32 MiB limit.
      command: ['sh', '-c', 'head -c 67108864 /dev/zero | tail > /dev/null'],
      linux: { resources: { memory_limit_in_bytes: 32 * 1024 * 1024 } },
    }));
    const s = await waitExited(env, id, 30_000);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.reason, 'OOMKilled', `exit ${s.exit_code} reason ${s.reason}`);
    assert.notEqual(s.exit_code, 0);
    // conmon writes its oom marker into its working directory: that must be the bundle, not
    // wherever the daemon was started from.
    assert.ok(!existsSync(path.join(env.d.dir, 'oom')), 'no oom file in the daemon\'s working directory');
  });
});

describe('containers: namespaces in a pod', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });
  const ns = async (id: string, kind: string) => (await execText(env, id, ['readlink', `/proc/self/ns/${kind}`])).stdout.trim();
  const sleeper = (name: string, extra = {}) => ctrConfig(env, name, { command: ['sleep', '1000'], ...extra });

  it('two containers share localhost and IPC, not PIDs', async () => {
    const pod = await runPod(env, 'share');
    const server = await runCtr(env, pod, ctrConfig(env, 'server', { command: ['sh', '-c', 'echo hi-from-server | nc -l -p 7777; sleep 1000'] }));
    const client = await runCtr(env, pod, sleeper('client'));
    assert.equal(await ns(server, 'net'), await ns(client, 'net'));
    assert.equal(await ns(server, 'ipc'), await ns(client, 'ipc'));
    assert.equal(await ns(server, 'uts'), await ns(client, 'uts'));
    assert.notEqual(await ns(server, 'pid'), await ns(client, 'pid'));
    // localhost: the client reaches the server's port on 127.0.0.1.
    // The server listens once its shell got there: ask until it answers.
    const got = await eventually('the server answers on 127.0.0.1:7777', async () => (await execText(env, client, ['sh', '-c', 'nc 127.0.0.1 7777 </dev/null 2>/dev/null'])).stdout, (o) => o.includes('hi-from-server'));
    assert.match(got, /hi-from-server/);
    const ps = (await execText(env, client, ['ps', '-o', 'pid,args'])).stdout;
    assert.ok(!ps.includes('nc -l'), `client must not see the server's processes:\n${ps}`);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a pod with a shared PID namespace: containers see each other', async () => {
    const pod = await runPod(env, 'pidpod', {
      linux: { cgroup_parent: testParent(CGROUP_ROOT, 'pidpod'), security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
    });
    const pidPod = { namespace_options: { network: 'POD' as const, pid: 'POD' as const, ipc: 'POD' as const } };
    const a = await runCtr(env, pod, sleeper('a', { command: ['sleep', '1001'], linux: { security_context: pidPod } }));
    const b = await runCtr(env, pod, sleeper('b', { command: ['sleep', '1002'], linux: { security_context: pidPod } }));
    assert.equal(await ns(a, 'pid'), await ns(b, 'pid'));
    const ps = (await execText(env, b, ['ps', '-o', 'args'])).stdout;
    assert.match(ps, /sleep 1001/);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a container can join another container\'s PID namespace (TARGET)', async () => {
    const pod = await runPod(env, 'target');
    const a = await runCtr(env, pod, sleeper('ta', { command: ['sleep', '1003'] }));
    const b = await runCtr(env, pod, sleeper('tb', {
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'TARGET', ipc: 'POD', target_id: a } } },
    }));
    assert.equal(await ns(a, 'pid'), await ns(b, 'pid'));
    assert.match((await execText(env, b, ['ps', '-o', 'args'])).stdout, /sleep 1003/);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a host-network pod: the container is in the host network and UTS namespaces', async () => {
    const hostNs = { namespace_options: { network: 'NODE' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } };
    const pod = await runPod(env, 'hostnet', { linux: { cgroup_parent: testParent(CGROUP_ROOT, 'hostnet'), security_context: hostNs } });
    const id = await runCtr(env, pod, sleeper('hn', { linux: { security_context: hostNs } }));
    assert.equal(await ns(id, 'net'), await readlink('/proc/self/ns/net'));
    assert.equal(await ns(id, 'uts'), await readlink('/proc/self/ns/uts'));
    assert.notEqual(await ns(id, 'mnt'), await readlink('/proc/self/ns/mnt'));
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('a host-PID container sees host processes', async () => {
    const pod = await runPod(env, 'hostpid', {
      linux: { cgroup_parent: testParent(CGROUP_ROOT, 'hostpid'), security_context: { namespace_options: { network: 'POD', pid: 'NODE', ipc: 'POD' } } },
    });
    const id = await runCtr(env, pod, sleeper('h', { linux: { security_context: { namespace_options: { network: 'POD', pid: 'NODE', ipc: 'POD' } } } }));
    const r = await execText(env, id, ['cat', `/proc/${env.d.proc.pid}/cmdline`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /daemon/);
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    assert.equal((await status(env, id)).state, 'CONTAINER_EXITED');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });
});
