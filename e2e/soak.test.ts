// The short soak (bench/soak.ts runs it for an hour): 40 s of pod, container, exec, log and
// pull churn at a steady rate, sampled every 5 s; no call fails, every metric is sampled, and
// nothing is left at the end. (Slopes over 40 s say little; the hour-long run reports them.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak } from '../bench/soak.js';
import { NO_LEAKS } from './leaks.js';

describe('soak: steady churn', () => {
  it('40 s: no errors, samples of every metric, nothing left behind', async () => {
    const r = await runSoak({ seconds: 40, sampleSeconds: 5 });
    assert.deepEqual(r.errors, []);
    assert.ok(r.cycles > 0 && r.execs >= 5 * r.cycles && r.logReopens === r.cycles, JSON.stringify({ cycles: r.cycles, execs: r.execs }));
    assert.ok(r.samples.length >= 8);
    for (const s of r.samples) for (const [k, v] of Object.entries(s)) assert.ok(Number.isFinite(v), `${k} sampled`);
    assert.deepEqual(Object.keys(r.trends).sort(), ['children', 'fds', 'heapUsedBytes', 'hostMounts', 'hostVeths', 'ownMounts', 'ownVeths', 'rssKiB']);
    assert.deepEqual(r.leaks, NO_LEAKS);
  });
});
