import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OomLedger } from './oom-ledger.js';

describe('cgroups: OOM kills a pod counted, attributed to its containers', () => {
  it('a container claims the kills since it began that no sibling explains, once', () => {
    const l = new OomLedger();
    l.begin('a', '/pod1', 5);
    l.begin('b', '/pod1', 5);
    l.begin('c', '/pod2', 0);
    assert.equal(l.claim('a', 5), false, 'none since it began');
    l.explain('/pod1', 2); // b's own cgroup counted two
    assert.equal(l.claim('a', 7), false, "b's kills are not a's");
    assert.equal(l.claim('a', 8), true, 'one more');
    assert.equal(l.claim('b', 8), false, 'a claimed it');
    assert.equal(l.claim('c', 0), false, 'its own pod counted none');
    assert.equal(l.claim('unknown', 100), false, 'never watched');
  });

  it('kills before a container began, or explained before it began, do not count for it', () => {
    const l = new OomLedger();
    l.begin('old', '/p', 0);
    l.explain('/p', 3);
    l.begin('new', '/p', 3);
    assert.equal(l.claim('new', 3), false);
    l.explain('/p', 1);
    assert.equal(l.claim('new', 5), true, '5 - 3 counted, 1 explained');
  });

  it('forgets a pod once its last watched container ends', () => {
    const l = new OomLedger();
    l.begin('a', '/p', 0);
    l.explain('/p', 4);
    l.end('a');
    l.end('a');
    l.begin('b', '/p', 4);
    assert.equal(l.claim('b', 5), true, 'a fresh tally, from the new baseline');
    l.end('b');
    assert.equal(l.claim('b', 9), false, 'ended');
  });
});
