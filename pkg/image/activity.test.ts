// Pull activity: running pulls, ended ones newest first with outcome, a bounded history, and
// the pull's own promise passed through untouched.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PullActivity, type PullRecord } from './activity.js';
import type { ImageRecord } from './types.js';

const img = (id: string): ImageRecord => ({ id, repoTags: [], repoDigests: [], size: 1, user: '', pinned: false });

describe('image pull activity', () => {
  it('tracks running and ended pulls and emits each change', async () => {
    const a = new PullActivity(2);
    const changes: PullRecord[] = [];
    a.on('change', (p: PullRecord) => changes.push(p));
    let finish!: (r: ImageRecord) => void;
    const slow = a.track('x.io/slow:1', (onLayer) => {
      onLayer({ digest: 'sha256:l1', size: 100, current: 0, state: 'downloading' });
      onLayer({ digest: 'sha256:l2', size: 50, current: 50, state: 'exists' });
      onLayer({ digest: 'sha256:l1', size: 100, current: 40, state: 'downloading' });
      return new Promise<ImageRecord>((r) => (finish = r));
    });
    const bad = a.track('x.io/bad:1', () => Promise.reject(new Error('manifest unknown')));
    await assert.rejects(bad, /manifest unknown/);
    assert.deepEqual(a.snapshot().running.map((p) => p.ref), ['x.io/slow:1']);
    assert.deepEqual(a.snapshot().running[0]!.layers.map((l) => [l.digest, l.current, l.state]), [
      ['sha256:l1', 40, 'downloading'], ['sha256:l2', 50, 'exists'],
    ], 'one entry per layer, at its latest progress');
    assert.equal(changes.length, 3, 'changes at start and end only, not at each byte');
    finish(img('sha256:1'));
    assert.equal((await slow).id, 'sha256:1');
    await a.track('x.io/third:1', async () => img('sha256:3'));
    const { running, ended } = a.snapshot();
    assert.deepEqual(running, []);
    assert.deepEqual(ended.map((p) => [p.ref, p.outcome]), [['x.io/third:1', 'ok'], ['x.io/slow:1', 'ok']], 'newest first, at most 2');
    assert.equal(ended[1]!.imageId, 'sha256:1');
    assert.ok(ended[1]!.finishedAt! >= ended[1]!.startedAt);
    const bads = changes.filter((c) => c.ref === 'x.io/bad:1');
    assert.deepEqual(bads.map((c) => c.outcome), [undefined, 'error']);
    assert.equal(bads[1]!.error, 'manifest unknown');
  });
});
