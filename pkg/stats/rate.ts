// CPU usage rate (nano-cores) between successive samples of the same cgroup, as kubelet's
// summary API and `kubectl top` want it: Δusage_ns / Δwall_ns × 1e9.

interface Sample {
  at: bigint;
  usage: bigint;
  rate?: bigint;
  touched: number;
}

export class CpuRateTracker {
  private readonly samples = new Map<string, Sample>();

  /**
   * @param minIntervalNs samples closer than this to the last one keep the last rate (two
   *   callers a few microseconds apart would otherwise get a noisy or zero rate).
   */
  constructor(private readonly minIntervalNs = 10_000_000n) {}

  /** Records a sample; returns the rate since the previous one, or undefined for the first. */
  observe(key: string, at: bigint, usage: bigint): bigint | undefined {
    const prev = this.samples.get(key);
    const touched = Date.now();
    if (!prev || usage < prev.usage || at <= prev.at) {
      // First sample, or the cgroup was recreated (counter went back): start over.
      this.samples.set(key, { at, usage, touched });
      return undefined;
    }
    prev.touched = touched;
    if (at - prev.at < this.minIntervalNs) return prev.rate;
    const rate = ((usage - prev.usage) * 1_000_000_000n) / (at - prev.at);
    this.samples.set(key, { at, usage, rate, touched });
    return rate;
  }

  forget(key: string): void {
    this.samples.delete(key);
  }

  /** Drops samples not seen for `idleMs` (containers that went away without an event). */
  prune(idleMs: number): void {
    const cut = Date.now() - idleMs;
    for (const [k, s] of this.samples) if (s.touched < cut) this.samples.delete(k);
  }

  get size(): number {
    return this.samples.size;
  }
}
