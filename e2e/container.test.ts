// Containers end to end: pull → pod → create → start → CRI log → ExecSync → stop → remove,
// under conmon with runc and with crun, on a pod network (bridge berth-ct0).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { LineAssembler } from '../pkg/dashboard/logs.js';
import { DEFAULT_CONFIG } from '../pkg/config/schema.js';
import {
  cgroupDirsOf, ctrConfig, execText, exists, runCtr, runPod, startCtEnv, status, waitExited, waitForLog, type CtEnv,
} from './container-fixtures.js';

const CRI_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) (F|P) /;

describe('containers: lifecycle', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  for (const handler of ['runc', 'crun']) {
    it(`pull → run pod → create → start → logs → exec → stop → remove (${handler})`, async () => {
      const pod = await runPod(env, `life-${handler}`, {}, handler === DEFAULT_CONFIG.runtime.default_handler ? '' : handler);
      const cfg = ctrConfig(env, 'main', { command: ['sh', '-c', 'echo line-one; echo to-stderr >&2; exec sleep 1000'] });
      const id = await runCtr(env, pod, cfg, false);
      let s = await status(env, id);
      assert.equal(s.state, 'CONTAINER_CREATED');
      assert.equal(s.image_id.startsWith('sha256:'), true);
      assert.match(s.image_ref, /@sha256:/);
      await env.d.client.runtime('StartContainer', { container_id: id });
      s = await status(env, id);
      assert.equal(s.state, 'CONTAINER_RUNNING');
      assert.ok(BigInt(s.started_at) >= BigInt(s.created_at));
      const logFile = path.join(pod.config.log_directory!, 'main.log');
      assert.equal(s.log_path, logFile);
      const log = await waitForLog(logFile, /to-stderr/);
      const lines = log.trim().split('\n');
      for (const l of lines) assert.match(l, CRI_LINE);
      assert.ok(lines.some((l) => / stdout F line-one$/.test(l)), log);
      assert.ok(lines.some((l) => / stderr F to-stderr$/.test(l)), log);

      const hello = await execText(env, id, ['echo', 'hello']);
      assert.deepEqual(hello, { stdout: 'hello\n', stderr: '', code: 0 });
      const fail = await execText(env, id, ['sh', '-c', 'echo oops >&2; exit 7']);
      assert.equal(fail.code, 7);
      assert.equal(fail.stderr, 'oops\n');
      // ExecSync runs in the pod's network namespace.
      const ip = await execText(env, id, ['ip', '-4', '-o', 'addr', 'show', 'eth0']);
      assert.match(ip.stdout, /10\.202\./);

      const list = await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } });
      assert.deepEqual(list.containers.map((c) => c.id), [id]);
      const byLabel = await env.d.client.runtime('ListContainers', { filter: { label_selector: { ctr: 'main' }, state: { state: 'CONTAINER_RUNNING' } } });
      assert.ok(byLabel.containers.some((c) => c.id === id));

      const verbose = await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true });
      const info = JSON.parse(verbose.info.info!) as { pid: number; runtimeHandler: string; runtimeSpec: { process: { args: string[] } } };
      assert.equal(info.runtimeHandler, handler);
      assert.ok(info.pid > 0);
      assert.deepEqual(info.runtimeSpec.process.args.slice(0, 2), ['sh', '-c']);

      // sleep is PID 1 of its namespace without a SIGTERM handler, so the kernel ignores SIGTERM:
      // the stop falls back to SIGKILL at the timeout.
      const t0 = Date.now();
      await env.d.client.runtime('StopContainer', { container_id: id, timeout: 1 });
      s = await status(env, id);
      assert.equal(s.state, 'CONTAINER_EXITED');
      assert.equal(s.exit_code, 137);
      assert.ok(Date.now() - t0 >= 1000 && Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
      await env.d.client.runtime('StopContainer', { container_id: id, timeout: 10 }); // stopping again is fine

      const bundle = JSON.parse((await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true })).info.info!).bundle as string;
      await env.d.client.runtime('RemoveContainer', { container_id: id });
      await env.d.client.runtime('RemoveContainer', { container_id: id }); // unknown id is fine
      await assert.rejects(status(env, id), (e: CriError) => e.code === GrpcStatus.NOT_FOUND);
      assert.equal(await exists(bundle), false, 'bundle removed');
      assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(id), 'rootfs unmounted');
      await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
      await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
      // The exit path's runtime delete removes the cgroup; RemoveContainer does not wait for it,
      // RemovePodSandbox does.
      assert.deepEqual(await cgroupDirsOf(id), [], 'cgroup removed');
    });
  }

  it('a created container that never started can be stopped and removed', async () => {
    const pod = await runPod(env, 'created');
    const a = await runCtr(env, pod, ctrConfig(env, 'a', { command: ['sleep', '1000'] }), false);
    const b = await runCtr(env, pod, ctrConfig(env, 'b', { command: ['sleep', '1000'] }), false);
    await env.d.client.runtime('StopContainer', { container_id: a, timeout: 5 });
    assert.equal((await status(env, a)).state, 'CONTAINER_EXITED');
    await assert.rejects(env.d.client.runtime('StartContainer', { container_id: a }), (e: CriError) => e.code === GrpcStatus.FAILED_PRECONDITION);
    await env.d.client.runtime('RemoveContainer', { container_id: a });
    await env.d.client.runtime('RemoveContainer', { container_id: b });
    assert.deepEqual((await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers, []);
    assert.deepEqual([...await cgroupDirsOf(a), ...await cgroupDirsOf(b)], []);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('the termination message file becomes the status message', async () => {
    const pod = await runPod(env, 'term');
    const hostFile = path.join(env.tmp, `term-${Date.now()}`);
    await writeFile(hostFile, '');
    const id = await runCtr(env, pod, ctrConfig(env, 'dying', {
      command: ['sh', '-c', 'echo "disk on fire" > /dev/termination-log; exit 2'],
      mounts: [{ container_path: '/dev/termination-log', host_path: hostFile }],
      annotations: { 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log' },
    }));
    const s = await waitExited(env, id);
    assert.equal(s.exit_code, 2);
    assert.equal(s.message, 'disk on fire\n');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('ten containers created, started, exec-ed and removed in parallel', async () => {
    const pod = await runPod(env, 'many');
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => runCtr(env, pod, ctrConfig(env, `m${i}`, { command: ['sleep', '1000'] }))));
    assert.equal(new Set(ids).size, 10);
    const outs = await Promise.all(ids.map((id, i) => execText(env, id, ['echo', `n${i}`])));
    assert.deepEqual(outs.map((o) => o.stdout), ids.map((_, i) => `n${i}\n`));
    await Promise.all(ids.map((id) => env.d.client.runtime('RemoveContainer', { container_id: id })));
    assert.deepEqual((await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers, []);
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    for (const id of ids) assert.deepEqual(await cgroupDirsOf(id), [], 'cgroups removed once RemovePodSandbox waited for the runtime deletes');
  });

  it('a tty container gets a terminal; its output is logged', async () => {
    const pod = await runPod(env, 'tty');
    const id = await runCtr(env, pod, ctrConfig(env, 't', { tty: true, stdin: true, command: ['sh', '-c', 'tty; echo cols=$(stty size); exec sleep 1000'] }));
    const log = await waitForLog(path.join(pod.config.log_directory!, 't.log'), /cols=/);
    // conmon may write a line in parts (P records) when the terminal hands it over in pieces;
    // a terminal ends lines with \r\n.
    const lines = new LineAssembler().push(log.replace(/\r/g, '')).filter((l) => l.stream === 'stdout').map((l) => l.text);
    assert.ok(lines.includes('/dev/pts/0'), `stdout lines: ${JSON.stringify(lines)}`);
    assert.equal((await execText(env, id, ['echo', 'in-tty-ctr'])).stdout, 'in-tty-ctr\n');
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
  });

  it('exit codes and reasons: exit 0 → Completed, exit 3 → Error', async () => {
    const pod = await runPod(env, 'exits');
    const ok = await runCtr(env, pod, ctrConfig(env, 'ok', { command: ['true'] }));
    const bad = await runCtr(env, pod, ctrConfig(env, 'bad', { command: ['sh', '-c', 'exit 3'] }));
    const s1 = await waitExited(env, ok);
    const s2 = await waitExited(env, bad);
    assert.equal(s1.state, 'CONTAINER_EXITED');
    assert.equal(s1.exit_code, 0);
    assert.equal(s1.reason, 'Completed');
    assert.equal(s2.exit_code, 3);
    assert.equal(s2.reason, 'Error');
    assert.ok(BigInt(s2.finished_at) >= BigInt(s2.started_at));
    await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    const left = await env.d.client.runtime('ListContainers', {});
    assert.ok(!left.containers.some((c) => c.id === ok || c.id === bad), 'RemovePodSandbox removed its containers');
  });
});
