// Directories deleted off the caller's path: each is moved into a trash directory (one rename,
// so its name is free at once and nothing of it is left at the old path) and removed from there
// in the background. What a crash leaves in the trash goes when it is reset at the next start.
import { renameSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors/errors.js';
import type { Logger } from '../log/log.js';

/**
 * Deletions wait until discards pause this long, so a burst of removes is deleted as one batch
 * after it rather than between its calls (each deletion started at once landed on the next
 * CreateContainer's thread pool and journal: Create 8-9 -> 11-12 ms here), and never longer
 * than MAX_WAIT_MS after the first discard of a batch, so a steady stream of removes is still deleted.
 */
const QUIET_MS = 500;
const MAX_WAIT_MS = 3000;

/** How long a batch begun at `batchStartedAt` waits, after a discard at `now`, before its deletion. */
export function flushDelay(now: number, batchStartedAt: number, quietMs: number, maxWaitMs: number): number {
  return Math.max(0, Math.min(quietMs, batchStartedAt + maxWaitMs - now));
}

export class Trash {
  private readonly deleting = new Set<Promise<void>>();
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private batchStartedAt = 0;

  /** `dir` must be on the filesystem of what is discarded into it (else discard removes in place). */
  constructor(readonly dir: string, private readonly log: Logger, private readonly quietMs = QUIET_MS, private readonly maxWaitMs = MAX_WAIT_MS) {}

  /** Empties the trash (what an earlier run left) and makes it. */
  async reset(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Moves `dir` (a directory or a file) into the trash and deletes it in the background. A
   * directory that is not there is fine; one that cannot be moved (another filesystem, no trash yet) is removed here.
   */
  async discard(dir: string): Promise<void> {
    const to = path.join(this.dir, `${path.basename(dir)}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
    try {
      // Synchronous: a rename takes microseconds, less than a trip through the busy thread pool.
      renameSync(dir, to);
    } catch {
      await rm(dir, { recursive: true, force: true });
      return;
    }
    this.pending.push(to);
    this.schedule();
  }

  private schedule(): void {
    const now = Date.now();
    if (this.timer) clearTimeout(this.timer);
    else this.batchStartedAt = now;
    const wait = flushDelay(now, this.batchStartedAt, this.quietMs, this.maxWaitMs);
    // Unref'd: what an exiting daemon leaves in the trash goes at the next start.
    this.timer = setTimeout(() => this.flush(), wait).unref();
  }

  /** Deletes the pending batch, one tree after another (one pool thread, not all four). */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    const p: Promise<void> = (async () => {
      for (const to of batch) {
        await rm(to, { recursive: true, force: true })
          .catch((e: unknown) => this.log.warn({ dir: to, err: errorMessage(e) }, 'removing a discarded directory failed; it goes at the next start'));
      }
    })().finally(() => this.deleting.delete(p));
    this.deleting.add(p);
  }

  /** Deletes what is pending now and waits for every background deletion (tests, shutdown). */
  async idle(): Promise<void> {
    this.flush();
    while (this.deleting.size) await Promise.allSettled([...this.deleting]);
  }
}
