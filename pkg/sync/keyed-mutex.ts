/**
 * Per-key read/write lock (a sandbox or container id); different keys run in parallel.
 * `run` is exclusive, `runShared` lets other shared holders in at the same time. Waiters are
 * served in call order, so an exclusive waiter is not starved: shared calls that arrive after
 * it wait until it is done (a StopPodSandbox is not held off by a stream of CreateContainers).
 */
export class KeyedMutex {
  private readonly keys = new Map<string, KeyState>();

  /** Runs `fn` holding the key alone. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.hold(key, false, fn);
  }

  /** Runs `fn` holding the key together with other shared holders. */
  runShared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.hold(key, true, fn);
  }

  /** Whether anyone holds or waits for `key` (tests, diagnostics). */
  busy(key: string): boolean {
    return this.keys.has(key);
  }

  private async hold<T>(key: string, shared: boolean, fn: () => Promise<T>): Promise<T> {
    let st = this.keys.get(key);
    if (!st) {
      st = { readers: 0, writer: false, queue: [] };
      this.keys.set(key, st);
    }
    const s = st;
    if (s.queue.length || (shared ? s.writer : s.writer || s.readers > 0)) {
      await new Promise<void>((wake) => s.queue.push({ shared, wake }));
    } else if (shared) s.readers++;
    else s.writer = true;
    try {
      return await fn();
    } finally {
      if (shared) s.readers--;
      else s.writer = false;
      this.admit(key, s);
    }
  }

  /** Lets in the next exclusive waiter, or every shared waiter at the head of the queue. */
  private admit(key: string, s: KeyState): void {
    while (s.queue.length && !s.writer) {
      const next = s.queue[0]!;
      if (!next.shared && s.readers > 0) break;
      s.queue.shift();
      if (next.shared) s.readers++;
      else s.writer = true;
      next.wake();
    }
    if (!s.writer && s.readers === 0 && !s.queue.length) this.keys.delete(key);
  }
}

interface KeyState {
  readers: number;
  writer: boolean;
  queue: { shared: boolean; wake: () => void }[];
}
