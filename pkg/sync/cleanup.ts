// The undo list of a create path (CRI-O's ResourceCleaner): each step that made something
// pushes how to take it away, under a name; on failure they run last first, every one of
// them even when one fails, and the names of those that failed are reported.
import { errorMessage } from '../errors/errors.js';

export interface CleanupFailure {
  step: string;
  error: string;
}

export class CleanupStack {
  private steps: { name: string; fn: () => Promise<unknown> }[] = [];

  /** Registers how to undo the step `name` (call right after the step made something). */
  add(name: string, fn: () => Promise<unknown>): void {
    this.steps.push({ name, fn });
  }

  /** The registered steps, oldest first (tests, logs). */
  get names(): string[] {
    return this.steps.map((s) => s.name);
  }

  /** Runs every undo step, last first; returns the ones that failed. The stack is empty after. */
  async unwind(): Promise<CleanupFailure[]> {
    const steps = this.steps.reverse();
    this.steps = [];
    return runEveryStep(steps);
  }

  /** The create succeeded: nothing is to be undone. */
  release(): void {
    this.steps = [];
  }
}

/** Runs the steps in order, each one even when an earlier one failed; returns those that failed. */
export async function runEveryStep(steps: readonly { name: string; fn: () => Promise<unknown> }[]): Promise<CleanupFailure[]> {
  const failed: CleanupFailure[] = [];
  for (const s of steps) {
    try {
      await s.fn();
    } catch (err) {
      failed.push({ step: s.name, error: errorMessage(err) });
    }
  }
  return failed;
}

/** "rootfs: EBUSY; runtime: exit status 1" */
export function describeFailures(failed: CleanupFailure[]): string {
  return failed.map((f) => `${f.step}: ${f.error}`).join('; ');
}

/**
 * Promise.all for steps that make things: waits for every step to settle before it throws the
 * first failure, so an undo never runs while a sibling step is still making what it undoes.
 */
export async function settleAll<T extends readonly unknown[]>(steps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
