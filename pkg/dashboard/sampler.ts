// CPU and memory of each container over the last minutes, for the dashboard's small charts. It
// samples only while someone watches (an open stats stream): the first watcher starts the
// timer, the last one stops it and the rings are dropped, so an unwatched daemon keeps nothing.
// One sample = one ListContainerStats-like pass over the cgroups (pkg/stats), never a process.
import type { Series, Tick } from './web/views.js';

export interface RawSample {
  id: string;
  /** Cumulative CPU time, ns; undefined when the cgroup could not be read. */
  cpuNs?: bigint;
  /** Working set, bytes. */
  memBytes?: bigint;
}

class Ring {
  private readonly t: Float64Array;
  private readonly cpu: Float64Array;
  private readonly mem: Float64Array;
  private next = 0;
  private count = 0;

  constructor(private readonly size: number) {
    this.t = new Float64Array(size);
    this.cpu = new Float64Array(size);
    this.mem = new Float64Array(size);
  }

  push(t: number, cpu: number, mem: number): void {
    this.t[this.next] = t;
    this.cpu[this.next] = cpu;
    this.mem[this.next] = mem;
    this.next = (this.next + 1) % this.size;
    this.count = Math.min(this.count + 1, this.size);
  }

  series(): Series {
    const out: Series = { t: [], cpu: [], mem: [] };
    for (let i = 0; i < this.count; i++) {
      const k = (this.next - this.count + i + this.size) % this.size;
      out.t.push(this.t[k]!);
      out.cpu.push(this.cpu[k]!);
      out.mem.push(this.mem[k]!);
    }
    return out;
  }
}

export interface SamplerOptions {
  intervalMs?: number;
  /** Samples kept per container. */
  keep?: number;
  now?: () => number;
}

export class StatsSampler {
  private readonly rings = new Map<string, Ring>();
  private readonly last = new Map<string, { t: number; cpuNs: bigint }>();
  private readonly watchers = new Set<(t: Tick) => void>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  readonly intervalMs: number;
  private readonly keep: number;
  private readonly now: () => number;

  constructor(private readonly read: () => Promise<RawSample[]>, opts: SamplerOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 2000;
    this.keep = opts.keep ?? 150;
    this.now = opts.now ?? Date.now;
  }

  get watching(): number {
    return this.watchers.size;
  }

  /** Whether the timer runs (someone watches). */
  get sampling(): boolean {
    return this.timer !== undefined;
  }

  /** Starts sampling (if not yet) and calls `onTick` after each sample; returns the unwatch. */
  watch(onTick: (t: Tick) => void): () => void {
    this.watchers.add(onTick);
    if (!this.timer) {
      this.timer = setInterval(() => void this.sample(), this.intervalMs);
      this.timer.unref();
      void this.sample();
    }
    return () => {
      this.watchers.delete(onTick);
      if (this.watchers.size === 0) this.stop();
    };
  }

  history(): Record<string, Series> {
    const out: Record<string, Series> = {};
    for (const [id, r] of this.rings) out[id] = r.series();
    return out;
  }

  /** Takes one sample now (the timer calls this; tests call it directly). */
  async sample(): Promise<Tick | undefined> {
    if (this.busy) return undefined; // the previous pass is still reading: skip, never pile up
    this.busy = true;
    try {
      const raw = await this.read();
      const t = this.now();
      const tick: Tick = { t, values: {} };
      const seen = new Set<string>();
      for (const s of raw) {
        if (s.cpuNs === undefined && s.memBytes === undefined) continue;
        seen.add(s.id);
        const prev = this.last.get(s.id);
        let cores = 0;
        if (s.cpuNs !== undefined) {
          if (prev && s.cpuNs >= prev.cpuNs && t > prev.t) cores = Number(s.cpuNs - prev.cpuNs) / 1e6 / (t - prev.t);
          this.last.set(s.id, { t, cpuNs: s.cpuNs });
        }
        // The first sample of a container has no rate yet: it only sets the baseline.
        if (!prev && s.cpuNs !== undefined) continue;
        const mem = Number(s.memBytes ?? 0n);
        let ring = this.rings.get(s.id);
        if (!ring) this.rings.set(s.id, (ring = new Ring(this.keep)));
        ring.push(t, cores, mem);
        tick.values[s.id] = [cores, mem];
      }
      for (const id of [...this.rings.keys()]) if (!seen.has(id)) this.rings.delete(id);
      for (const id of [...this.last.keys()]) if (!seen.has(id)) this.last.delete(id);
      if (this.timer) for (const w of this.watchers) w(tick);
      return tick;
    } finally {
      this.busy = false;
    }
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.rings.clear();
    this.last.clear();
  }
}
