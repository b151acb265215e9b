// OOM kills of a cgroup v2 cgroup, seen as they happen. Under the systemd driver a container is a
// transient scope that systemd removes as soon as its last process is gone, often before the
// exit is processed, so its memory.events cannot be read afterwards. The kernel notifies
// changes of memory.events (inotify IN_MODIFY), so the count is read while the cgroup exists;
// what that read misses is found in the pod's cgroup, whose count includes its containers'
// (oom-ledger.ts).
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OomLedger } from './oom-ledger.js';

const oomKills = (text: string): number => Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);

/** The oom_kill count of a memory.events file; undefined when it cannot be read (the cgroup is gone). */
const readKills = (file: string): Promise<number | undefined> => readFile(file, 'utf8').then(oomKills, () => undefined);

export interface OomWatchHandle {
  stop(): void;
  /** Resolves once the reads started by notifications so far are done. */
  settled(): Promise<void>;
}

/** Calls `onKills(total)` each time `memoryEvents` shows more OOM kills than before. */
export function watchOomKills(memoryEvents: string, onKills: (total: number) => void): OomWatchHandle {
  let w: FSWatcher | undefined;
  let done = false;
  let last = 0;
  let pending: Promise<void> = Promise.resolve();
  const stop = (): void => {
    done = true;
    w?.close();
    w = undefined;
  };
  const check = (): void => {
    const read = readKills(memoryEvents).then((kills) => {
      if (kills === undefined) return stop(); // the cgroup is gone
      if (done || kills <= last) return;
      last = kills;
      onKills(kills);
    });
    pending = Promise.all([pending, read]).then(() => undefined);
  };
  try {
    w = watch(memoryEvents, { persistent: false }, check);
    w.on('error', stop);
  } catch {
    return { stop, settled: () => pending }; // no such cgroup (any more)
  }
  check(); // a kill before the watch began
  return { stop, settled: () => pending };
}

interface Watch {
  handle: OomWatchHandle;
  /** The container's memory.events, and its parent cgroup's directory (the pod's). */
  file: string;
  parent: string;
  /** Kills counted in the container's own cgroup so far. */
  kills: number;
}

/** OOM-kill watches of running containers by id (v2 only: `eventsFile` gives undefined on v1). */
export class OomKillWatch {
  private readonly watches = new Map<string, Watch>();
  private readonly ledger = new OomLedger();

  constructor(private readonly eventsFile: (cgPath: string) => string | undefined) {}

  /** Watches container `id`; resolves once the pod's count is known, so start it before the process. */
  async watch(id: string, cgPath: string | undefined): Promise<void> {
    const file = cgPath ? this.eventsFile(cgPath) : undefined;
    if (!file || this.watches.has(id)) return;
    const parent = path.dirname(path.dirname(file));
    const w: Watch = { file, parent, kills: 0, handle: { stop: () => undefined, settled: () => Promise.resolve() } };
    this.watches.set(id, w);
    const parentKills = await readKills(path.join(parent, 'memory.events'));
    if (this.watches.get(id) !== w) return; // forgotten meanwhile
    if (parentKills !== undefined) this.ledger.begin(id, parent, parentKills);
    w.handle = watchOomKills(file, (total) => this.counted(w, total));
  }

  /** The container's own cgroup shows `total` kills: the new ones are explained for its pod. */
  private counted(w: Watch, total: number): void {
    if (total <= w.kills) return;
    this.ledger.explain(w.parent, total - w.kills);
    w.kills = total;
  }

  /**
   * Whether container `id` was OOM-killed while it ran. The kill is notified before the exit, so
   * a read it started may still be on its way: wait for it. Then the cgroup's own count, while it
   * exists; when it is gone and the process died of SIGKILL (`sigkill`), a kill its pod counted
   * that no sibling accounts for.
   */
  async seen(id: string, sigkill: boolean): Promise<boolean> {
    const w = this.watches.get(id);
    if (!w) return false;
    await w.handle.settled();
    if (w.kills > 0) return true;
    const own = await readKills(w.file);
    if (own !== undefined) {
      this.counted(w, own);
      return own > 0;
    }
    if (!sigkill) return false;
    const parentKills = await readKills(path.join(w.parent, 'memory.events'));
    return parentKills !== undefined && this.ledger.claim(id, parentKills);
  }

  forget(id: string): void {
    this.watches.get(id)?.handle.stop();
    this.watches.delete(id);
    this.ledger.end(id);
  }

  close(): void {
    for (const w of this.watches.values()) w.handle.stop();
    this.watches.clear();
  }
}
