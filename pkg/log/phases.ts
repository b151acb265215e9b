// Where the time of one long call went: milliseconds since its start at each named step, for
// the call's debug line (a timeline that shares the request id of the call's other lines).

export class Phases {
  private readonly t0 = process.hrtime.bigint();
  /** Step name → ms since the start when it ended. */
  readonly ms: Record<string, number> = {};

  mark(step: string): void {
    this.ms[step] = Math.round(Number(process.hrtime.bigint() - this.t0) / 1e4) / 100;
  }
}
