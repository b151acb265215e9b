import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CleanupStack, describeFailures } from './cleanup.js';

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
