// kill -9 of the daemon in the middle of StartContainer, RunPodSandbox (CNI ADD, pause) and
// StopPodSandbox, each held at a failpoint so the crash lands inside the step: the next start
// adopts what has a record and removes the rest (conmon, runtime container, bundle, mounts,
// writable layer, cgroup, veth, IP, pins, CNI cache), and the retried call succeeds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { CGROUP_ROOT, ctrConfig, podConfig, runCtr, status, type CtEnv } from './container-fixtures.js';
import { startFailpointEnv, type FailpointControl, type FailpointEnv } from './fixtures/failpoints.js';
import { countLeaks, type Leaks, type LeakScope } from './leaks.js';

describe('crash in the middle of a call: the next start leaves nothing behind', () => {
  let fp: FailpointEnv;
  let env: CtEnv;
  let rt: FailpointControl;
  let net: FailpointControl;
  let scope: LeakScope;
  let clean: Leaks;
  before(async () => {
    fp = await startFailpointEnv('crash');
    ({ env, rt, net, scope, clean } = fp);
  });
  after(() => fp.close());

  const run = (config?: Parameters<FailpointEnv['run']>[0]) => fp.run(config);
  const removePod = (id: string) => fp.removePod(id);
  /** kill -9 while `call` is held at `hang`; then a fresh daemon on the same paths. */
  const crashDuring = async (hang: Promise<{ reached: Promise<void> }>, call: () => Promise<unknown>) => {
    const h = await hang;
    const pending = call().catch(() => undefined);
    await h.reached;
    await env.d.kill();
    await pending;
    await env.restart();
  };

  it('StartContainer cut while the runtime creates: the restarted daemon keeps the CREATED container and leaves no conmon or runtime container; the retried start runs it', async () => {
    const pod = await run(podConfig(env, 'crash-create'));
    const cfg = ctrConfig(env, 'c', { command: ['sleep', '1000'] });
    const id = await runCtr(env, pod, cfg, false);
    const created = await countLeaks(scope);
    await crashDuring(rt.hang('create'), () => env.d.client.runtime('StartContainer', { container_id: id }));
    assert.deepEqual(await countLeaks(scope), created);
    assert.equal((await status(env, id)).state, 'CONTAINER_CREATED');
    await env.d.client.runtime('StartContainer', { container_id: id });
    assert.equal((await status(env, id)).state, 'CONTAINER_RUNNING');
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RemoveContainer does not wait for the exit path\'s runtime delete; a crash before that delete ran leaves a runtime container the next start removes, and the next start empties the trash', async () => {
    const pod = await run(podConfig(env, 'crash-delete'));
    const withPod = await countLeaks(scope);
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }));
    const hang = await rt.hang('delete');
    await env.d.client.runtime('StopContainer', { container_id: id, timeout: 0 });
    await hang.reached;
    await env.d.client.runtime('RemoveContainer', { container_id: id });
    assert.deepEqual((await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers, []);
    assert.ok((await countLeaks(scope)).runtimeContainers.some((c) => c.endsWith(`/${id}`)), 'the held delete has not run');
    // What RemoveContainer moved to the trash may still be there at a crash (a deletion cut short).
    const trashes = [path.join(env.d.state, 'trash'), path.join(env.d.root, 'trash')];
    for (const t of trashes) await mkdir(path.join(t, `cut-${id}`, 'upper'), { recursive: true });
    await env.d.kill();
    await env.restart();
    assert.deepEqual(await countLeaks(scope), withPod);
    for (const t of trashes) assert.deepEqual(await readdir(t), [], `${t} emptied at start-up`);
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RunPodSandbox cut in the middle of CNI ADD: no veth, IP, pin, mount, cache entry or directory is left; the retry succeeds', async () => {
    const cfg = podConfig(env, 'crash-add');
    await crashDuring(net.hang('ADD'), () => run(cfg));
    assert.deepEqual(await countLeaks(scope), clean);
    assert.deepEqual((await env.d.client.runtime('ListPodSandbox', {})).items, []);
    const pod = await run(cfg);
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('RunPodSandbox with a shared PID namespace cut while pause starts: no pause, cgroup or pin is left', async () => {
    const cfg = podConfig(env, 'crash-pause', {
      linux: { cgroup_parent: `${CGROUP_ROOT}/pod-crash-pause-${process.pid}`, security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
    });
    await crashDuring(rt.hang('run'), () => run(cfg));
    assert.deepEqual(await countLeaks(scope), clean);
    const pod = await run(cfg);
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('kubelet retries RunPodSandbox and CreateContainer after a kill -9 and a restart: the same ids, no duplicates', async () => {
    const cfg = podConfig(env, 'retry-restart');
    const pod = await run(cfg);
    const ccfg = ctrConfig(env, 'c', { command: ['sleep', '1000'] });
    const create = () => env.d.client.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: ccfg, sandbox_config: cfg }).then((r) => r.container_id);
    const ctr = await create();
    await env.d.kill();
    await env.restart();
    assert.equal((await run(cfg)).id, pod.id, 'RunPodSandbox retried after the restart');
    assert.equal(await create(), ctr, 'CreateContainer retried after the restart');
    assert.equal((await env.d.client.runtime('ListPodSandbox', {})).items.filter((p) => p.metadata?.name === 'retry-restart').length, 1);
    assert.deepEqual((await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers.map((c) => c.id), [ctr]);
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });

  it('StopPodSandbox cut in the middle of CNI DEL: the restarted daemon keeps the pod and its container; stop and remove then leave nothing', async () => {
    const pod = await run(podConfig(env, 'crash-del'));
    const id = await runCtr(env, pod, ctrConfig(env, 'c', { command: ['sleep', '1000'] }));
    await crashDuring(net.hang('DEL'), () => env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: pod.id }));
    assert.equal((await status(env, id)).state, 'CONTAINER_EXITED');
    await removePod(pod.id);
    assert.deepEqual(await countLeaks(scope), clean);
  });
});
