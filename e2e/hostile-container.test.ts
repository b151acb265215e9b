// Hostile values that reach the daemon's own behaviour (timers, exec, host files, paths), each
// answered as a kubelet-facing runtime must: a clear INVALID_ARGUMENT, or the right result, and
// nothing left running or blocked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { ctrConfig, execText, runCtr, runPod, startCtEnv, status, waitExited, waitForLog, type CtEnv } from './container-fixtures.js';
import { eventually } from './harness.js';

const invalid = (re: RegExp) => (err: CriError): boolean => {
  assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT, `${err.code}: ${err.details}`);
  assert.match(err.details, re);
  return true;
};

describe('hostile container requests', () => {
  let env: CtEnv;
  let pod: Awaited<ReturnType<typeof runPod>>;
  let sleeper: string;
  before(async () => {
    env = await startCtEnv();
    pod = await runPod(env, 'hostile');
    sleeper = await runCtr(env, pod, ctrConfig(env, 'sleeper', { command: ['sh', '-c', 'echo ready; exec sleep 100000'] }));
    await waitForLog(path.join(pod.config.log_directory!, 'sleeper.log'), /ready/);
  });
  after(async () => {
    await env.close();
  });

  const pgrep = (pattern: string): string[] => {
    try {
      return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  it('ExecSync with a timeout past 2^31 ms runs the command instead of timing out at once', async () => {
    const r = await env.d.client.runtime('ExecSync', { container_id: sleeper, cmd: ['sh', '-c', 'sleep 0.3; echo done'], timeout: 2_147_484 });
    assert.equal(r.exit_code, 0);
    assert.equal(r.stdout.toString(), 'done\n');
  });

  it('StopContainer with the largest int64 timeout sends the stop signal, not SIGKILL at once', async () => {
    const id = await runCtr(env, pod, ctrConfig(env, 'trapper', { command: ['sh', '-c', 'trap "exit 3" TERM; echo ready; while true; do sleep 0.1; done'] }));
    await waitForLog(path.join(pod.config.log_directory!, 'trapper.log'), /ready/);
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: '9223372036854775807' });
    assert.equal((await status(env, id)).exit_code, 3);
  });

  it('ExecSync of exactly 16 MiB of stdout answers OK, under the message limit, and says what it dropped', async () => {
    const r = await env.d.client.runtime('ExecSync', { container_id: sleeper, cmd: ['head', '-c', '16777216', '/dev/zero'], timeout: 60 });
    assert.equal(r.exit_code, 0);
    assert.ok(r.stdout.length + r.stderr.length < 16 * 1024 * 1024, `${r.stdout.length} + ${r.stderr.length}`);
    assert.match(r.stderr.toString(), /\[berth: exec output over \d+ bytes; \d+ bytes of stdout and 0 bytes of stderr were dropped\]/);
  });

  it('ExecSync whose caller went away kills its runc exec and the process', async () => {
    const marker = `sleep 4242${process.pid}`;
    await assert.rejects(env.d.client.runtime('ExecSync', { container_id: sleeper, cmd: ['sh', '-c', marker], timeout: -1 }, { timeoutMs: 1500 }),
      (e: CriError) => e.code === GrpcStatus.DEADLINE_EXCEEDED);
    // runc runs as `exec --detach --process FILE … ID` under execwait.
    const runcExec = `exec .*--process .*${sleeper}`;
    await eventually('the exec ended', () => pgrep(marker).length + pgrep(runcExec).length, (n) => n === 0, 10_000).catch(() => undefined);
    assert.deepEqual(pgrep(marker), [], 'the exec\'d process is still running');
    assert.deepEqual(pgrep(runcExec), [], 'runc exec is still running');
  });

  it('a missing host_path under /proc, /sys or /dev is refused at once (was a mkdir spinning a worker thread)', async () => {
    for (const hostPath of ['/proc/sysrq-trigger/x', '/sys/berth-x/y', '/dev/berth-x/y']) {
      const mounts = [{ container_path: '/m', host_path: hostPath }];
      await assert.rejects(runCtr(env, pod, ctrConfig(env, `procmnt${hostPath.length}`, { mounts }), false), invalid(/config\.mounts\[0\]\.host_path: .*does not create paths under/));
    }
    await assert.rejects(runPod(env, 'procdir', { log_directory: '/proc/x' }), invalid(/config\.log_directory "\/proc\/x" is under \/proc/));
    await env.d.client.image('ImageFsInfo', {}); // file I/O still answers
  });

  it('seccomp localhost_ref: a FIFO or /dev/zero is refused without reading; another file is refused without quoting it', async () => {
    const fifo = path.join(env.tmp, 'seccomp.fifo');
    execFileSync('mkfifo', [fifo]);
    const seccomp = (ref: string) => ({ linux: { security_context: { seccomp: { profile_type: 'Localhost' as const, localhost_ref: ref } } } });
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'sfifo', seccomp(fifo)), false), invalid(/not a regular file/));
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'szero', seccomp('/dev/zero')), false), invalid(/not a regular file/));
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'spasswd', seccomp('/etc/passwd')), false), (err: CriError) => {
      invalid(/is not a seccomp profile/)(err);
      assert.doesNotMatch(err.details, /root:/);
      return true;
    });
    await env.d.client.image('ImageFsInfo', {});
  });

  it('a termination-message mount on a FIFO does not keep an exited container RUNNING; a huge one keeps 4 KiB', async () => {
    const fifo = path.join(env.tmp, 'term.fifo');
    execFileSync('mkfifo', [fifo]);
    const onFifo = await runCtr(env, pod, ctrConfig(env, 'termfifo', {
      command: ['true'], mounts: [{ container_path: '/dev/termination-log', host_path: fifo }],
    }));
    assert.equal((await waitExited(env, onFifo)).state, 'CONTAINER_EXITED');
    const big = path.join(env.tmp, 'term-big');
    await writeFile(big, '');
    const loud = await runCtr(env, pod, ctrConfig(env, 'termbig', {
      command: ['sh', '-c', 'head -c 20000000 /dev/zero | tr "\\0" x > /dev/termination-log'],
      mounts: [{ container_path: '/dev/termination-log', host_path: big }],
    }));
    const s = await waitExited(env, loud, 30_000);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.message.length, 4096);
  });

  it('a TARGET PID namespace may not name a container of another pod', async () => {
    const other = await runPod(env, 'other');
    const target = { linux: { security_context: { namespace_options: { network: 'POD' as const, pid: 'TARGET' as const, ipc: 'POD' as const, target_id: sleeper } } } };
    await assert.rejects(runCtr(env, other, ctrConfig(env, 'intruder', target), false), invalid(/target_id: container "[0-9a-f]+" belongs to another pod sandbox/));
  });

  it('paths and names taken as given are refused: log_path "..", relative host_path, unknown capability, newline in a pod name, a bad pod_cidr', async () => {
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'cron', { log_path: '../../../../etc/cron.d/berth' }), false), invalid(/config\.log_path .* contains a "\.\." component/));
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'rel', { mounts: [{ container_path: '/x', host_path: '../../etc/x' }] }), false), invalid(/host_path "\.\.\/\.\.\/etc\/x" is not an absolute path/));
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'caps', { linux: { security_context: { capabilities: { add_capabilities: ['CAP_FLY'] } } } }), false),
      invalid(/add_capabilities\[0\]: unknown capability "CAP_FLY"/));
    await assert.rejects(runPod(env, 'evil\n10.9.9.9 kubernetes.default'), invalid(/config\.metadata\.name .* contains "\\n"/));
    await assert.rejects(runPod(env, 'cni;args=x'), invalid(/contains ";"/));
    await assert.rejects(env.d.client.runtime('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.0.0.0/24", "dataDir": "/tmp/x' } } }), invalid(/pod_cidr .* is not a CIDR/));
    await assert.rejects(runPod(env, 'fat', { annotations: { big: 'x'.repeat(4 << 20) } }), invalid(/config\.annotations.* over the limit of 262144/));
    await mkdir(path.join(env.tmp, 'unused'), { recursive: true });
    // Nothing of the refused calls is left: one pod and its sleeper, trapper, termination containers.
    const names = (await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers.map((c) => c.metadata!.name).sort();
    assert.deepEqual(names, ['sleeper', 'termbig', 'termfifo', 'trapper']);
  });

  it('the exec output and stop tests left no exec behind and the sleeper still answers', async () => {
    const r = await execText(env, sleeper, ['echo', 'ok']);
    assert.equal(r.stdout, 'ok\n');
  });
});
