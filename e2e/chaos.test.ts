// The short chaos run (bench/chaos.ts has the full one): kill -9 at random points of pod churn;
// nothing lost, no call fails once the daemon is back, nothing leaks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from '../bench/chaos.js';
import { NO_LEAKS } from './leaks.js';

describe('chaos: kill -9 during pod churn', () => {
  it('5 kills: 0 lost, 0 errors after restart, 0 leaks', async () => {
    const r = await runChaos({ kills: 5 });
    assert.equal(r.aborted, undefined, `seed ${r.seed}`);
    assert.equal(r.kills, 5);
    assert.deepEqual(r.lost, [], `seed ${r.seed}`);
    assert.deepEqual(r.errors, [], `seed ${r.seed}`);
    assert.deepEqual(r.leaks, NO_LEAKS, `seed ${r.seed}: ${r.leftovers.join(', ')}`);
    assert.deepEqual(r.uncleaned, [], `seed ${r.seed}`);
    assert.ok(r.cycles + r.interrupted > 0, 'the churn ran');
  });
});
