// The download slots of one pull (image.max_concurrent_downloads). A layer holds a slot only
// while its body streams from the registry: not while it waits for its connection's turn, for
// another pull's download of the same blob, for its fsync or for the end of its unpack. Counting
// whole layers (download + unpack) left the last layers of an image waiting for the unpacks of
// the first ones and running alone at the end, on one core.
import type { BlobOpener } from './content.js';

export class DownloadSlots {
  private free: number;
  private readonly queue: (() => void)[] = [];

  constructor(limit: number) {
    this.free = Math.max(1, Math.floor(limit));
  }

  /** Waits for a slot (first come, first served); resolves with the function that gives it back. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const next = this.queue.shift();
        if (next) next();
        else this.free++;
      };
      if (this.free > 0) {
        this.free--;
        return resolve(release);
      }
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = () => {
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(grant);
    });
  }

  /** Slots not held (tests). */
  get available(): number {
    return this.free;
  }

  /** `open`, holding a slot from the request until its response body is closed. */
  gate(open: BlobOpener): BlobOpener {
    return async (offset, signal) => {
      const release = await this.acquire(signal);
      try {
        const r = await open(offset, signal);
        if (r.stream.closed || r.stream.destroyed) release();
        else r.stream.once('close', release);
        return r;
      } catch (err) {
        release();
        throw err;
      }
    };
  }
}
