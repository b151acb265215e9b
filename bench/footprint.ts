// The arithmetic of the compare bench's memory per running pod, apart from the I/O that samples
// it, so that it is unit tested.

/** Memory of a runtime's daemon plus its helpers at one instant, KiB. */
export interface Footprint {
  rss: number;
  pss: number;
}

/**
 * The footprint a quiet runtime settles at: each figure's lowest over samples taken across a
 * window. berth's idle work (pkg/sys/idle-memory.ts) compacts V8's heap and trims malloc's
 * arenas once the daemon is quiet, at most once per its minimum interval; a single reading
 * before the pods could hold the last stage's garbage and one after them not (a compaction
 * landed in between), so the daemon's growth read low, even negative (−0.14 MiB per pod in one
 * run). Taken at the lowest of a window longer than that interval, both readings are after the
 * idle work, whenever it lands. Go's scavenger gives containerd the same chance.
 */
export function settledFootprint(samples: readonly Footprint[]): Footprint {
  if (!samples.length) throw new Error('settledFootprint: no samples');
  return { rss: Math.min(...samples.map((s) => s.rss)), pss: Math.min(...samples.map((s) => s.pss)) };
}

/** MiB per pod (2 decimals) of the growth from `before` to `held`, with `pods` pods running. */
export function perPodMiB(before: Footprint, held: Footprint, pods: number): Footprint {
  const per = (kib: number) => Math.round((kib / 1024 / pods) * 100) / 100;
  return { rss: per(held.rss - before.rss), pss: per(held.pss - before.pss) };
}
