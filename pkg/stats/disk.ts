// Disk usage of container writable layers. A walk of a directory tree is slow and I/O heavy,
// so stats calls only ever read a cache; walks run in the background, at most `concurrency` at
// once. A layer is walked again once its value is older than 100× its last walk's duration,
// clamped to [refreshMs, maxRefreshMs]: a small layer stays fresh within a second, a huge one
// costs at most 1% of a walker's time.
import { lstat, opendir } from 'node:fs/promises';
import path from 'node:path';
import { nowNs, type DiskUsage } from './types.js';

/** Bytes (allocated blocks, like du) and inodes under `dir`; hard links counted once. */
export async function diskUsage(dir: string, signal?: AbortSignal): Promise<DiskUsage> {
  const seen = new Set<bigint>();
  let bytes = 0n;
  const count = (st: { ino: bigint; blocks: bigint }) => {
    if (seen.has(st.ino)) return;
    seen.add(st.ino);
    bytes += st.blocks * 512n;
  };
  count(await lstat(dir, { bigint: true }));
  const stack = [dir];
  while (stack.length) {
    if (signal?.aborted) throw new Error(`disk usage walk of ${dir} aborted`);
    const d = stack.pop()!;
    let handle;
    try {
      handle = await opendir(d, { bufferSize: 128 });
    } catch {
      continue; // removed under us, or not a directory any more
    }
    const names: string[] = [];
    for await (const e of handle) {
      names.push(e.name);
      if (e.isDirectory()) stack.push(path.join(d, e.name));
    }
    // A batch of lstats in parallel per directory keeps the walk quick without flooding the pool.
    for (let i = 0; i < names.length; i += 32) {
      const sts = await Promise.all(names.slice(i, i + 32).map((n) => lstat(path.join(d, n), { bigint: true }).catch(() => undefined)));
      for (const st of sts) if (st) count(st);
    }
  }
  return { timestamp: nowNs(), bytes, inodes: BigInt(seen.size) };
}

interface Entry {
  value?: DiskUsage;
  startedAt: number;
  walkMs: number;
  running?: Promise<void>;
}

export class DiskUsageCache {
  private readonly entries = new Map<string, Entry>();
  /** Walks waiting for a free slot, first come first served. */
  private readonly queue: (() => void)[] = [];
  private active = 0;
  /** Most walks ever running at once (bounded by `concurrency`). */
  peak = 0;
  private readonly abort = new AbortController();

  constructor(private readonly opts: { refreshMs: number; maxRefreshMs?: number; concurrency: number }) {}

  private stale(e: Entry): boolean {
    const interval = Math.min(this.opts.maxRefreshMs ?? 30_000, Math.max(this.opts.refreshMs, e.walkMs * 100));
    return Date.now() - e.startedAt >= interval;
  }

  /** The last known usage of `dir` (undefined before the first walk ends); schedules a refresh when stale. */
  get(dir: string): DiskUsage | undefined {
    let e = this.entries.get(dir);
    if (!e) this.entries.set(dir, (e = { startedAt: 0, walkMs: 0 }));
    if (!e.running && this.stale(e)) this.schedule(dir, e);
    return e.value;
  }

  /** Walks now (still within the concurrency bound) and resolves with the fresh value. */
  async refresh(dir: string): Promise<DiskUsage | undefined> {
    let e = this.entries.get(dir);
    if (!e) this.entries.set(dir, (e = { startedAt: 0, walkMs: 0 }));
    if (!e.running) this.schedule(dir, e);
    await e.running;
    return this.entries.get(dir)?.value;
  }

  private schedule(dir: string, e: Entry): void {
    e.startedAt = Date.now();
    e.running = new Promise<void>((resolve) => {
      const run = async () => {
        this.active++;
        this.peak = Math.max(this.peak, this.active);
        const t0 = Date.now();
        try {
          e.value = await diskUsage(dir, this.abort.signal);
          e.walkMs = Date.now() - t0;
        } catch {
          // A vanished layer keeps its last value until forget().
        } finally {
          this.active--;
          e.running = undefined;
          resolve();
          this.queue.shift()?.();
        }
      };
      if (this.active < this.opts.concurrency) void run();
      else this.queue.push(() => void run());
    });
  }

  forget(dir: string): void {
    this.entries.delete(dir);
  }

  close(): void {
    this.abort.abort();
  }
}
