// Learns of container exits from conmon's exit files through inotify (fs.watch on the exit
// directory): no polling, no per-container watcher. conmon writes `<exit-dir>/<id>` holding the
// exit code once it has reaped the container.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

export class ExitWatcher {
  private watcher?: FSWatcher;
  /** Exits reported, with the promise of their handling (so a caller can wait until it is recorded). */
  private readonly seen = new Map<string, Promise<void>>();

  constructor(readonly dir: string, private readonly onExit: (id: string, code: number) => void | Promise<void>) {}

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.watcher = watch(this.dir, (_event, name) => {
      if (name) void this.check(name.toString());
    });
    // Exits that happened while no one was watching (daemon down or starting).
    for (const name of await readdir(this.dir)) await this.check(name);
  }

  /**
   * Reads `<dir>/<id>` if present and reports it once. Returns the code once the report has been
   * handled, or undefined when there is no exit file yet.
   */
  async check(id: string): Promise<number | undefined> {
    if (id.startsWith('.')) return undefined;
    const text = await readFile(path.join(this.dir, id), 'utf8').catch(() => undefined);
    if (text === undefined || text.trim() === '') return undefined; // not there, or not yet written
    const code = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(code)) return undefined;
    let handled = this.seen.get(id);
    if (!handled) {
      handled = Promise.resolve(this.onExit(id, code)).catch(() => undefined);
      this.seen.set(id, handled);
    }
    await handled;
    return code;
  }

  /** Forget an id (its exit file is removed with the container). */
  forget(id: string): void {
    this.seen.delete(id);
  }

  close(): void {
    this.watcher?.close();
  }
}
