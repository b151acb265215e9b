import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EXEC_OUTPUT_MAX, OutputCap } from './output.js';

describe('exec output cap', () => {
  it('keeps everything under the cap, with no note', () => {
    const c = new OutputCap(10);
    c.add(0, Buffer.from('abc'));
    c.add(1, Buffer.from('de'));
    c.add(0, Buffer.from('f'));
    const r = c.result();
    assert.equal(r.stdout.toString(), 'abcf');
    assert.equal(r.stderr.toString(), 'de');
    assert.equal(r.truncated, false);
  });

  it('keeps the first bytes up to the shared cap (splitting a chunk), counts the rest and says so on stderr', () => {
    const c = new OutputCap(10);
    c.add(0, Buffer.from('12345678'));
    c.add(1, Buffer.from('abcd'));
    c.add(0, Buffer.from('xyz'));
    const r = c.result();
    assert.equal(r.stdout.toString(), '12345678');
    assert.equal(r.truncated, true);
    assert.deepEqual(c.dropped, [3, 2]);
    assert.match(r.stderr.toString(), /^ab\n\[berth: exec output over 10 bytes; 3 bytes of stdout and 2 bytes of stderr were dropped\]\n$/);
  });

  it('the default cap leaves room in a 16 MiB message', () => {
    assert.ok(EXEC_OUTPUT_MAX + 1024 < 16 * 1024 * 1024);
    const c = new OutputCap();
    c.add(0, Buffer.alloc(16 * 1024 * 1024, 0x61)); // exactly 16 MiB: RESOURCE_EXHAUSTED before
    const r = c.result();
    assert.equal(r.stdout.length + r.stderr.length < 16 * 1024 * 1024 - 60 * 1024, true);
  });
});
