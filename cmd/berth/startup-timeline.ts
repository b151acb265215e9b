import { performance } from 'node:perf_hooks';

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * The daemon's start-up in phases, for the "berth ready" log line: how long node and the code
 * took before runDaemon (`load_ms`, from the process's start) and each step after it, so a slow
 * start shows where its time went without a profiler.
 */
export class StartupTimeline {
  private readonly begin = performance.now();
  private last = this.begin;
  private readonly phases: Record<string, number> = {};

  /** Ends the phase `name` (it began where the previous one ended); returns its ms. */
  mark(name: string): number {
    const now = performance.now();
    const ms = round(now - this.last);
    this.phases[name] = ms;
    this.last = now;
    return ms;
  }

  /**
   * `load_ms`: process start to runDaemon; `startup_ms`: runDaemon to now; `cpu_ms`: the CPU the
   * process used so far (a busy host stretches the wall figures, much less this one); `phases`.
   */
  summary(): { load_ms: number; startup_ms: number; cpu_ms: number; phases: Record<string, number> } {
    const cpu = process.cpuUsage();
    return {
      load_ms: round(this.begin),
      startup_ms: round(performance.now() - this.begin),
      cpu_ms: round((cpu.user + cpu.system) / 1000),
      phases: { ...this.phases },
    };
  }
}
