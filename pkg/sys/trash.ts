// Directories deleted off the caller's path: each is moved into a trash directory (one rename,
// so its name is free at once and nothing of it is left at the old path) and removed from there
// in the background. What a crash leaves in the trash goes when it is reset at the next start.
import { renameSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors/errors.js';
import type { Logger } from '../log/log.js';

export class Trash {
  private readonly deleting = new Set<Promise<void>>();

  /** `dir` must be on the filesystem of what is discarded into it (else discard removes in place). */
  constructor(readonly dir: string, private readonly log: Logger) {}

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
    // Started after the caller's synchronous work (a RemoveContainer's commit): the unlinks would
    // otherwise join the journal transaction its fsync waits for, and the thread pool's queue.
    const p: Promise<void> = new Promise((r) => setImmediate(r)).then(() => rm(to, { recursive: true, force: true }))
      .catch((e: unknown) => this.log.warn({ dir: to, err: errorMessage(e) }, 'removing a discarded directory failed; it goes at the next start'))
      .finally(() => this.deleting.delete(p));
    this.deleting.add(p);
  }

  /** Waits for the background deletions (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.deleting.size) await Promise.allSettled([...this.deleting]);
  }
}
