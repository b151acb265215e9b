import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { perPodMiB, settledFootprint } from './footprint.js';

describe('compare bench: memory per pod', () => {
  it('takes each figure at its lowest sample, so a compaction inside the window counts in both readings', () => {
    // Before the pods: garbage of the last stage, compacted in the middle of the window.
    const before = settledFootprint([{ rss: 60_000, pss: 55_000 }, { rss: 52_000, pss: 48_000 }, { rss: 52_100, pss: 47_900 }]);
    assert.deepEqual(before, { rss: 52_000, pss: 47_900 });
    // With 20 pods: 20 conmons of 1 MiB each, the daemon itself compacted before the window.
    const held = settledFootprint([{ rss: 52_000 + 20 * 1024, pss: 47_900 + 20 * 512 }]);
    assert.deepEqual(perPodMiB(before, held, 20), { rss: 1, pss: 0.5 });
    // A single reading each side, the compaction between them: what read negative.
    assert.ok(perPodMiB({ rss: 60_000, pss: 55_000 }, { rss: 52_000 + 2 * 1024, pss: 47_900 + 1024 }, 20).rss < 0);
  });
  it('rounds per pod to 2 decimals and refuses no samples', () => {
    assert.deepEqual(perPodMiB({ rss: 0, pss: 0 }, { rss: 1000, pss: 333 }, 3), { rss: 0.33, pss: 0.11 });
    assert.throws(() => settledFootprint([]), /no samples/);
  });
});
