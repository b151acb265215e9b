import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, clampTimeoutSeconds } from './timeouts.js';

describe('timeouts', () => {
  it('clamps caller timeouts into what a Node timer holds', () => {
    const max = Math.floor(MAX_TIMER_MS / 1000);
    assert.equal(clampTimeoutSeconds('10'), 10);
    assert.equal(clampTimeoutSeconds(2_147_484), max); // 2^31 ms + a bit: fired at once before
    assert.equal(clampTimeoutSeconds('9223372036854775807'), max);
    assert.equal(clampTimeoutSeconds(9223372036854775807n), max);
    for (const none of ['0', '-1', '-9223372036854775808', undefined, null, 'junk', NaN]) assert.equal(clampTimeoutSeconds(none), 0);
    assert.equal(clampTimeoutSeconds(Infinity), max);
    assert.equal(clampTimeoutSeconds(1.9), 1);
    assert.ok(max * 1000 <= MAX_TIMER_MS);
  });
});
