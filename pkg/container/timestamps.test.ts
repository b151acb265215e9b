// Record timestamps (created/started/finished) are compared by clients: they must not go backwards.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nowNs } from './service.js';

describe('nowNs', () => {
  it('never goes backwards across millisecond boundaries (the hrtime fraction wraps out of step with Date.now)', () => {
    let last = nowNs();
    const until = Date.now() + 30;
    let calls = 0;
    while (Date.now() < until) {
      const t = nowNs();
      assert.ok(t > last, `call ${calls}: ${t} after ${last}`);
      last = t;
      calls++;
    }
    assert.ok(calls > 1000);
  });

  it('is wall-clock time in nanoseconds', () => {
    const ms = BigInt(Date.now());
    const t = nowNs() / 1_000_000n;
    assert.ok(t >= ms - 1n && t <= ms + 1n, `${t} vs ${ms}`);
  });
});
