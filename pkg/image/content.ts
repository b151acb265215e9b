// The content store: verified blobs at `blobs/sha256/<hex>`. A download streams into
// `ingest/`, is checked against digest and size while it streams, fsynced and renamed into
// place, so a partial or corrupt blob is never visible. Concurrent fetches of one digest share
// one download, which stops only when every waiter has given up.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { Writable, type Readable } from 'node:stream';
import path from 'node:path';
import { BerthError, UnavailableError } from '../errors/errors.js';
import { HttpError, sleep } from './http.js';

/**
 * Opens the blob's bytes from `offset`; `resumed` false means the stream starts at 0 anyway.
 * `source` names what comes from where ("layer sha256:… from https://host"), for error messages.
 */
export type BlobOpener = (offset: number, signal: AbortSignal) => Promise<{ stream: Readable; resumed: boolean; source?: string }>;

/** No byte of a download arrived for the progress timeout (image.pull_progress_timeout). */
export class ProgressTimeoutError extends UnavailableError {}

/** A tap handed to `fetch` that got no bytes: the blob was present or another pull downloads it. */
export class TapUnusedError extends Error {
  constructor() {
    super('blob not streamed: read it from the store');
  }
}

const WRITE_BATCH = 1 << 20;

export class DigestMismatchError extends BerthError {
  constructor(message: string) {
    super('FailedPrecondition', message);
  }
}

interface Inflight {
  promise: Promise<void>;
  waiters: number;
  ctrl: AbortController;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;
  private readonly inflight = new Map<string, Inflight>();
  /** Progress listeners by digest: every download of that digest reports its bytes so far. */
  private readonly watchers = new Map<string, Set<(written: number) => void>>();
  /** Called with each chunk's size as it arrives (pull metrics). */
  onBytes: (n: number) => void = () => {};

  /**
   * @param progressTimeoutMs a download that receives no byte for this long (across retries,
   * connects and waits for headers included) fails with ProgressTimeoutError; 0 disables.
   */
  constructor(readonly root: string, private readonly progressTimeoutMs = 0) {
    this.blobsDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'ingest');
  }

  /** Creates the directories and removes ingest files a crash left behind. */
  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
    for (const f of await readdir(this.ingestDir)) await rm(path.join(this.ingestDir, f), { force: true, recursive: true });
  }

  blobPath(digest: string): string {
    return path.join(this.blobsDir, digest.slice('sha256:'.length));
  }

  async has(digest: string, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.blobPath(digest));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  read(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.blobPath(digest))).size;
  }

  /** Stores bytes already in memory (manifests, configs) after checking their digest. */
  async put(digest: string, data: Buffer): Promise<void> {
    if (await this.has(digest, data.length)) return;
    const got = 'sha256:' + createHash('sha256').update(data).digest('hex');
    if (got !== digest) throw new DigestMismatchError(`content ${digest}: bytes hash to ${got}`);
    const ingest = path.join(this.ingestDir, `${digest.slice(7)}.${randomBytes(4).toString('hex')}`);
    try {
      const fh = await open(ingest, 'wx', 0o644);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(ingest, this.blobPath(digest));
    } catch (err) {
      await rm(ingest, { force: true });
      throw err;
    }
  }

  /**
   * Moves a file whose digest the caller verified (an image archive's blob, staged under the
   * ingest directory) into the store; a blob already present stays and the file goes.
   */
  async adopt(digest: string, file: string, size: number): Promise<void> {
    if (await this.has(digest, size)) await rm(file, { force: true });
    else await rename(file, this.blobPath(digest));
  }

  async delete(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  /**
   * Makes `digest` present: nothing to do when it is, joins a running download of it, or
   * downloads it. `signal` aborts this caller's wait (the download goes on for others).
   * `tap`, when given, receives the bytes as they stream in (so a layer unpacks while it
   * downloads); it is ended only once the digest checked out, and destroyed when it cannot be
   * fed the whole blob in one pass (then read the blob from the store after `fetch`).
   */
  async fetch(digest: string, size: number, opener: BlobOpener, signal?: AbortSignal, tap?: Writable): Promise<void> {
    if (await this.has(digest, size)) {
      tap?.destroy(new TapUnusedError());
      return;
    }
    let f = this.inflight.get(digest);
    if (f?.ctrl.signal.aborted) {
      // Its last waiter gave up and it is winding down: joining would inherit that caller's abort.
      await f.promise.catch(() => undefined);
      return this.fetch(digest, size, opener, signal, tap);
    }
    if (f) tap?.destroy(new TapUnusedError());
    else {
      const ctrl = new AbortController();
      const entry: Inflight = { waiters: 0, ctrl, promise: Promise.resolve() };
      entry.promise = this.download(digest, size, opener, ctrl.signal, tap).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, entry);
      f = entry;
    }
    const flight = f;
    flight.waiters++;
    if (!signal) {
      try {
        return await flight.promise;
      } finally {
        flight.waiters--;
      }
    }
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        if (--flight.waiters === 0) flight.ctrl.abort(signal.reason);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        () => {
          if (done) return;
          done = true;
          flight.waiters--;
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (err) => {
          if (done) return;
          done = true;
          flight.waiters--;
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /**
   * Fetches a small blob (a config) into memory. `bytes` resolves as soon as they are checked
   * against the digest, before the blob is fsynced: the pull goes on while the disk catches up,
   * and waits for `stored` (the blob durable and in place) only before it commits the image.
   */
  fetchBytes(digest: string, size: number, opener: BlobOpener, signal?: AbortSignal): { bytes: Promise<Buffer>; stored: Promise<void> } {
    const chunks: Buffer[] = [];
    let fromTap!: (b: Buffer) => void;
    let fromStore!: () => void;
    const bytes = new Promise<Buffer>((resolve, reject) => {
      fromTap = resolve;
      fromStore = () => stored.then(() => this.read(digest)).then(resolve, reject);
    });
    const tap = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    tap.once('finish', () => fromTap(Buffer.concat(chunks)));
    // Not fed the whole blob (already stored, another pull downloads it, a broken first pass):
    // the bytes come from the store once the download is done.
    tap.once('error', () => fromStore());
    const stored = this.fetch(digest, size, opener, signal, tap);
    stored.catch(() => fromStore());
    return { bytes, stored };
  }

  /** How many fetches wait for the download of `digest` in flight (0 when none runs). */
  waitersOf(digest: string): number {
    return this.inflight.get(digest)?.waiters ?? 0;
  }

  /**
   * Calls `fn` with the bytes received so far whenever a download of `digest` gets data, whoever
   * started it (concurrent pulls of one blob all see it). Returns the function that stops it.
   */
  watch(digest: string, fn: (written: number) => void): () => void {
    let set = this.watchers.get(digest);
    if (!set) this.watchers.set(digest, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (!set!.size && this.watchers.get(digest) === set) this.watchers.delete(digest);
    };
  }

  /** Waits until no download of these digests is running (a failed pull cleans up after that). */
  async settle(digests: string[]): Promise<void> {
    await Promise.allSettled(digests.map((d) => this.inflight.get(d)?.promise));
  }

  private async download(digest: string, size: number, opener: BlobOpener, outer: AbortSignal, tapIn?: Writable): Promise<void> {
    // The stall watchdog aborts this signal; so does the caller's.
    const ctrl = new AbortController();
    const signal = ctrl.signal;
    const onOuter = () => ctrl.abort(outer.reason);
    if (outer.aborted) onOuter();
    else outer.addEventListener('abort', onOuter, { once: true });
    let source = `blob ${digest}`;
    let lastByte = Date.now();
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      if (!this.progressTimeoutMs) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        const secs = Math.round((Date.now() - lastByte) / 100) / 10;
        ctrl.abort(new ProgressTimeoutError(`no bytes of ${source} for ${secs} s (image.pull_progress_timeout): download stopped`));
      }, this.progressTimeoutMs);
    };
    arm();
    try {
      await this.downloadOnce(digest, size, opener, signal, tapIn, (n, src) => {
        if (src) source = src;
        if (n > 0) {
          lastByte = Date.now();
          arm();
        }
      });
    } finally {
      clearTimeout(watchdog);
      outer.removeEventListener('abort', onOuter);
    }
  }

  private async downloadOnce(
    digest: string, size: number, opener: BlobOpener, signal: AbortSignal, tapIn: Writable | undefined,
    progress: (bytes: number, source?: string) => void,
  ): Promise<void> {
    const ingest = path.join(this.ingestDir, `${digest.slice(7)}.${randomBytes(4).toString('hex')}`);
    const fh = await open(ingest, 'wx', 0o644);
    let tap = tapIn;
    const dropTap = (err: Error) => {
      tap?.destroy(err);
      tap = undefined;
    };
    let closed = false;
    try {
      let hash = createHash('sha256');
      let written = 0;
      // Chunks batched into ~1 MiB writes: fewer trips through the libuv pool, for the file and
      // for the tap (a gunzip fed 64 KiB at a time spent several times the CPU of the inflate
      // itself on its trips through the pool and the stream machinery).
      let batch: Buffer[] = [];
      let batchLen = 0;
      const flush = async () => {
        if (!batchLen) return;
        // writev: one trip through the pool without copying the chunks into one buffer first.
        const wrote = fh.writev(batch, written - batchLen);
        const fed = tap ? feedTap(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchLen)) : undefined;
        batch = [];
        batchLen = 0;
        await wrote;
        await fed;
      };
      const feedTap = async (data: Buffer) => {
        if (tap?.destroyed || tap?.writableEnded) tap = undefined; // the consumer gave up; keep downloading
        if (!tap || tap.write(data) || tap.destroyed) return;
        const t = tap;
        await new Promise<void>((resolve) => {
          const done = () => {
            t.off('drain', done);
            t.off('close', done);
            resolve();
          };
          t.on('drain', done);
          t.on('close', done);
        });
        if (t.destroyed) tap = undefined; // the consumer gave up; keep downloading
      };
      const attempts = 4;
      for (let attempt = 0; ; attempt++) {
        try {
          const { stream, resumed, source } = await opener(written, signal);
          progress(0, source);
          // An abort (the watchdog's) must end a read that waits for bytes that do not come.
          const stop = () => stream.destroy(signal.reason as Error);
          signal.addEventListener('abort', stop, { once: true });
          stream.once('close', () => signal.removeEventListener('abort', stop));
          if (written > 0 && !resumed) {
            // The registry ignored the range: start over.
            hash = createHash('sha256');
            written = 0;
            await fh.truncate(0);
          }
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            if (signal.aborted) {
              stream.destroy();
              throw signal.reason ?? new Error('download cancelled');
            }
            if (written + chunk.length > size) {
              stream.destroy();
              throw new DigestMismatchError(`blob ${digest}: registry sent more than the ${size} bytes the manifest declares`);
            }
            progress(chunk.length);
            hash.update(chunk);
            batch.push(chunk);
            batchLen += chunk.length;
            written += chunk.length;
            this.onBytes(chunk.length);
            const watchers = this.watchers.get(digest);
            if (watchers) for (const w of watchers) w(written);
            if (batchLen >= WRITE_BATCH) await flush();
          }
          await flush();
          if (written < size) throw new HttpError(`blob ${digest}: connection ended after ${written} of ${size} bytes`, true);
          break;
        } catch (err) {
          // A broken first pass cannot feed the tap a whole blob any more.
          dropTap(err as Error);
          await flush().catch(() => {});
          if (signal.aborted) throw signal.reason ?? err;
          const broken = (err instanceof HttpError && err.retryable) || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ||
            (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' || (err as Error).message === 'aborted';
          if (!broken) throw err;
          if (attempt + 1 >= attempts) throw new UnavailableError(`blob ${digest}: ${(err as Error).message} (after ${attempts} attempts)`);
          await sleep(250 * 2 ** attempt, signal);
        }
      }
      const got = 'sha256:' + hash.digest('hex');
      if (got !== digest) throw new DigestMismatchError(`blob ${digest}: content does not match its digest (got ${got}); nothing stored`);
      tap?.end();
      tap = undefined;
      await fh.sync();
      await fh.close();
      closed = true;
      await rename(ingest, this.blobPath(digest));
    } catch (err) {
      dropTap(err as Error);
      if (!closed) await fh.close().catch(() => {});
      await unlink(ingest).catch(() => {});
      throw err;
    }
  }
}
