// The terminal of a TTY exec's process, made by the runtime inside the container. runc passes a
// resize of its own terminal (ours) on to it; crun 1.8 does not, and the process would keep its
// first size. So each size is also set on the process's terminal, its stdin, once the runtime
// has written the pid: a size that comes before is set when the pid file appears (watched, in a
// directory of its own).
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { resizeTerminalOf } from './pty.js';
import type { TermSize } from './types.js';

export class ContainerTerminal {
  private pid = 0;
  private last?: TermSize;
  private readonly watcher: FSWatcher;
  private known!: (pid: number) => void;
  /** Resolves with the pid once it is read, after the size kept until then has been set. */
  readonly pidKnown = new Promise<number>((resolve) => (this.known = resolve));

  /** `pidFile` is alone in its directory (the runtime's `--pid-file`). */
  constructor(private readonly pidFile: string) {
    this.watcher = watch(path.dirname(pidFile), () => void this.lookup());
    this.watcher.on('error', () => this.watcher.close());
  }

  /** Sets `size` on the process's terminal now, or once its pid is known. */
  async resize(size: TermSize): Promise<void> {
    this.last = size;
    if (this.pid) resizeTerminalOf(this.pid, size);
    else await this.lookup();
  }

  /** Our terminal's sizes, passed on unchanged, each also set on the process's terminal. */
  async *follow(sizes: AsyncIterable<TermSize>): AsyncIterable<TermSize> {
    for await (const size of sizes) {
      yield size;
      await this.resize(size);
    }
  }

  close(): void {
    this.watcher.close();
  }

  private async lookup(): Promise<void> {
    if (this.pid) return;
    const pid = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    if (!(pid > 0) || this.pid) return;
    this.pid = pid;
    this.watcher.close();
    if (this.last) resizeTerminalOf(pid, this.last);
    this.known(pid);
  }
}
