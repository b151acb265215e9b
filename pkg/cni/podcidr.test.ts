import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors/errors.js';
import { parsePodCidrs } from './podcidr.js';

describe('pod_cidr', () => {
  it('accepts one CIDR or a dual-stack pair', () => {
    assert.deepEqual(parsePodCidrs('10.244.1.0/24'), ['10.244.1.0/24']);
    assert.deepEqual(parsePodCidrs('10.244.1.0/24,fd00:10:244:1::/64'), ['10.244.1.0/24', 'fd00:10:244:1::/64']);
  });

  it('refuses anything that would change the template around it', () => {
    for (const bad of ['10.0.0.0/24", "dataDir": "/etc', '10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'x/8', '10.0.0.0/24,', ' ', '10.0.0.0/24\n']) {
      assert.throws(() => parsePodCidrs(bad), (e: unknown) => e instanceof InvalidArgumentError && /pod_cidr .* is not a CIDR/.test(e.message), bad);
    }
  });
});
