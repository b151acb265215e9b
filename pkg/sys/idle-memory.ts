// Gives memory back once the daemon is quiet: a compacting V8 collection when its heap grew, and
// malloc_trim when the RSS grew. After a burst of work V8 keeps the old-generation pages it grew
// into, half empty (measured after 200 pod lifecycles: 17 MiB committed for 10 MiB live, and its
// own full GC compacts only pages that are nearly empty); glibc keeps freed chunks in the middle of
// its arenas. Neither gives them back by itself at idle, so a daemon's RSS climbed with work done.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { trimNow } from './malloc-trim.js';

const MiB = 1 << 20;

export interface IdleSample {
  /** Event-loop utilisation over the last check interval (0–1). */
  utilization: number;
  /** RSS now and after the last trim, bytes. */
  rss: number;
  rssAfterLastTrim: number;
  /** V8's committed heap now and after the last compaction (0: none yet), bytes. */
  heap: number;
  heapAfterLastCompact: number;
  /** Milliseconds since the last compaction (Infinity: none yet). */
  sinceLastCompactMs: number;
  /** Milliseconds a small heap growth waits after the last compaction (see nextCompactInterval). */
  compactIntervalMs: number;
}

export interface IdlePolicy {
  /** Utilisation at or above which the daemon counts as busy and nothing is done. */
  busyAbove: number;
  /** Heap growth that earns a compaction, and RSS growth that earns a trim, bytes. */
  heapGrowth: number;
  rssGrowth: number;
  /** Compactions stop the loop for 20–90 ms here: at most one per this many milliseconds. */
  minCompactIntervalMs: number;
  /**
   * Growth that is a burst of work (pulls, pod lifecycles): compacted after the minimum interval
   * whatever the back-off. Smaller growth, the steady regrowth under kubelet's polling, waits
   * for the backed-off interval, which doubles up to the maximum while compactions give back
   * less than this and falls to the minimum when one gives back more.
   */
  burstGrowth: number;
  maxCompactIntervalMs: number;
}

export const DEFAULT_POLICY: IdlePolicy = {
  busyAbove: 0.1,
  heapGrowth: 2 * MiB,
  rssGrowth: MiB,
  minCompactIntervalMs: 30_000,
  burstGrowth: 8 * MiB,
  maxCompactIntervalMs: 480_000,
};

export type IdleWork = 'compact' | 'trim' | 'none';

/**
 * What a quiet daemon should do now: compact (a compacting GC; a trim follows) when V8's heap grew
 * since the last compaction — or there has been none, which takes start-up's garbage — a trim
 * alone when only the RSS grew, nothing when busy or flat (a steady polling load).
 */
export function idleWork(s: IdleSample, p: IdlePolicy = DEFAULT_POLICY): IdleWork {
  if (s.utilization >= p.busyAbove) return 'none';
  const growth = s.heap - s.heapAfterLastCompact;
  const wait = growth >= p.burstGrowth ? p.minCompactIntervalMs : Math.max(s.compactIntervalMs, p.minCompactIntervalMs);
  if (s.sinceLastCompactMs >= wait && growth >= p.heapGrowth) return 'compact';
  return s.rss - s.rssAfterLastTrim >= p.rssGrowth ? 'trim' : 'none';
}

/**
 * The interval a small growth waits after a compaction that gave back `reclaimed` bytes: under
 * polling the heap regrows a few MiB after each compaction and V8 keeps it there, so compacting
 * it every 30 s cost 0.5–1 % of a core for 2 MiB; each such compaction doubles the wait.
 */
export function nextCompactInterval(intervalMs: number, reclaimed: number, p: IdlePolicy = DEFAULT_POLICY): number {
  if (reclaimed >= p.burstGrowth) return p.minCompactIntervalMs;
  return Math.min(Math.max(intervalMs, p.minCompactIntervalMs) * 2, p.maxCompactIntervalMs);
}

let gc: (() => void) | undefined;

/**
 * A full GC that compacts every page (V8's own full GCs move objects off a page only when it is
 * nearly empty), so the pages it empties go back to the system. Node 20's gc() cannot ask for
 * V8's memory-reducing collection, so compaction is switched on for this one call.
 */
export function compactHeap(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

export interface IdleReport {
  work: Exclude<IdleWork, 'none'>;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  ms: number;
}

/**
 * Checks every `intervalMs` (an unref'd timer: it never keeps the process alive) and does what
 * `idleWork` says. A short interval lets the work follow soon after a burst ends; a check costs a
 * few microseconds. Returns the stop function.
 */
export function startIdleMemory(onWork?: (r: IdleReport) => void, intervalMs = 2000, policy = DEFAULT_POLICY): () => void {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  let rssAfterLastTrim = process.memoryUsage.rss();
  let heapAfterLastCompact = 0;
  let lastCompactAt = -Infinity;
  let compactIntervalMs = policy.minCompactIntervalMs;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    const rss = process.memoryUsage.rss();
    const heap = getHeapStatistics().total_heap_size;
    const t0 = performance.now();
    const work = idleWork({ utilization, rss, rssAfterLastTrim, heap, heapAfterLastCompact, sinceLastCompactMs: t0 - lastCompactAt, compactIntervalMs }, policy);
    // A shrink (V8 or malloc released pages by themselves) lowers the marks, so later growth counts from there.
    rssAfterLastTrim = Math.min(rssAfterLastTrim, rss);
    if (heapAfterLastCompact) heapAfterLastCompact = Math.min(heapAfterLastCompact, heap);
    if (work !== 'none') {
      // The trim after a compaction waits for the next quiet check: V8's sweeper threads are
      // still freeing (measured: RSS 6 MiB higher right after the GC than 2 s later).
      if (work === 'compact') compactHeap();
      else trimNow();
      const rssAfter = process.memoryUsage.rss();
      const heapAfter = getHeapStatistics().total_heap_size;
      if (work === 'compact') {
        // The first compaction takes start-up's garbage: it says nothing about the load.
        if (heapAfterLastCompact) compactIntervalMs = nextCompactInterval(compactIntervalMs, heap - heapAfter, policy);
        [heapAfterLastCompact, lastCompactAt, rssAfterLastTrim] = [heapAfter, performance.now(), 0];
      }
      else rssAfterLastTrim = rssAfter;
      onWork?.({ work, rssBefore: rss, rssAfter, heapBefore: heap, heapAfter, ms: performance.now() - t0 });
    }
    // The interval's utilisation starts after this check's own work.
    last = performance.eventLoopUtilization();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
