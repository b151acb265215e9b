/**
 * Work that no call needs at once but some call needs eventually (probing the runtime binaries):
 * it starts at its first use or at `delayMs` after `schedule()`, whichever comes first, and runs
 * once. A caller that comes before it started starts it and waits for it; never an error for being early.
 */
export class DeferredStart<T> {
  private running: Promise<T> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly work: () => Promise<T>) {}

  /** The work's result, starting it now if it has not started. */
  get(): Promise<T> {
    this.cancel();
    return (this.running ??= this.work());
  }

  /**
   * Starts the work `delayMs` from now unless something asks for it first. A failure of that start
   * goes to `onError` (never an unhandled rejection); a later get() sees it too.
   */
  schedule(delayMs: number, onError: (err: unknown) => void = () => undefined): void {
    if (this.running || this.timer) return;
    this.timer = setTimeout(() => void this.get().catch(onError), delayMs).unref();
  }

  /** Drops a pending scheduled start (at shutdown); work already running goes on. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
