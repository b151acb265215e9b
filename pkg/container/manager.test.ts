// The container service against a fake runtime and the real sandbox service (fake network):
// pod-level locking, retries that return results, failure states, writes before memory.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { AlreadyExistsError, FailedPreconditionError } from '../errors/errors.js';
import { containerConfig, leftovers, podRequest, startManagers, type ManagersEnv } from '../testing/managers.js';

describe('container service: pod lock, retries, failure states', () => {
  let env: ManagersEnv;
  before(async () => {
    env = await startManagers();
  });
  after(async () => {
    await env.close();
  });

  it('RemovePodSandbox waits for a CreateContainer in flight and then removes what it made', async () => {
    const pod = await env.sandboxes.run(podRequest('lock'));
    const before = await leftovers(env);
    const hang = env.imageFaults.hang('view');
    const creating = env.containers.create(pod, containerConfig('c1'));
    await hang.reached;
    const removing = env.sandboxes.remove(pod);
    // The remove must not get ahead of the create: it waits for the pod's lock.
    const late = env.containers.create(pod, containerConfig('c2'));
    hang.release();
    const id = await creating;
    await removing;
    await assert.rejects(late, (e: unknown) => e instanceof Error && /not found|not ready/.test(e.message));
    assert.equal(env.containers.records.has(id), false, 'the container made under the lock was removed with the pod');
    assert.deepEqual(env.containers.list(), []);
    const after = await leftovers(env);
    assert.deepEqual(after.bundles, []);
    assert.deepEqual(after.layers, []);
    assert.deepEqual(after.mounts, []);
    assert.ok(before.pins.length > 0);
    assert.deepEqual(after.pins, []);
  });

  it('StartContainer in a pod that is not READY: FAILED_PRECONDITION, nothing started', async () => {
    const pod = await env.sandboxes.run(podRequest('notready'));
    const id = await env.containers.create(pod, containerConfig('c'));
    await env.sandboxes.stop(pod);
    await assert.rejects(env.containers.start(id), (e: unknown) => e instanceof FailedPreconditionError && /not ready/.test((e as Error).message));
    assert.notEqual(env.runtime.containers.get(id)?.status, 'running');
    await env.sandboxes.remove(pod);
  });

  it('a retried CreateContainer joins the call in flight and gets the same id; after it finished too; another config is refused', async () => {
    const pod = await env.sandboxes.run(podRequest('retry'));
    const creates = () => env.imageFaults.hits.filter((h) => h === 'view').length;
    const created = creates();
    const hang = env.imageFaults.hang('view');
    const first = env.containers.create(pod, containerConfig('c'));
    await hang.reached;
    const retry = env.containers.create(pod, containerConfig('c'));
    await assert.rejects(env.containers.create(pod, containerConfig('c', { command: ['other'] })), (e: unknown) => e instanceof AlreadyExistsError && /in progress/.test((e as Error).message));
    hang.release();
    const id = await first;
    assert.equal(await retry, id);
    assert.equal(await env.containers.create(pod, containerConfig('c')), id, 'a retry after the first finished gets the same id');
    assert.equal(creates() - created, 1, 'made once');
    await assert.rejects(env.containers.create(pod, containerConfig('c', { command: ['other'] })), AlreadyExistsError);
    assert.equal(env.leases.get('sha256:' + 'a'.repeat(64)), 0, 'the image lease was released');
    await env.sandboxes.remove(pod);
  });

  it('a CreateContainer in flight holds its image and the images it mounts as volumes until its record exists', async () => {
    const pod = await env.sandboxes.run(podRequest('vol-lease'));
    const image = 'sha256:' + 'a'.repeat(64);
    const hang = env.imageFaults.hang('view');
    const volume = { containerPath: '/vol', hostPath: '', readonly: true, propagation: 'PRIVATE' as const, recursiveReadOnly: false, selinuxRelabel: false, image: 'test/image:1' };
    const creating = env.containers.create(pod, containerConfig('c', { mounts: [volume] }));
    await hang.reached;
    assert.equal(env.leases.get(image), 2, 'one lease for the image, one for the image volume');
    hang.release();
    const id = await creating;
    assert.equal(env.leases.get(image), 0, 'the record keeps them in use from here');
    assert.equal(env.containers.get(id).config.mounts[0]?.imageId, image);
    await env.sandboxes.remove(pod);
    assert.deepEqual(await env.mounts(), []);
  });

  it('a failed StartContainer leaves the container EXITED with reason StartError and the runtime message', async () => {
    const pod = await env.sandboxes.run(podRequest('starterr'));
    const id = await env.containers.create(pod, containerConfig('c'));
    env.runtime.faults.fail('start', 1, 'exec: "/nope": stat /nope: no such file or directory');
    await assert.rejects(env.containers.start(id), (e: unknown) => e instanceof FailedPreconditionError && /no such file/.test((e as Error).message));
    const c = env.containers.get(id);
    assert.equal(c.state, 'CONTAINER_EXITED');
    assert.equal(c.reason, 'StartError');
    assert.match(c.message, /stat \/nope: no such file or directory/);
    assert.ok(c.finishedAt > 0n);
    assert.equal(env.containers.table.all().find((r) => r.info.id === id)?.info.reason, 'StartError', 'written to the database');
    await env.containers.remove(id);
    await env.sandboxes.remove(pod);
  });

  it('StartContainer watches the cgroup for OOM kills before the runtime starts the process (a container killed at once is OOMKilled)', async () => {
    const pod = await env.sandboxes.run(podRequest('oomwatch'));
    const id = await env.containers.create(pod, containerConfig('c'));
    const watched: string[] = [];
    const watch = env.containers.oomWatch.watch.bind(env.containers.oomWatch);
    env.containers.oomWatch.watch = (cid, cg) => {
      watched.push(cid);
      return watch(cid, cg);
    };
    const hang = env.runtime.faults.hang('start');
    const starting = env.containers.start(id);
    await hang.reached;
    const whileStarting = [...watched];
    hang.release();
    await starting;
    env.containers.oomWatch.watch = watch;
    assert.deepEqual(whileStarting, [id], 'watched while the runtime starts it');
    await env.containers.stop(id, 0);
    await env.containers.remove(id);
    await env.sandboxes.remove(pod);
  });

  it('a container whose process exits while the runtime starts it has started_at no later than finished_at', async () => {
    const pod = await env.sandboxes.run(podRequest('quickexit'));
    const id = await env.containers.create(pod, containerConfig('c'));
    const hang = env.runtime.faults.hang('start');
    const starting = env.containers.start(id);
    await hang.reached;
    const stopped = new Promise<void>((resolve) => {
      const on = (e: { type: string; containerId: string }): void => {
        if (e.type !== 'CONTAINER_STOPPED_EVENT' || e.containerId !== id) return;
        env.containers.events.off('event', on);
        resolve();
      };
      env.containers.events.on('event', on);
    });
    env.runtime.containers.get(id)!.proc.kill('SIGKILL');
    await stopped;
    hang.release();
    await starting;
    const info = env.containers.get(id);
    assert.equal(info.state, 'CONTAINER_EXITED');
    assert.ok(info.startedAt > 0n && info.startedAt <= info.finishedAt, `started ${info.startedAt} <= finished ${info.finishedAt}`);
    await env.containers.remove(id);
    await env.sandboxes.remove(pod);
  });

  it('CreateContainer does not ask the runtime: the record is CREATED, on disk, with no runtime container', async () => {
    const pod = await env.sandboxes.run(podRequest('norttcreate'));
    const hits = env.runtime.faults.hits.length;
    const id = await env.containers.create(pod, containerConfig('c'));
    assert.equal(env.runtime.faults.hits.length, hits, 'no runtime call');
    assert.equal(env.runtime.containers.has(id), false);
    const row = env.containers.table.all().find((r) => r.info.id === id)!;
    assert.equal(row.info.state, 'CONTAINER_CREATED');
    assert.equal(row.awaitingRuntime, true);
    await env.containers.start(id);
    assert.deepEqual(env.runtime.faults.hits.slice(hits), ['create', 'start']);
    assert.equal(env.containers.table.all().find((r) => r.info.id === id)!.awaitingRuntime, false, 'written once the runtime made it');
    assert.ok(env.containers.get(id).pid > 0);
    await env.sandboxes.remove(pod);
  });

  it('the runtime create failing at StartContainer: EXITED with StartError and its message, no runtime state or exit file; remove leaves nothing; the next attempt runs', async () => {
    const pod = await env.sandboxes.run(podRequest('createfail'));
    const before = await leftovers(env);
    const id = await env.containers.create(pod, containerConfig('c'));
    env.runtime.faults.fail('create', 1, 'exec: "/nope": stat /nope: no such file or directory');
    await assert.rejects(env.containers.start(id), (e: unknown) => e instanceof FailedPreconditionError && /stat \/nope/.test((e as Error).message));
    const c = env.containers.get(id);
    assert.equal(c.state, 'CONTAINER_EXITED');
    assert.equal(c.reason, 'StartError');
    assert.equal(c.exitCode, 128);
    assert.match(c.message, /stat \/nope: no such file or directory/);
    assert.equal(env.containers.table.all().find((r) => r.info.id === id)?.info.reason, 'StartError', 'written to the database');
    assert.equal(env.runtime.containers.has(id), false);
    assert.deepEqual((await leftovers(env)).exitFiles, before.exitFiles);
    await assert.rejects(env.containers.start(id), FailedPreconditionError);
    await env.containers.remove(id);
    assert.deepEqual(await leftovers(env), before);
    const next = await env.containers.create(pod, containerConfig('c', { attempt: 1 }));
    await env.containers.start(next);
    assert.equal(env.containers.get(next).state, 'CONTAINER_RUNNING');
    await env.sandboxes.remove(pod);
    assert.deepEqual((await leftovers(env)).bundles, []);
  });

  it('a never-started container: exec is refused, stop ends it without the runtime, remove asks nothing of the runtime', async () => {
    const pod = await env.sandboxes.run(podRequest('neverstarted'));
    const a = await env.containers.create(pod, containerConfig('a'));
    const b = await env.containers.create(pod, containerConfig('b'));
    const hits = env.runtime.faults.hits.length;
    await assert.rejects(env.containers.execSync(a, ['true'], 0), (e: unknown) => e instanceof FailedPreconditionError && /not running \(created\)/.test((e as Error).message));
    await env.containers.stop(a, 10);
    const s = env.containers.get(a);
    assert.equal(s.state, 'CONTAINER_EXITED');
    assert.match(s.message, /stopped before it was started/);
    await assert.rejects(env.containers.start(a), FailedPreconditionError);
    await env.containers.remove(a);
    await env.containers.remove(b);
    assert.deepEqual(env.runtime.faults.hits.slice(hits), [], 'no runtime call');
    assert.deepEqual(env.containers.list(), []);
    await env.sandboxes.remove(pod);
  });

  it('UpdateContainerResources before start writes the limits into the spec the runtime will be made from', async () => {
    const pod = await env.sandboxes.run(podRequest('updatecreated'));
    const id = await env.containers.create(pod, containerConfig('c'));
    const before = (await env.containers.ociSpec(id)) as { linux: { resources: { devices?: unknown[] } } };
    await env.containers.updateResources(id, { cpuShares: 512, memoryLimitInBytes: 64 << 20, hugepageLimits: [], unified: {} });
    const spec = (await env.containers.ociSpec(id)) as { linux: { resources: { cpu?: { shares: number }; memory?: { limit: number }; devices?: unknown[] } } };
    assert.equal(spec.linux.resources.cpu?.shares, 512);
    assert.equal(spec.linux.resources.memory?.limit, 64 << 20);
    assert.deepEqual(spec.linux.resources.devices, before.linux.resources.devices, 'the device rules stay');
    assert.equal(env.containers.get(id).config.resources?.cpuShares, 512);
    await env.sandboxes.remove(pod);
  });

  it('ReopenContainerLog of a container that exits while conmon has not reopened its log ends at the exit (FAILED_PRECONDITION), not after a silent wait', async () => {
    const logs = path.join(env.dir, 'pod-logs');
    const pod = await env.sandboxes.run(podRequest('reopen', { logDirectory: logs }));
    const id = await env.containers.create(pod, containerConfig('c', { logPath: 'c.log' }));
    await env.containers.start(id);
    // The fake conmon never recreates the log, as a conmon busy with an exiting container would not.
    const reopening = env.containers.reopenLog(id);
    await env.containers.stop(id, 0);
    await assert.rejects(reopening, (e: unknown) => e instanceof FailedPreconditionError && /not running/.test((e as Error).message));
    await env.sandboxes.remove(pod);
  });

  it('RemoveContainer after a recorded exit does not run the runtime delete the exit already ran', async () => {
    const pod = await env.sandboxes.run(podRequest('deleteonce'));
    const id = await env.containers.create(pod, containerConfig('c'));
    await env.containers.start(id);
    const deletes = () => env.runtime.faults.hits.filter((h) => h === 'delete').length;
    const before = deletes();
    await env.containers.stop(id, 0);
    await env.containers.remove(id);
    assert.equal(deletes() - before, 1, 'one runtime delete: at the exit');
    assert.equal(env.runtime.containers.has(id), false);
    await env.sandboxes.remove(pod);
  });

  it('RemoveContainer does not wait for the exit path\'s runtime delete; RemovePodSandbox does', async () => {
    const pod = await env.sandboxes.run(podRequest('deleteowned'));
    const a = await env.containers.create(pod, containerConfig('a'));
    await env.containers.start(a);
    const hang = env.runtime.faults.hang('delete');
    await env.containers.stop(a, 0);
    await hang.reached;
    await env.containers.remove(a);
    assert.equal(env.containers.records.has(a), false, 'removed while its runtime delete is held');
    assert.equal(env.runtime.containers.has(a), true);
    const b = await env.containers.create(pod, containerConfig('b'));
    await env.containers.start(b);
    await env.containers.stop(b, 0);
    let podRemoved = false;
    const removing = env.sandboxes.remove(pod).then(() => (podRemoved = true));
    while (env.containers.records.has(b)) await new Promise((r) => setImmediate(r));
    assert.equal(podRemoved, false, 'the pod waits for the held delete of its container');
    hang.release();
    await removing;
    assert.ok(podRemoved);
    assert.equal(env.runtime.containers.has(a), false, 'the held delete finished');
    assert.equal(env.runtime.containers.has(b), false);
  });

  it('RemovePodSandbox waits for the exit path\'s runtime delete of a container removed before it (the pod cgroup goes after the container\'s)', async () => {
    const pod = await env.sandboxes.run(podRequest('deletebefore'));
    const id = await env.containers.create(pod, containerConfig('c'));
    await env.containers.start(id);
    const hang = env.runtime.faults.hang('delete');
    await env.containers.stop(id, 0);
    await hang.reached;
    await env.containers.remove(id);
    // What RemovePodSandbox calls before it removes the pod's cgroup.
    const removeAll = env.containers.sandboxHooks().removeAll(pod);
    const first = await Promise.race([removeAll.then(() => 'done'), new Promise((r) => setImmediate(() => r('waiting')))]);
    hang.release();
    assert.equal(first, 'waiting', 'the pod waits for the held delete');
    await removeAll;
    assert.equal(env.runtime.containers.has(id), false);
    await env.sandboxes.remove(pod);
  });

  it('an exited container\'s rootfs is unmounted at its exit; RemoveContainer moves its directories out at once and they are deleted in the background', async () => {
    await Promise.all([env.containers.trash.state.reset(), env.containers.trash.root.reset()]);
    const pod = await env.sandboxes.run(podRequest('unmountexit'));
    const before = await leftovers(env);
    const id = await env.containers.create(pod, containerConfig('c'));
    await env.containers.start(id);
    const { rootfs } = env.containers.records.get(id)!;
    const mounted = async () => (await env.mounts()).some((l) => l.includes(` ${rootfs} `));
    assert.ok(await mounted());
    await env.containers.stop(id, 0);
    await env.containers.settled();
    assert.equal(await mounted(), false, 'unmounted after the exit, before any remove');
    assert.equal(env.containers.get(id).state, 'CONTAINER_EXITED');
    assert.ok((await leftovers(env)).bundles.includes(id), 'the bundle stays until the remove');
    await env.containers.remove(id);
    const after = await leftovers(env);
    assert.deepEqual([after.bundles, after.layers, after.exitFiles], [before.bundles, before.layers, before.exitFiles], 'nothing left at their names when remove returns');
    await env.containers.settled();
    const trash = async (t: { dir: string }) => readdir(t.dir);
    assert.deepEqual([await trash(env.containers.trash.state), await trash(env.containers.trash.root)], [[], []], 'the trash is emptied');
    await env.sandboxes.remove(pod);
  });

  it('a state change whose database write fails changes nothing in memory', async () => {
    const pod = await env.sandboxes.run(podRequest('dbfail'));
    const id = await env.containers.create(pod, containerConfig('c'));
    const put = env.containers.table.put;
    env.containers.table.put = () => { throw new Error('SQLITE_FULL: database or disk is full'); };
    try {
      await assert.rejects(env.containers.start(id), /SQLITE_FULL/);
      assert.equal(env.containers.get(id).state, 'CONTAINER_CREATED');
      assert.equal(env.containers.get(id).startedAt, 0n);
      assert.equal(env.runtime.containers.has(id), false, 'the runtime container its record could not own is gone');
    } finally {
      env.containers.table.put = put;
    }
    await env.containers.start(id);
    assert.equal(env.containers.get(id).state, 'CONTAINER_RUNNING', 'a retried start runs it');
    await env.sandboxes.remove(pod);
  });
});
