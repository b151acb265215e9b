// StopContainer end to end: a stop sent right after StartContainer is heard (critest's
// Idempotence race), and stop signals (KEP-4960): ContainerConfig.stop_signal overrides the
// image's StopSignal, ContainerStatus.stop_signal reports the one used, across a restart too.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ctrConfig, runCtr, runPod, startCtEnv, status, waitForLog, type CtEnv } from './container-fixtures.js';

const SIGKILL_EXIT = 137;

describe('containers: a stop right after start', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });

  // critest's Idempotence spec: `sh -c top` started, then StopContainer(60) at once. The init of a
  // PID namespace only hears signals it has a handler for; one sent before `top` installs its
  // handler used to be dropped by the kernel, and the stop waited out its whole timeout.
  it('start → immediate stop of `sh -c top`, 30 times: each exits on SIGTERM, none is killed at the timeout', async () => {
    const pod = await runPod(env, 'race');
    for (let i = 0; i < 30; i++) {
      const id = await runCtr(env, pod, ctrConfig(env, `top-${i}`, { command: ['sh', '-c', 'top'] }));
      await env.d.client.runtime('StopContainer', { container_id: id, timeout: 20 }, { timeoutMs: 60_000 });
      const s = await status(env, id);
      assert.equal(s.state, 'CONTAINER_EXITED', `round ${i}`);
      assert.notEqual(s.exit_code, SIGKILL_EXIT, `round ${i}: the stop signal was lost and the container was killed at the timeout`);
      await env.d.client.runtime('RemoveContainer', { container_id: id });
    }
  });

  it('a process that installs its SIGTERM handler only after a while still gets the stop signal', async () => {
    const pod = await runPod(env, 'late');
    // sh (PID 1, no handler) drops SIGTERM; `top` traps it once it runs, 0.5 s later.
    const id = await runCtr(env, pod, ctrConfig(env, 'late', { command: ['sh', '-c', 'echo started; sleep 0.5; exec top'] }));
    await waitForLog(path.join(pod.config.log_directory!, 'late.log'), /started/);
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 20 }, { timeoutMs: 60_000 });
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.exit_code, 128 + 15, 'top exits on SIGTERM');
  });

  it('a PID 1 that never handles SIGTERM is killed at the timeout', async () => {
    const pod = await runPod(env, 'deaf');
    const id = await runCtr(env, pod, ctrConfig(env, 'deaf', { command: ['sleep', '1000'] }));
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 1 });
    const s = await status(env, id);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.equal(s.exit_code, SIGKILL_EXIT);
  });
});

describe('containers: stop signals', () => {
  let env: CtEnv;
  before(async () => {
    env = await startCtEnv();
  });
  after(async () => {
    await env.close();
  });
  const trapper = (env: CtEnv, name: string, extra = {}) => ctrConfig(env, name, {
    command: ['sh', '-c', 'trap "exit 10" USR1; trap "exit 12" USR2; trap "exit 15" TERM; trap "exit 3" QUIT; echo ready; while true; do sleep 0.1; done'],
    ...extra,
  });

  it('stop_signal overrides the image StopSignal; status reports the effective signal; it survives a restart', async () => {
    const pod = await runPod(env, 'sig');
    const plain = await runCtr(env, pod, trapper(env, 'plain'));
    const fromImage = await runCtr(env, pod, trapper(env, 'image', { image: { image: env.userImage } }));
    const byName = await runCtr(env, pod, trapper(env, 'byname', { image: { image: env.userImage }, stop_signal: 'SIGUSR2' }));
    // By number: 18 is SIGQUIT in the CRI enum (Linux 3).
    const byNumber = await runCtr(env, pod, trapper(env, 'bynumber', { stop_signal: 18 }));
    assert.equal((await status(env, plain)).stop_signal, 'SIGTERM', 'default');
    assert.equal((await status(env, fromImage)).stop_signal, 'SIGUSR1', 'the image declares SIGUSR1');
    assert.equal((await status(env, byName)).stop_signal, 'SIGUSR2');
    assert.equal((await status(env, byNumber)).stop_signal, 'SIGQUIT');

    await env.d.kill();
    await env.restart();
    assert.equal((await status(env, byName)).stop_signal, 'SIGUSR2', 'kept across a restart');
    const want: [string, string, number][] = [[plain, 'plain', 15], [fromImage, 'image', 10], [byName, 'byname', 12], [byNumber, 'bynumber', 3]];
    for (const [id, name, code] of want) {
      await waitForLog(path.join(pod.config.log_directory!, `${name}.log`), /ready/);
      await env.d.client.runtime('StopContainer', { container_id: id, timeout: 20 });
      const s = await status(env, id);
      assert.equal(s.exit_code, code, `${name}: exit ${s.exit_code}`);
    }
  });

  it('an image StopSignal berth cannot read fails CreateContainer with INVALID_ARGUMENT unless stop_signal overrides it', async () => {
    const { buildBusyboxImage, BUSYBOX_ENV } = await import('./fixtures/busybox.js');
    const { pushImage } = await import('./fixtures/oci.js');
    const ref = `${env.reg.host}/ct/badsig:1`;
    await pushImage(env.reg.host, 'ct/badsig', '1', buildBusyboxImage({ config: { Env: BUSYBOX_ENV, Cmd: ['sh'], StopSignal: 'SIGBOGUS' } }));
    await env.d.client.image('PullImage', { image: { image: ref } });
    const pod = await runPod(env, 'badsig');
    await assert.rejects(runCtr(env, pod, ctrConfig(env, 'bad', { image: { image: ref }, command: ['sleep', '100'] }), false),
      (err: { code: number; details: string }) => {
        assert.equal(err.code, 3);
        assert.match(err.details, /StopSignal.*SIGBOGUS/);
        return true;
      });
    const id = await runCtr(env, pod, ctrConfig(env, 'ok', { image: { image: ref }, command: ['sleep', '100'], stop_signal: 'SIGKILL' }));
    assert.equal((await status(env, id)).stop_signal, 'SIGKILL');
  });
});
