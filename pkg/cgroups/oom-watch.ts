// OOM kills of a cgroup v2 cgroup, seen as they happen. Under the systemd driver a container is a
// transient scope that systemd removes as soon as its last process is gone, often before the
// exit is processed, so its memory.events cannot be read afterwards. The kernel notifies
// changes of memory.events (inotify IN_MODIFY), so the count is read while the cgroup exists.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';

const oomKills = (text: string): number => Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);

export interface OomWatchHandle {
  stop(): void;
  /** Resolves once the reads started by notifications so far are done. */
  settled(): Promise<void>;
}

/** Calls `onKill` once when `memoryEvents` shows an OOM kill. */
export function watchOomKills(memoryEvents: string, onKill: () => void): OomWatchHandle {
  let w: FSWatcher | undefined;
  let done = false;
  let pending: Promise<void> = Promise.resolve();
  const stop = (): void => {
    done = true;
    w?.close();
    w = undefined;
  };
  const check = (): void => {
    const read = readFile(memoryEvents, 'utf8').then((text) => {
      if (done || oomKills(text) === 0) return;
      stop();
      onKill();
    }, stop); // the cgroup is gone
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

/** OOM-kill watches of running containers by id (v2 only: `eventsFile` gives undefined on v1). */
export class OomKillWatch {
  private readonly watches = new Map<string, OomWatchHandle>();
  private readonly killed = new Set<string>();

  constructor(private readonly eventsFile: (cgPath: string) => string | undefined) {}

  watch(id: string, cgPath: string | undefined): void {
    const file = cgPath ? this.eventsFile(cgPath) : undefined;
    if (!file || this.watches.has(id)) return;
    this.watches.set(id, watchOomKills(file, () => this.killed.add(id)));
  }

  /**
   * Whether an OOM kill was seen in the container's cgroup while it ran. The kill is notified
   * before the exit, so a read it started may still be on its way: wait for it.
   */
  async seen(id: string): Promise<boolean> {
    await this.watches.get(id)?.settled();
    return this.killed.has(id);
  }

  forget(id: string): void {
    this.watches.get(id)?.stop();
    this.watches.delete(id);
    this.killed.delete(id);
  }

  close(): void {
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }
}
