import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CleanupStack, describeFailures, settleAll } from './cleanup.js';

describe('CleanupStack', () => {
  it('undoes last first, runs every step even after a failure, and names the failed ones', async () => {
    const s = new CleanupStack();
    const log: string[] = [];
    s.add('bundle', async () => log.push('bundle'));
    s.add('rootfs', async () => { log.push('rootfs'); throw new Error('EBUSY'); });
    s.add('runtime', async () => log.push('runtime'));
    assert.deepEqual(s.names, ['bundle', 'rootfs', 'runtime']);
    const failed = await s.unwind();
    assert.deepEqual(log, ['runtime', 'rootfs', 'bundle']);
    assert.equal(describeFailures(failed), 'rootfs: EBUSY');
    assert.deepEqual(await s.unwind(), [], 'nothing twice');
    s.add('x', async () => log.push('x'));
    s.release();
    assert.deepEqual(await s.unwind(), []);
    assert.ok(!log.includes('x'));
  });
});

describe('settleAll', () => {
  it('throws the first failure only once every step has settled (a slow step is not left making things)', async () => {
    let slowDone = false;
    const slow = new Promise<string>((r) => setImmediate(() => { slowDone = true; r('made'); }));
    const fast = Promise.reject(new Error('first'));
    const late = new Promise<never>((_, rej) => setImmediate(() => rej(new Error('second'))));
    await assert.rejects(settleAll([slow, fast, late]), (e: Error) => {
      assert.equal(e.message, 'first');
      assert.ok(slowDone, 'the slow step finished before the failure was thrown');
      return true;
    });
  });

  it('returns every value, in order, when all succeed', async () => {
    assert.deepEqual(await settleAll([Promise.resolve(1), 'two', undefined]), [1, 'two', undefined]);
  });
});
