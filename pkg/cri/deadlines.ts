// Every unary call has a deadline (berth's budget of minutes, or the client's grpc-timeout) and
// nearly every call is answered long before it. A node timer per call was a Timeout object, its
// async-hook init (the log context's AsyncLocalStorage keeps async hooks on), a timer list made
// and dropped, and an unref, on each of kubelet's ~40 status and list calls a second. Here the
// calls' deadlines share one timer, armed for the earliest: a call adds and removes a Set entry,
// and the timer is only armed again when a deadline comes before the one it waits for, or when it
// fires.
import { performance } from 'node:perf_hooks';
import { MAX_TIMER_MS } from '../container/timeouts.js';

export interface Deadline {
  /** performance.now() at which `fire` runs. */
  readonly at: number;
  readonly fire: () => void;
}

export class Deadlines {
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity: not armed). */
  private armedFor = Infinity;

  /** Runs `fire` in `ms` milliseconds unless `cancel` is called first. */
  add(ms: number, fire: () => void): Deadline {
    const d = { at: performance.now() + ms, fire };
    this.pending.add(d);
    if (d.at < this.armedFor) this.arm(d.at);
    return d;
  }

  /** The deadline will not fire (the timer, if armed for it, finds nothing due and re-arms). */
  cancel(d: Deadline | undefined): void {
    if (d) this.pending.delete(d);
  }

  /** Deadlines not yet fired or cancelled. */
  get size(): number {
    return this.pending.size;
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    // Unref'd, as a per-call timer was: a pending deadline never keeps the process alive. node
    // fires a timer of more than 2^31-1 ms at once (a client's grpc-timeout can be 99999999H):
    // such a deadline waits in steps of MAX_TIMER_MS.
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - performance.now())));
    this.timer = setTimeout(() => this.expire(), ms).unref();
  }

  private expire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // node's timers run on the loop's cached clock, which can be a little behind performance.now():
    // a deadline within a millisecond counts as due rather than arming a timer of 0 ms.
    const now = performance.now() + 1;
    const due: Deadline[] = [];
    let next = Infinity;
    for (const d of this.pending) {
      if (d.at <= now) due.push(d);
      else if (d.at < next) next = d.at;
    }
    for (const d of due) this.pending.delete(d);
    if (next < Infinity) this.arm(next);
    for (const d of due) d.fire();
  }
}
