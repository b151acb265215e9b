import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { versionAtLeast } from './at-least.js';

describe('versionAtLeast', () => {
  it('compares major, then minor, of CNI, kernel and runtime versions', () => {
    assert.equal(versionAtLeast('0.4.0', 0, 4), true);
    assert.equal(versionAtLeast('0.3.1', 0, 4), false);
    assert.equal(versionAtLeast('1.0.0', 0, 4), true);
    assert.equal(versionAtLeast('6.1.0-18-amd64', 5, 12), true);
    assert.equal(versionAtLeast('5.10.0-28-amd64', 5, 12), false);
    assert.equal(versionAtLeast('1.8', 1, 8), true);
    assert.equal(versionAtLeast('1', 1, 0), true, 'a missing minor is 0');
    assert.equal(versionAtLeast('x.9', 0, 0), false, 'not a number never passes');
  });
});
