// In-process failpoints for the fakes of the runtime driver and the CNI manager: a named step
// fails (once or several times) or hangs until the test releases it.

interface Plan {
  kind: 'fail' | 'hang';
  times: number;
  message: string;
  gate?: Promise<void>;
  reached: () => void;
}

export interface Hang {
  /** Resolves when a call reached the step (and is now held there). */
  reached: Promise<void>;
  /** Lets the held calls go on. */
  release(): void;
}

export class Faults {
  private readonly plans = new Map<string, Plan>();
  /** Steps as they were hit, in order (`create`, `ADD`, …). */
  readonly hits: string[] = [];

  /** The next `times` calls of `step` throw an Error with `message`. */
  fail(step: string, times = 1, message = `failpoint: ${step} failed`): void {
    this.plans.set(step, { kind: 'fail', times, message, reached: () => undefined });
  }

  /** Calls of `step` wait (before doing anything) until release(). */
  hang(step: string): Hang {
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen = new Promise<void>((r) => (reached = r));
    this.plans.set(step, { kind: 'hang', times: Infinity, message: '', gate, reached });
    return {
      reached: seen,
      release: () => {
        this.plans.delete(step);
        release();
      },
    };
  }

  clear(): void {
    this.plans.clear();
  }

  /** Called by a fake at the start of `step`: throws or waits as planned. */
  async hit(step: string): Promise<void> {
    this.hits.push(step);
    const p = this.plans.get(step);
    if (!p) return;
    if (p.kind === 'hang') {
      p.reached();
      await p.gate;
      return;
    }
    if (--p.times <= 0) this.plans.delete(step);
    throw new Error(p.message);
  }
}
