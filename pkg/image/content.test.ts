import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { ContentStore, DigestMismatchError, ProgressTimeoutError, type BlobOpener } from './content.js';

const digestOf = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Serves `data` in 64 KiB chunks, slowly, counting opens. */
function slowOpener(data: Buffer, delayMs = 5): { opener: BlobOpener; opens: () => number } {
  let opens = 0;
  const opener: BlobOpener = async (offset) => {
    opens++;
    async function* gen() {
      for (let i = offset; i < data.length; i += 64 * 1024) {
        await new Promise((r) => setTimeout(r, delayMs));
        yield data.subarray(i, Math.min(data.length, i + 64 * 1024));
      }
    }
    return { stream: Readable.from(gen()), resumed: offset > 0 };
  };
  return { opener, opens: () => opens };
}

describe('content store', () => {
  let dir: string;
  let cs: ContentStore;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-img-cs-'));
    cs = new ContentStore(dir);
    await cs.init();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('shares one download between concurrent fetches, even when one of them gives up', async () => {
    const data = randomBytes(1 << 20);
    const d = digestOf(data);
    const { opener, opens } = slowOpener(data);
    const quitter = new AbortController();
    const a = cs.fetch(d, data.length, opener, quitter.signal);
    let bSettled = false;
    const b = cs.fetch(d, data.length, opener).finally(() => (bSettled = true));
    // Gives up once both wait for the one download (a timer could fire before b joined).
    while (cs.waitersOf(d) < 2 && !bSettled) await new Promise((r) => setImmediate(r));
    quitter.abort(new Error('caller went away'));
    await assert.rejects(a, /caller went away/);
    await b;
    assert.equal(opens(), 1);
    assert.ok(await cs.has(d, data.length));
    assert.deepEqual(await readdir(cs.ingestDir), []);
  });

  it('a fetch that comes after the only waiter gave up starts a new download instead of joining the dying one', async () => {
    const data = randomBytes(1 << 20);
    const d = digestOf(data);
    const { opener, opens } = slowOpener(data);
    const quitter = new AbortController();
    const a = cs.fetch(d, data.length, opener, quitter.signal);
    while (opens() === 0) await new Promise((r) => setImmediate(r));
    quitter.abort(new Error('caller went away'));
    const b = cs.fetch(d, data.length, opener);
    await assert.rejects(a, /caller went away/);
    await b;
    assert.equal(opens(), 2);
    assert.ok(await cs.has(d, data.length));
  });

  it("reports a download's bytes to every watcher of its digest, whichever fetch started it", async () => {
    const data = randomBytes(512 * 1024);
    const d = digestOf(data);
    const { opener } = slowOpener(data, 1);
    const seen: number[][] = [[], []];
    const stops = seen.map((s) => cs.watch(d, (n) => s.push(n)));
    await Promise.all([cs.fetch(d, data.length, opener), cs.fetch(d, data.length, opener)]);
    for (const s of seen) {
      assert.equal(s.length, 8, 'one report per 64 KiB chunk');
      assert.deepEqual(s, [...s].sort((a, b) => a - b));
      assert.equal(s[s.length - 1], data.length);
    }
    stops.forEach((stop) => stop());
    const other = randomBytes(64 * 1024);
    const late: number[] = [];
    const stop = cs.watch(digestOf(other), (n) => late.push(n));
    stop();
    await cs.fetch(digestOf(other), other.length, slowOpener(other, 0).opener);
    assert.deepEqual(late, [], 'a stopped watcher hears nothing');
  });

  it('stops the download when every caller gives up, leaving no ingest file', async () => {
    const data = randomBytes(1 << 20);
    const d = digestOf(data);
    const ctrl = new AbortController();
    const p = cs.fetch(d, data.length, slowOpener(data).opener, ctrl.signal);
    setTimeout(() => ctrl.abort(new Error('cancelled')), 20);
    await assert.rejects(p, /cancelled/);
    await cs.settle([d]);
    assert.equal(await cs.has(d), false);
    assert.deepEqual(await readdir(cs.ingestDir), []);
  });

  it('refuses bytes that do not match the digest or the size', async () => {
    const data = randomBytes(100_000);
    const wrong = 'sha256:' + '0'.repeat(64);
    await assert.rejects(cs.fetch(wrong, data.length, slowOpener(data, 0).opener), (err: Error) => err instanceof DigestMismatchError && /does not match its digest/.test(err.message));
    await assert.rejects(cs.fetch(digestOf(data), data.length - 1, slowOpener(data, 0).opener), /more than the 99999 bytes/);
    assert.equal(await cs.has(wrong), false);
    assert.deepEqual(await readdir(cs.ingestDir), []);
  });

  it('feeds a tap the whole blob, ending it only after the digest checked out', async () => {
    const data = randomBytes(3 << 20);
    const tap = new PassThrough();
    const got: Buffer[] = [];
    tap.on('data', (c: Buffer) => got.push(c));
    const ended = new Promise((r) => tap.once('end', r));
    await cs.fetch(digestOf(data), data.length, slowOpener(data, 0).opener, undefined, tap);
    await ended;
    assert.ok(Buffer.concat(got).equals(data));
    const again = new PassThrough();
    const err = new Promise<Error>((r) => again.once('error', r));
    await cs.fetch(digestOf(data), data.length, slowOpener(data, 0).opener, undefined, again);
    assert.match((await err).message, /not streamed/, 'a present blob is not streamed again');
  });

  // Fed one 64 KiB network chunk at a time, a layer's gunzip made a trip through the libuv pool
  // and the stream machinery per chunk: several times the CPU of the inflate itself.
  it('writes to a tap in ~1 MiB batches, not once per network chunk', async () => {
    const data = randomBytes(3 << 20);
    const sizes: number[] = [];
    const tap = new Writable({
      write(chunk: Buffer, _enc, cb) {
        sizes.push(chunk.length);
        cb();
      },
    });
    await cs.fetch(digestOf(data), data.length, slowOpener(data, 0).opener, undefined, tap);
    assert.equal(sizes.reduce((a, b) => a + b, 0), data.length);
    assert.ok(sizes.length <= 4, `${sizes.length} writes for 3 MiB sent in 48 chunks`);
  });

  it('fetchBytes gives the verified bytes of a small blob, then stores it; a stored blob is read back', async () => {
    const data = randomBytes(200_000);
    const d = digestOf(data);
    const first = cs.fetchBytes(d, data.length, slowOpener(data, 0).opener);
    assert.ok((await first.bytes).equals(data));
    await first.stored;
    assert.ok(await cs.has(d, data.length));
    let opened = false;
    const again = cs.fetchBytes(d, data.length, async () => {
      opened = true;
      throw new Error('must not download a stored blob');
    });
    assert.ok((await again.bytes).equals(data));
    await again.stored;
    assert.equal(opened, false);
    const wrong = 'sha256:' + '1'.repeat(64);
    const bad = cs.fetchBytes(wrong, data.length, slowOpener(data, 0).opener);
    await assert.rejects(bad.bytes, DigestMismatchError);
    await assert.rejects(bad.stored, DigestMismatchError);
    assert.equal(await cs.has(wrong), false);
    assert.deepEqual(await readdir(cs.ingestDir), []);
  });
});

describe('content store: stalled downloads', () => {
  it('a download whose bytes stop for the progress timeout fails naming what and where, shared waiters too, and leaves no ingest file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-img-stall-'));
    try {
      const cs = new ContentStore(dir, 150);
      await cs.init();
      const data = randomBytes(256 * 1024);
      const d = digestOf(data);
      let released = false;
      // 64 KiB, then nothing: the connection stays open and silent.
      const opener: BlobOpener = async () => {
        const s = new PassThrough();
        s.write(data.subarray(0, 64 * 1024));
        s.once('close', () => (released = true));
        return { stream: s, resumed: false, source: `layer ${d} from http://127.0.0.1:9` };
      };
      const first = cs.fetch(d, data.length, opener);
      const joined = cs.fetch(d, data.length, opener);
      for (const p of [first, joined]) {
        await assert.rejects(p, (e: unknown) => {
          assert.ok(e instanceof ProgressTimeoutError);
          assert.match((e as Error).message, new RegExp(`no bytes of layer ${d} from http://127\\.0\\.0\\.1:9 for [0-9.]+ s`));
          return true;
        });
      }
      assert.equal(released, true, 'the stalled stream was destroyed');
      assert.deepEqual(await readdir(cs.ingestDir), []);
      assert.equal(await cs.has(d), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
