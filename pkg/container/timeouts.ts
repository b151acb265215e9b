// Timeouts a caller gives in seconds (int64 on the wire) as values Node's timers can hold:
// setTimeout fires at once for anything above 2^31-1 ms, so a huge timeout would act as none.

/** The longest timer Node keeps: 2^31-1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whole seconds in [0, MAX_TIMER_MS/1000]: negative, missing or malformed is 0. */
export function clampTimeoutSeconds(v: string | number | bigint | null | undefined): number {
  let n: number;
  try {
    n = typeof v === 'bigint' ? Number(v) : Number(v ?? 0);
  } catch {
    return 0;
  }
  if (!Number.isFinite(n) || n <= 0) return n === Infinity ? Math.floor(MAX_TIMER_MS / 1000) : 0;
  return Math.min(Math.floor(n), Math.floor(MAX_TIMER_MS / 1000));
}
