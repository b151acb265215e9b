import { fileURLToPath } from 'node:url';

/** Latency summary in milliseconds. */
export interface Summary {
  n: number;
  median_ms: number;
  p95_ms: number;
  p99_ms: number;
  min_ms: number;
  max_ms: number;
}

export function summarize(samplesMs: number[]): Summary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { n: s.length, median_ms: r(at(0.5)), p95_ms: r(at(0.95)), p99_ms: r(at(0.99)), min_ms: r(s[0] ?? NaN), max_ms: r(s[s.length - 1] ?? NaN) };
}

/** Times `fn` once, in milliseconds. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * A bench module's entry point when node runs it as the script: calls `main` with the command
 * line's arguments, prints `{ [key]: result }` as JSON, and exits 1 on an error or when
 * `failed(result)` says the run found a fault.
 */
export function runAsMain<T>(moduleUrl: string, key: string, main: (args: string[]) => Promise<T>, failed?: (r: T) => boolean): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  main(process.argv.slice(2)).then(
    (r) => {
      console.log(JSON.stringify({ [key]: r }, null, 2));
      // A long run with a verdict ends now, whatever handles its failure left open.
      if (failed) process.exit(failed(r) ? 1 : 0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
