// HPACK against RFC 7541 Appendix C (plain and Huffman, requests and the 256-octet responses that
// evict), the decoder's guards against hostile blocks, and the encoder read back by the decoder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, encodeHeaders } from './hpack.js';
import { huffmanDecode, huffmanEncode } from './huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

const REQUESTS = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const REQUEST_TABLE_SIZES = [57, 110, 164];
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES = [
  [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
  [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
  [[':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], ['location', 'https://www.example.com'], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]],
];
const RESPONSE_TABLE_SIZES = [222, 222, 215];

function decodeSeries(dec: HpackDecoder, blocks: string[], want: string[][][], sizes: number[]): void {
  blocks.forEach((b, i) => {
    assert.deepEqual(dec.decode(hex(b)), want[i], `block ${i + 1}`);
    assert.equal(dec.tableSize, sizes[i], `table after block ${i + 1}`);
  });
}

describe('HPACK decoder (RFC 7541 Appendix C)', () => {
  it('C.2: each literal form and an indexed field', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), [['custom-key', 'custom-header']]);
    assert.equal(d.tableSize, 55);
    const n = new HpackDecoder();
    assert.deepEqual(n.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [[':path', '/sample/path']]);
    assert.deepEqual(n.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), [['password', 'secret']]);
    assert.deepEqual(n.decode(hex('82')), [[':method', 'GET']]);
    assert.equal(n.tableSize, 0, 'without indexing and never indexed add nothing');
  });

  it('C.3: requests without Huffman, sharing the dynamic table', () => {
    decodeSeries(new HpackDecoder(), [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ], REQUESTS, REQUEST_TABLE_SIZES);
  });

  it('C.4: the same requests Huffman-coded', () => {
    decodeSeries(new HpackDecoder(), [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ], REQUESTS, REQUEST_TABLE_SIZES);
  });

  it('C.5: responses with a 256-octet table, evicting the oldest entries', () => {
    decodeSeries(new HpackDecoder(256), [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ], RESPONSES, RESPONSE_TABLE_SIZES);
  });

  it('C.6: the same responses Huffman-coded', () => {
    decodeSeries(new HpackDecoder(256), [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ], RESPONSES, RESPONSE_TABLE_SIZES);
  });
});

describe('HPACK decoder guards', () => {
  it('applies a table size update at the start of a block, evicting, and refuses one later or over the limit', () => {
    const d = new HpackDecoder(4096);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    assert.deepEqual(d.decode(hex('20 82')), [[':method', 'GET']], 'size 0 then an indexed field');
    assert.equal(d.tableSize, 0);
    assert.throws(() => d.decode(hex('be')), HpackError, 'the evicted entry is gone');
    assert.throws(() => d.decode(hex('82 20')), /after a header field/);
    assert.throws(() => d.decode(hex('3fe2 1f')), /4097 over the 4096 allowed/); // 31 + 98 + 31·128
  });

  it('refuses index 0, an index past the table, and strings or integers cut short', () => {
    const d = new HpackDecoder();
    for (const bad of ['80', 'c0', '400a 6375', '0f', '7fff ffff ffff 7f', '0085 f1e3']) {
      assert.throws(() => d.decode(hex(bad)), HpackError, bad);
    }
  });

  it('refuses a header list over 1 MiB, however small the block that indexes it', () => {
    const d = new HpackDecoder();
    const big = Buffer.concat([Buffer.from([0x40, 0x01, 0x78, 0x7f, 0xa1, 0x1e]), Buffer.alloc(4000, 0x61)]); // x: 4000 a's, indexed as 62
    assert.equal(d.decode(big).length, 1);
    assert.throws(() => d.decode(Buffer.alloc(300, 0xbe)), /header list over/);
  });

  it('refuses Huffman strings with EOS, long padding or padding that is not all ones', () => {
    const d = new HpackDecoder();
    assert.throws(() => d.decode(hex('0082 ffff 00')), HpackError, 'EOS prefix past 7 bits'); // name: 2 bytes of ones
    assert.throws(() => huffmanDecode(hex('00'), 0, 1), /padding/, "'0' then 3 zero bits");
    assert.throws(() => huffmanDecode(hex('ffff ffff'), 0, 4), /EOS|padding/);
    assert.equal(huffmanDecode(hex(''), 0, 0), '');
  });

  it('decodes every byte value Huffman-coded', () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    const out = huffmanEncode(all);
    assert.equal(huffmanDecode(out, 0, out.length), all);
  });
});

describe('HPACK encoder', () => {
  it('writes static indexes and literals that the decoder reads back, adding nothing to its table', () => {
    const fields: [string, string][] = [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '13'], ['grpc-message', 'x'.repeat(300)]];
    const block = encodeHeaders(fields);
    assert.equal(block[0], 0x88, ':status 200 is static index 8');
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(block), fields);
    assert.equal(d.tableSize, 0);
  });
});
