// The stats sampler: CPU rate from cumulative time between its own samples, a bounded ring per
// container, containers that vanish forgotten, and nothing kept or read once nobody watches.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatsSampler, type RawSample } from './sampler.js';

describe('dashboard stats sampler', () => {
  it('turns cumulative CPU into cores, keeps the last N samples and forgets vanished containers', async () => {
    let now = 1_000_000;
    let raw: RawSample[] = [];
    const s = new StatsSampler(async () => raw, { keep: 3, now: () => now });
    raw = [{ id: 'a', cpuNs: 0n, memBytes: 100n }, { id: 'b', cpuNs: 5n, memBytes: 7n }, { id: 'c' }];
    const first = await s.sample();
    assert.deepEqual(first!.values, {}, 'the first sample only sets the baseline');
    for (let i = 1; i <= 4; i++) {
      now += 2000;
      raw = [{ id: 'a', cpuNs: BigInt(i) * 1_000_000_000n, memBytes: BigInt(100 + i) }, ...(i < 3 ? [{ id: 'b', cpuNs: 5n, memBytes: 7n }] : [])];
      await s.sample();
    }
    const h = s.history();
    assert.deepEqual(Object.keys(h), ['a'], 'b vanished, c was never readable');
    assert.deepEqual(h.a!.cpu, [0.5, 0.5, 0.5], '1 s of CPU every 2 s = half a core');
    assert.deepEqual(h.a!.mem, [102, 103, 104]);
    assert.deepEqual(h.a!.t, [1_006_000 - 2000, 1_006_000, 1_008_000]);
  });

  it('a counter that goes back (cgroup recreated) gives no negative rate', async () => {
    let now = 0;
    let cpu = 10_000_000_000n;
    const s = new StatsSampler(async () => [{ id: 'a', cpuNs: cpu, memBytes: 1n }], { now: () => now });
    await s.sample();
    now = 1000;
    cpu = 1000n;
    await s.sample();
    assert.deepEqual(s.history().a!.cpu, [0]);
  });

  it('reads only while watched; the last watcher leaving drops the history', async () => {
    let reads = 0;
    const s = new StatsSampler(async () => {
      reads++;
      return [{ id: 'a', cpuNs: BigInt(reads) * 1_000_000n, memBytes: 1n }];
    }, { intervalMs: 5 });
    const ticks: number[] = [];
    // The sampler's timer does not hold the process open (a daemon's would not exit): this does.
    const keepAlive = setInterval(() => undefined, 1000);
    await new Promise<void>((resolve) => {
      const stop1 = s.watch((t) => {
        ticks.push(t.t);
        if (ticks.length === 3) {
          stop1();
          resolve();
        }
      });
    });
    clearInterval(keepAlive);
    assert.equal(s.watching, 0);
    assert.equal(s.sampling, false, 'the timer stopped');
    assert.deepEqual(s.history(), {}, 'nothing kept once nobody watches');
  });
});
