// native/build/gunzip-digest (a gzip layer inflated and its diff ID hashed outside the daemon's
// JS thread) against node's gunzip: same bytes, same digest, the same streams accepted and refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { buildTar } from '../../e2e/fixtures/tar.js';
import { decompressStreaming, haveGunzipDigest, unpackStream } from './unpack.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** What a decompressor makes of `input` fed in `step`-byte chunks: its bytes and diff ID, or its error. */
async function inflate(input: Buffer, useHelper: boolean, step = 65536): Promise<{ out: Buffer; diffId?: string } | { err: string }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += step) chunks.push(input.subarray(i, i + step));
  const d = decompressStreaming(Readable.from(chunks), GZ, useHelper);
  try {
    const parts: Buffer[] = [];
    for await (const c of d.stream) parts.push(c as Buffer);
    await d.done;
    return { out: Buffer.concat(parts), diffId: await d.diffId };
  } catch (err) {
    d.stream.destroy();
    await d.done.catch(() => {});
    await d.diffId?.catch(() => {});
    return { err: (err as Error).message };
  }
}

describe('gunzip-digest', () => {
  const data = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(2 << 20, 7)]);
  const gz = gzipSync(data);

  it('inflates to node’s bytes and reports their sha256', async () => {
    const r = await inflate(gz, true);
    assert.ok('out' in r, JSON.stringify(r));
    assert.ok(r.out.equals(data));
    assert.equal(r.diffId, sha(data));
  });

  it('takes several members and zero padding after them, as node does', async () => {
    const two = Buffer.concat([gz, gzipSync(Buffer.from('second')), Buffer.alloc(100)]);
    const helper = await inflate(two, true, 1000);
    const node = await inflate(two, false, 1000);
    assert.ok('out' in helper && 'out' in node);
    assert.ok(helper.out.equals(node.out));
    assert.equal(helper.diffId, sha(node.out));
  });

  it('fails a truncated or corrupt stream, with no digest', async () => {
    const truncated = await inflate(gz.subarray(0, gz.length - 100), true);
    assert.ok('err' in truncated && /unexpected end/.test(truncated.err), JSON.stringify(truncated));
    const bad = Buffer.from(gz);
    bad.fill(0xff, 1000, 1100);
    const corrupt = await inflate(bad, true);
    assert.ok('err' in corrupt, 'corrupt data must fail');
    const garbage = await inflate(Buffer.concat([gz, Buffer.from('garbage')]), true);
    assert.ok('err' in garbage, 'trailing garbage must fail, as in node');
    assert.ok('err' in (await inflate(Buffer.concat([gz, Buffer.from('garbage')]), false)));
  });

  describe('unpackStream', () => {
    let tmp: string;
    before(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-gunzip-digest-'));
    });
    after(async () => {
      await rm(tmp, { recursive: true, force: true });
    });

    it('a big gzip layer goes through the helper; the diff ID is the tar’s sha256', async () => {
      const body = randomBytes(5 << 20);
      const tar = buildTar([{ type: 'dir', path: 'd/' }, { type: 'file', path: 'd/f', data: body }]);
      const layer = gzipSync(tar, { level: 1 });
      assert.ok(haveGunzipDigest, 'npm run build makes native/build/gunzip-digest');
      assert.ok(layer.length >= 4 << 20, 'over the helper threshold');
      const st = await unpackStream(Readable.from([layer]), GZ, tmp, layer.length);
      assert.equal(st.diffId, sha(tar));
      assert.equal(st.bytes, body.length);
      assert.ok((await readFile(path.join(tmp, 'd/f'))).equals(body));
    });

    it('a helper that fails while the tar is read fails the unpack, and nothing is left unhandled', async () => {
      const rejections: unknown[] = [];
      const onRejection = (e: unknown) => rejections.push(e);
      process.on('unhandledRejection', onRejection);
      try {
        // Random data is stored, not deflated: the damage shows only in the member's CRC at the end.
        const layer = gzipSync(buildTar([{ type: 'file', path: 'f', data: randomBytes(5 << 20) }]));
        layer.fill(0xff, layer.length >> 1, (layer.length >> 1) + 4096);
        const root = await mkdtemp(path.join(tmp, 'crc-'));
        await assert.rejects(unpackStream(Readable.from([layer]), GZ, root, layer.length));
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(rejections, []);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });
  });
});
