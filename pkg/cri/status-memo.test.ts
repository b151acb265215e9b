// Status answers from memory (status-memo.ts): the kept status is made again on every change of
// its container or pod — create, start, update resources, stop, exit, remove, a pod stopped — and
// the answer's bytes (a status, or a list) decode to what a fresh encoding of fresh objects says.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { containerConfig, podRequest, startManagers, type ManagersEnv } from '../testing/managers.js';
import { toContainer, toStatus as containerStatus } from './container.js';
import { PROTO_PATH, criServices, protoRoot } from './proto.js';
import { toPodSandbox, toStatus as sandboxStatus } from './sandbox.js';
import { DerivedMemo, answerEncoder } from './status-memo.js';
import type { MethodDef } from '../grpc/server.js';

const cri = criServices();
const root = protoRoot(PROTO_PATH);
const defs = cri.RuntimeService as unknown as Record<string, MethodDef & { responseDeserialize(b: Buffer): any }>;

/** What the client decodes from berth's answer, beside a fresh encoding of the same value. */
function bothWays(method: string, value: object): { cached: unknown; fresh: unknown } {
  const def = defs[method]!;
  const encode = answerEncoder(method, def, root);
  return { cached: def.responseDeserialize(encode(value)), fresh: def.responseDeserialize(def.responseSerialize(value)) };
}

describe('status answers from memory', () => {
  it('DerivedMemo: the same value while no top-level field changed; a new one when one is assigned, added or removed', () => {
    let made = 0;
    const memo = new DerivedMemo((o: Record<string, unknown>) => ({ n: ++made, state: o.state }));
    const src: Record<string, unknown> = { state: 'CREATED', labels: { a: '1' } };
    const first = memo.get(src);
    assert.equal(memo.get(src), first);
    Object.assign(src, { state: 'CREATED' }); // the same value again: nothing changed
    assert.equal(memo.get(src), first);
    Object.assign(src, { state: 'RUNNING' });
    const running = memo.get(src);
    assert.notEqual(running, first);
    assert.equal(running.state, 'RUNNING');
    src.pid = 42;
    const withPid = memo.get(src);
    assert.notEqual(withPid, running);
    delete src.pid;
    assert.notEqual(memo.get(src), withPid);
    src.labels = { a: '2' }; // a nested value replaced, as the stores do
    assert.equal(memo.get(src).n, 5);
  });

  it('the encoder: the status field from its cache, the per-call fields fresh, the same bytes a client decodes', () => {
    const status = { id: 'p'.repeat(64), metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 1 }, state: 'SANDBOX_READY', created_at: '1764530000000000000', labels: { a: 'b' }, annotations: {}, runtime_handler: '' };
    const a = bothWays('PodSandboxStatus', { status, info: {}, containers_statuses: [], timestamp: '1' });
    assert.deepEqual(a.cached, a.fresh);
    const b = bothWays('PodSandboxStatus', { status, info: { info: '{"x":1}' }, containers_statuses: [], timestamp: '2' });
    assert.deepEqual(b.cached, b.fresh);
    assert.equal((b.cached as { timestamp: string }).timestamp, '2');
    // One encoder across calls: the timestamp changes while the status object is the same.
    const def = defs.PodSandboxStatus!;
    const encode = answerEncoder('PodSandboxStatus', def, root);
    const t1 = def.responseDeserialize(encode({ status, info: {}, containers_statuses: [], timestamp: '10' }));
    const t2 = def.responseDeserialize(encode({ status, info: {}, containers_statuses: [], timestamp: '20' }));
    assert.deepEqual([t1.timestamp, t2.timestamp], ['10', '20']);
    assert.deepEqual(t1.status, t2.status);
    const none = bothWays('ContainerStatus', { status: null, info: {} });
    assert.deepEqual(none.cached, none.fresh);
    const item = (n: number) => ({ ...status, id: String(n).padStart(64, '0') });
    const list = bothWays('ListPodSandbox', { items: [item(1), item(2), item(3)] });
    assert.deepEqual(list.cached, list.fresh);
    assert.equal((list.cached as { items: unknown[] }).items.length, 3);
    const empty = bothWays('ListPodSandbox', { items: [] });
    assert.deepEqual(empty.cached, empty.fresh);
  });

  it('the image answers: ImageStatus and ListImages from the kept CRI images decode as fresh encodings do', () => {
    const img = (n: number) => ({
      id: `sha256:${String(n).padStart(64, '0')}`, repo_tags: [`r/i:${n}`], repo_digests: [], size: '1234', uid: { value: '0' }, username: '',
      spec: { image: `sha256:${n}`, annotations: {}, image_ref: `sha256:${n}` }, pinned: n === 2,
    });
    const images = cri.ImageService as unknown as Record<string, MethodDef & { responseDeserialize(b: Buffer): any }>;
    const both = (method: string, value: object) => {
      const def = images[method]!;
      return { cached: def.responseDeserialize(answerEncoder(method, def, root)(value)), fresh: def.responseDeserialize(def.responseSerialize(value)) };
    };
    for (const v of [{ image: img(1), info: {} }, { image: img(2), info: { info: '{"a":1}' } }, { image: null, info: {} }]) {
      const a = both('ImageStatus', v);
      assert.deepEqual(a.cached, a.fresh);
    }
    const list = both('ListImages', { images: [img(1), img(2)] });
    assert.deepEqual(list.cached, list.fresh);
    assert.equal((list.cached as { images: unknown[] }).images.length, 2);
  });

  describe('against the container and sandbox services (fake runtime)', () => {
    let env: ManagersEnv;
    before(async () => {
      env = await startManagers();
    });
    after(async () => {
      await env.close();
    });

    it('every state change of a container and its pod is in the next status answer', async () => {
      const ctrMemo = new DerivedMemo(containerStatus);
      const podMemo = new DerivedMemo(sandboxStatus);
      const encodeCtr = answerEncoder('ContainerStatus', defs.ContainerStatus!, root);
      const encodePod = answerEncoder('PodSandboxStatus', defs.PodSandboxStatus!, root);
      const ctrList = new DerivedMemo(toContainer);
      const podList = new DerivedMemo(toPodSandbox);
      const encodeCtrs = answerEncoder('ListContainers', defs.ListContainers!, root);
      const encodePods = answerEncoder('ListPodSandbox', defs.ListPodSandbox!, root);
      const answers: string[] = [];
      const checkLists = (step: string): void => {
        const ctrs = env.containers.list();
        const gotCtrs = defs.ListContainers!.responseDeserialize(encodeCtrs({ containers: ctrs.map((i) => ctrList.get(i)) }));
        assert.deepEqual(gotCtrs, defs.ListContainers!.responseDeserialize(defs.ListContainers!.responseSerialize({ containers: ctrs.map(toContainer) })), `ListContainers after ${step}`);
        const pods = env.sandboxes.list();
        const gotPods = defs.ListPodSandbox!.responseDeserialize(encodePods({ items: pods.map((i) => podList.get(i)) }));
        assert.deepEqual(gotPods, defs.ListPodSandbox!.responseDeserialize(defs.ListPodSandbox!.responseSerialize({ items: pods.map(toPodSandbox) })), `ListPodSandbox after ${step}`);
      };
      const check = (id: string, pod: string, step: string): void => {
        const i = env.containers.get(id);
        const got = defs.ContainerStatus!.responseDeserialize(encodeCtr({ status: ctrMemo.get(i), info: {} }));
        const want = defs.ContainerStatus!.responseDeserialize(defs.ContainerStatus!.responseSerialize({ status: containerStatus(i), info: {} }));
        assert.deepEqual(got, want, `container status after ${step}`);
        const p = env.sandboxes.get(pod);
        const gotPod = defs.PodSandboxStatus!.responseDeserialize(encodePod({ status: podMemo.get(p), info: {}, containers_statuses: [], timestamp: '1' }));
        assert.deepEqual(gotPod.status, defs.PodSandboxStatus!.responseDeserialize(defs.PodSandboxStatus!.responseSerialize({ status: sandboxStatus(p) })).status, `pod status after ${step}`);
        answers.push(`${got.status.state}/${gotPod.status.state}`);
        checkLists(step);
      };
      const pod = await env.sandboxes.run(podRequest('memo'));
      const id = await env.containers.create(pod, containerConfig('c'));
      check(id, pod, 'create');
      await env.containers.start(id);
      check(id, pod, 'start');
      const startedAt = ctrMemo.get(env.containers.get(id)).started_at;
      assert.notEqual(startedAt, '0');
      await env.containers.updateResources(id, { cpuShares: 512, hugepageLimits: [], unified: {} });
      check(id, pod, 'update resources');
      assert.equal(ctrMemo.get(env.containers.get(id)).resources?.linux?.cpu_shares, 512);
      await env.containers.stop(id, 0);
      check(id, pod, 'stop');
      assert.equal(ctrMemo.get(env.containers.get(id)).finished_at !== '0', true);
      const second = await env.containers.create(pod, containerConfig('d'));
      await env.containers.start(second);
      check(second, pod, 'start of a second container');
      env.runtime.containers.get(second)!.proc.kill('SIGKILL'); // it dies by itself
      assert.equal(await env.containers.waitExit(second, 10_000), true);
      check(second, pod, 'exit');
      await env.sandboxes.stop(pod);
      check(second, pod, 'pod stop');
      assert.deepEqual(answers, [
        'CONTAINER_CREATED/SANDBOX_READY', 'CONTAINER_RUNNING/SANDBOX_READY', 'CONTAINER_RUNNING/SANDBOX_READY',
        'CONTAINER_EXITED/SANDBOX_READY', 'CONTAINER_RUNNING/SANDBOX_READY', 'CONTAINER_EXITED/SANDBOX_READY', 'CONTAINER_EXITED/SANDBOX_NOTREADY',
      ]);
      await env.containers.remove(id);
      assert.throws(() => env.containers.get(id), /not found/);
      checkLists('remove');
      assert.deepEqual(env.containers.list().map((i) => ctrList.get(i).id), [second]);
      await env.sandboxes.remove(pod);
    });
  });
});
