// The wire pieces of the gRPC server: framing, the message reader across any chunking, the
// grpc-timeout header and the percent-encoding of grpc-message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageReader, Status, decodeMessage, encodeMessage, frame, parseTimeout } from './wire.js';

describe('framing', () => {
  it('prefixes a message with a zero flag and its big-endian length', () => {
    assert.deepEqual([...frame(Buffer.from('abc'))], [0, 0, 0, 0, 3, 0x61, 0x62, 0x63]);
    assert.deepEqual([...frame(Buffer.alloc(0))], [0, 0, 0, 0, 0]);
  });

  it('reads back every message whatever the chunk boundaries, empty ones included', () => {
    const msgs = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('x')];
    const wire = Buffer.concat(msgs.map(frame));
    for (const size of [1, 2, 5, 6, 4096, wire.length]) {
      const r = new MessageReader(1 << 20);
      const got: Buffer[] = [];
      for (let i = 0; i < wire.length; i += size) got.push(...r.push(wire.subarray(i, i + size)));
      assert.deepEqual(got.map((b) => b.toString('hex')), msgs.map((b) => b.toString('hex')), `chunks of ${size}`);
      assert.ok(r.atBoundary);
    }
  });

  it('knows when the body stopped inside a message', () => {
    const r = new MessageReader(100);
    assert.deepEqual(r.push(frame(Buffer.from('abcdef')).subarray(0, 7)), []);
    assert.equal(r.atBoundary, false);
  });

  it('refuses a compressed message with UNIMPLEMENTED and one over the limit with RESOURCE_EXHAUSTED', () => {
    const compressed = frame(Buffer.from('zz'));
    compressed[0] = 1;
    assert.throws(() => new MessageReader(100).push(compressed), (e: { code: Status; details: string }) => e.code === Status.UNIMPLEMENTED && /compressed/.test(e.details));
    // Refused from the prefix alone, before the body is buffered.
    assert.throws(() => new MessageReader(100).push(frame(Buffer.alloc(101)).subarray(0, 5)), (e: { code: Status; details: string }) =>
      e.code === Status.RESOURCE_EXHAUSTED && e.details === 'received message larger than max (101 vs. 100)');
  });
});

describe('grpc-timeout', () => {
  it('is read in every unit, and absent means no deadline', () => {
    assert.equal(parseTimeout(undefined), undefined);
    assert.equal(parseTimeout('2H'), 7_200_000);
    assert.equal(parseTimeout('3M'), 180_000);
    assert.equal(parseTimeout('120S'), 120_000);
    assert.equal(parseTimeout('99999999m'), 99_999_999);
    assert.equal(parseTimeout('1500u'), 1.5);
    assert.equal(parseTimeout('2000000n'), 2);
  });

  it('that is malformed is INVALID_ARGUMENT', () => {
    for (const bad of ['', '10', 'S', '123456789S', '1.5S', '-1S', '10s ']) {
      assert.throws(() => parseTimeout(bad), (e: { code: Status }) => e.code === Status.INVALID_ARGUMENT, JSON.stringify(bad));
    }
  });
});

describe('grpc-message', () => {
  it('keeps printable ASCII as it is and percent-encodes the rest as UTF-8', () => {
    assert.equal(encodeMessage('container "abc" not found'), 'container "abc" not found');
    assert.equal(encodeMessage('100% done\nnext'), '100%25 done%0Anext');
    assert.equal(encodeMessage('pod «é»'), 'pod %C2%AB%C3%A9%C2%BB');
    for (const s of ['100% done\nnext', 'pod «é»', 'tab\there', '']) assert.equal(decodeMessage(encodeMessage(s)), s);
  });
});
