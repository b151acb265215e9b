// Dashboard on a busy node: N running pods (default 200), one `sleep` container each, then
// (1) the daemon's RSS before and after the dashboard's code loads (its first request),
// (2) the JSON API's latency, (3) in Debian's chromium, navigation to the frame that paints the
// pods and containers tables with every row, and the floor (page-timing.ts).
// Uses the container e2e network (bridge berth-ct0). Run alone: node dist/bench/dashboard.js [pods] [loads]
import { readFile } from 'node:fs/promises';
import { launchBrowser } from '../e2e/browser.js';
import { ctrConfig, runCtr, runPod, startCtEnv, type CtEnv } from '../e2e/container-fixtures.js';
import { timePages } from './page-timing.js';
import { runAsMain, summarize, timeMs } from './summary.js';

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 102.4) / 10;
}

/** Starts `n` pods with one container each, a few at a time. */
async function populate(env: CtEnv, n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const pod = await runPod(env, `bench-${i}`);
      await runCtr(env, pod, ctrConfig(env, 'sleeper', { command: ['sleep', '100000'] }));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

export async function benchDashboard(pods = 200, loads = 10): Promise<Record<string, unknown>> {
  const env = await startCtEnv({ dashboard: { listen: '127.0.0.1:0' }, logLevel: 'info' });
  // Launched before the pods start: its start-up work is long done when the pages are timed.
  const browser = await launchBrowser();
  try {
    const base = `http://${env.d.dashboardAddress}`;
    const pid = env.d.proc.pid!;
    await populate(env, pods);
    const rssBefore = await rssMiB(pid);
    const api: Record<string, number[]> = { pods: [], containers: [], node: [] };
    for (let i = 0; i < 20; i++) {
      for (const k of Object.keys(api)) api[k]!.push(await timeMs(async () => (await fetch(`${base}/api/${k}`)).arrayBuffer()));
    }
    const rssAfterApi = await rssMiB(pid);
    const pages = await timePages(browser, base, pods, loads);
    const rssAfterPages = await rssMiB(pid);
    return {
      pods, containers: pods, loads,
      daemon_rss_mib: { before_first_request: rssBefore, after_api_calls: rssAfterApi, after_page_loads: rssAfterPages },
      api: Object.fromEntries(Object.entries(api).map(([k, v]) => [k, summarize(v)])),
      ...pages,
    };
  } finally {
    await browser.close();
    await env.close();
  }
}

runAsMain(import.meta.url, 'dashboard', (a) => benchDashboard(Number(a[0] ?? 200), Number(a[1] ?? 10)));
