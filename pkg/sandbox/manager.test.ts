// The sandbox service against a fake pod network (real pins, shm mounts and store): failures at
// every step of RunPodSandbox and StopPodSandbox leave nothing behind, retries return results.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { leftovers, podRequest, startManagers, type ManagersEnv } from '../testing/managers.js';

describe('sandbox service: failures, cleanup and retries', () => {
  let env: ManagersEnv;
  before(async () => {
    env = await startManagers();
  });
  after(async () => {
    await env.close();
  });

  it('RunPodSandbox failing at CNI ADD leaves no pin, mount, directory or attachment; a retry succeeds', async () => {
    const before = await leftovers(env);
    env.network.faults.fail('ADD', 1, 'failpoint: bridge ADD: no IP addresses available');
    const req = podRequest('addfail');
    await assert.rejects(env.sandboxes.run(req), /no IP addresses available/);
    assert.deepEqual(await leftovers(env), before);
    assert.deepEqual(env.sandboxes.list().filter((s) => s.name === 'addfail'), []);
    const id = await env.sandboxes.run(req);
    assert.equal(env.sandboxes.get(id).state, 'SANDBOX_READY');
    await env.sandboxes.remove(id);
    assert.deepEqual(await leftovers(env), before);
  });

  it('when the cleanup of a failed RunPodSandbox fails too, a NOTREADY record is kept and RemovePodSandbox finishes the job', async () => {
    const before = await leftovers(env);
    env.network.faults.fail('ADD');
    env.network.faults.fail('DEL', 2, 'failpoint: DEL failed');
    await assert.rejects(env.sandboxes.run(podRequest('cleanupfail')), /ADD failed/);
    const kept = env.sandboxes.list().filter((s) => s.name === 'cleanupfail');
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.state, 'SANDBOX_NOTREADY');
    assert.equal(env.network.attached.size, 1, 'the attachment DEL could not remove is still there');
    await env.sandboxes.remove(kept[0]!.id);
    assert.deepEqual(await leftovers(env), before);
    assert.deepEqual(env.sandboxes.list().filter((s) => s.name === 'cleanupfail'), []);
  });

  it('a retried RunPodSandbox joins the one in flight: one sandbox, the same id', async () => {
    const req = podRequest('retry');
    const hang = env.network.faults.hang('ADD');
    const first = env.sandboxes.run(req);
    await hang.reached;
    const retry = env.sandboxes.run(structuredClone(req));
    hang.release();
    const id = await first;
    assert.equal(await retry, id);
    assert.equal(await env.sandboxes.run(structuredClone(req)), id, 'and after it finished');
    assert.equal(env.sandboxes.list().filter((s) => s.name === 'retry').length, 1);
    await env.sandboxes.remove(id);
  });

  it('StopPodSandbox whose CNI DEL fails: an error, the pod stays READY; the retry stops it and the progress is in the database', async () => {
    const id = await env.sandboxes.run(podRequest('stopfail'));
    env.network.faults.fail('DEL');
    await assert.rejects(env.sandboxes.stop(id), /DEL failed/);
    assert.equal(env.sandboxes.get(id).state, 'SANDBOX_READY');
    await env.sandboxes.stop(id);
    assert.equal(env.sandboxes.get(id).state, 'SANDBOX_NOTREADY');
    const row = env.store.db.prepare('SELECT state, record FROM sandboxes WHERE id = ?').get(id) as { state: string; record: string };
    assert.equal(row.state, 'SANDBOX_NOTREADY');
    assert.equal((JSON.parse(row.record) as { networkAttached: boolean }).networkAttached, false);
    await env.sandboxes.remove(id);
  });

  it('a StopPodSandbox whose database write fails leaves the record as it was', async () => {
    const id = await env.sandboxes.run(podRequest('dbfail'));
    const table = (env.sandboxes as unknown as { table: { put: (r: unknown) => void } }).table;
    const put = table.put;
    table.put = () => { throw new Error('SQLITE_IOERR: disk I/O error'); };
    try {
      await assert.rejects(env.sandboxes.stop(id), /SQLITE_IOERR/);
      assert.equal(env.sandboxes.get(id).state, 'SANDBOX_READY');
    } finally {
      table.put = put;
    }
    await env.sandboxes.remove(id);
  });
});
