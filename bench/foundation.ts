// Foundation figures: daemon start-up to a ready socket, idle RSS, and Version latency.
// Run alone: node dist/bench/foundation.js [calls]
import { readFile } from 'node:fs/promises';
import { startDaemon } from '../e2e/harness.js';
import { runAsMain, summarize, timeMs } from './summary.js';

/** A process's resident set, KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

/** Proportional set size: each shared page divided among the processes that map it, KiB. */
export async function pssKiB(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? NaN);
}

export async function benchFoundation(calls = 1000): Promise<Record<string, unknown>> {
  const startups: number[] = [];
  for (let i = 0; i < 5; i++) {
    let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
    // Ready = the socket answers a real CRI call, measured from process spawn.
    const ms = await timeMs(async () => {
      d = await startDaemon({ logLevel: 'info' });
      await d.client.runtime('Version', {});
    });
    startups.push(ms);
    await d!.stop();
    await d!.cleanup();
  }
  const d = await startDaemon({ logLevel: 'info' });
  try {
    for (let i = 0; i < 100; i++) await d.client.runtime('Version', {}); // warm-up
    const lat: number[] = [];
    for (let i = 0; i < calls; i++) lat.push(await timeMs(() => d.client.runtime('Version', {})));
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = await rssKiB(d.proc.pid!);
    return {
      startup_to_ready: summarize(startups),
      idle_rss_mib: Math.round((idleRss / 1024) * 10) / 10,
      version_latency: summarize(lat),
    };
  } finally {
    await d.stop();
    await d.cleanup();
  }
}

runAsMain(import.meta.url, 'foundation', (a) => benchFoundation(Number(a[0] ?? 1000)));
