// Network counters of a pod's network namespace. Node cannot setns(2) its own threads, so we
// read /proc/<pid>/net/dev of some process that lives in the namespace (found by comparing
// /proc/<pid>/ns/net with the pinned namespace file). Only a pod with no process at all costs
// one short-lived `nsenter --net=… cat /proc/net/dev`, and that result is cached briefly.
import { statSync } from 'node:fs';
import { runChecked } from '../process/run.js';
import { readOpt } from './fsread.js';
import { parseNetDev } from './parse.js';
import { nowNs, type NetworkStats } from './types.js';


export interface NetnsReaderOptions {
  nsenter?: string;
  /** How long an nsenter reading is reused before a background refresh, ms. */
  helperCacheMs?: number;
  /** nsenter helpers running at once, at most. */
  helperConcurrency?: number;
}

/** The namespace a /proc ns link or pinned file names; synchronous, as procfs answers from memory (fsread.ts). */
async function nsId(file: string): Promise<string | undefined> {
  try {
    const s = statSync(file, { bigint: true, throwIfNoEntry: false });
    return s && `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

export class NetnsStatsReader {
  private readonly pidByNs = new Map<string, number>();
  private readonly helperCache = new Map<string, { at: number; value?: NetworkStats; pending?: Promise<void> }>();
  private helpersRunning = 0;
  private readonly helperWaiters: (() => void)[] = [];
  private readonly helperConcurrency: number;
  private readonly nsenter: string;
  private readonly helperCacheMs: number;
  /** How many times the nsenter fallback ran (tests and metrics). */
  helperRuns = 0;

  constructor(opts: NetnsReaderOptions = {}) {
    this.nsenter = opts.nsenter ?? 'nsenter';
    this.helperCacheMs = opts.helperCacheMs ?? 5000;
    this.helperConcurrency = opts.helperConcurrency ?? 4;
  }

  /**
   * Counters per interface (loopback excluded) of the namespace pinned at `netnsPath`, or
   * undefined when the namespace is gone. `candidates` lists PIDs that may live in it.
   */
  async read(netnsPath: string, candidates: () => Promise<number[]>): Promise<NetworkStats | undefined> {
    const id = await nsId(netnsPath);
    if (!id) return undefined;
    const known = this.pidByNs.get(netnsPath);
    if (known !== undefined) {
      const r = await this.viaPid(known, id);
      if (r) return r;
      this.pidByNs.delete(netnsPath);
    }
    const pids = await candidates().catch(() => [] as number[]);
    const ids = await Promise.all(pids.map((p) => nsId(`/proc/${p}/ns/net`)));
    for (let i = 0; i < pids.length; i++) {
      if (ids[i] !== id) continue;
      const r = await this.viaPid(pids[i]!, id);
      if (r) {
        this.pidByNs.set(netnsPath, pids[i]!);
        return r;
      }
    }
    return this.viaHelper(netnsPath);
  }

  private async viaPid(pid: number, id: string): Promise<NetworkStats | undefined> {
    const [text, now] = await Promise.all([readOpt(`/proc/${pid}/net/dev`), nsId(`/proc/${pid}/ns/net`)]);
    // Checked again after the read so a PID that exited and was reused is not trusted.
    if (text === undefined || now !== id) return undefined;
    return toNetwork(text);
  }

  /**
   * Stale-while-revalidate: a cached reading older than helperCacheMs is returned at once and
   * refreshed in the background, so only the very first read of a namespace waits for nsenter;
   * at most `helperConcurrency` helpers run at a time.
   */
  private async viaHelper(netnsPath: string): Promise<NetworkStats | undefined> {
    let e = this.helperCache.get(netnsPath);
    if (!e) {
      e = { at: 0 };
      this.helperCache.set(netnsPath, e);
    }
    if (!e.pending && Date.now() - e.at >= this.helperCacheMs) {
      const entry = e;
      entry.pending = this.runHelper(netnsPath).then((v) => {
        if (v) entry.value = v;
        entry.at = Date.now();
        entry.pending = undefined;
      });
    }
    if (e.value) return e.value;
    await e.pending;
    return e.value;
  }

  private async runHelper(netnsPath: string): Promise<NetworkStats | undefined> {
    while (this.helpersRunning >= this.helperConcurrency) await new Promise<void>((r) => this.helperWaiters.push(r));
    this.helpersRunning++;
    this.helperRuns++;
    try {
      const r = await runChecked('read pod network counters', this.nsenter, [`--net=${netnsPath}`, 'cat', '/proc/net/dev'], { timeoutMs: 5000 });
      return toNetwork(r.stdout.toString());
    } catch {
      return undefined;
    } finally {
      this.helpersRunning--;
      this.helperWaiters.shift()?.();
    }
  }

  forget(netnsPath: string): void {
    this.pidByNs.delete(netnsPath);
    this.helperCache.delete(netnsPath);
  }
}

function toNetwork(text: string): NetworkStats {
  return { timestamp: nowNs(), interfaces: parseNetDev(text).filter((i) => i.name !== 'lo') };
}
