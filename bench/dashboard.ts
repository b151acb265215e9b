// Dashboard on a busy node: N running pods (default 200), one `sleep` container each, then
// (1) the daemon's RSS before and after the dashboard's code loads (its first request),
// (2) the JSON API's latency, (3) in Debian's chromium, from navigation start (the document's
// time origin) to the frame that paints the pods and containers tables with every row (page
// scripts, API call and rendering included), and the same for an empty page with the dashboard's
// headers (the floor: chromium's own navigation cost on this machine). Chromium's launch stays
// out: it runs before the pods start, and one untimed load of each page precedes the timed ones.
// Uses the container e2e network (bridge berth-ct0). Run alone: node dist/bench/dashboard.js [pods] [loads]
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../e2e/browser.js';
import { SECURITY_HEADERS } from '../pkg/dashboard/headers.js';
import { ctrConfig, runCtr, runPod, startCtEnv, type CtEnv } from '../e2e/container-fixtures.js';
import { summarize, timeMs } from './summary.js';

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

const summaries = (m: Record<string, number[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, summarize(v)]));

/** Serves one empty HTML page with the dashboard's headers: the floor of a navigation. */
async function emptyPageServer(): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((_req, res) => {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html><html lang="en"><title>empty</title><p>empty</p></html>');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, close: () => srv.close() };
}

interface Loaded {
  /** The rAF that first saw `rows` rows (before that frame's style, layout and paint). */
  inDom: number;
  /** After that frame painted: a task queued from its rAF runs once the frame is done. */
  painted: number;
  firstContentfulPaint: number;
}

type Timed = Window & { benchLoaded?: Promise<Loaded> };

/**
 * Installed in every document before its own scripts: from the first frame on, waits for
 * `rows` table rows (or, on the empty page, its paragraph). Set before timing, so a page that
 * renders before the bench asks is timed right.
 */
function watchRows(rows: number): void {
  (window as Timed).benchLoaded = new Promise<Loaded>((resolve) => {
    // Paint entries are reported once the frame is presented, so watched rather than read.
    let fcp = NaN;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') fcp = e.startTime;
    }).observe({ type: 'paint', buffered: true });
    const check = () => {
      const seen = location.hash ? document.querySelectorAll('main tbody tr').length >= rows : document.querySelector('p') !== null;
      if (!seen) return void requestAnimationFrame(check);
      const inDom = performance.now();
      requestAnimationFrame(() => setTimeout(() => resolve({ inDom, painted: performance.now(), firstContentfulPaint: fcp })));
    };
    requestAnimationFrame(check);
  });
}

/** A fresh document at `url` (a new renderer, as from a typed address), timed until its rows show. */
async function load(page: Page, url: string): Promise<Loaded> {
  await page.goto('about:blank');
  await page.goto(url, { waitUntil: 'commit' });
  return page.evaluate(() => (window as Timed).benchLoaded!);
}

export async function benchDashboard(pods = 200, loads = 10): Promise<Record<string, unknown>> {
  const env = await startCtEnv({ dashboard: { listen: '127.0.0.1:0' }, logLevel: 'info' });
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
    const empty = await emptyPageServer();
    const urls = { empty_page: empty.url, pods: `${base}/#/pods`, containers: `${base}/#/containers` };
    const page = await browser.context.newPage();
    await page.addInitScript(watchRows, pods);
    const painted: Record<string, number[]> = {};
    const inDom: Record<string, number[]> = {};
    const fcp: Record<string, number[]> = {};
    try {
      for (const url of Object.values(urls)) await load(page, url);
      for (let i = 0; i < loads; i++) {
        for (const [name, url] of Object.entries(urls)) {
          const r = await load(page, url);
          (painted[name] ??= []).push(r.painted);
          (inDom[name] ??= []).push(r.inDom);
          (fcp[name] ??= []).push(r.firstContentfulPaint);
        }
      }
    } finally {
      empty.close();
    }
    const rssAfterPages = await rssMiB(pid);
    return {
      pods, containers: pods, loads,
      daemon_rss_mib: { before_first_request: rssBefore, after_api_calls: rssAfterApi, after_page_loads: rssAfterPages },
      api: Object.fromEntries(Object.entries(api).map(([k, v]) => [k, summarize(v)])),
      load_average: os.loadavg().map((l) => Math.round(l * 100) / 100),
      navigation_to_all_rows_painted: summaries(painted),
      navigation_to_all_rows_in_dom: summaries(inDom),
      first_contentful_paint: summaries(fcp),
    };
  } finally {
    await browser.close();
    await env.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchDashboard(Number(process.argv[2] ?? 200), Number(process.argv[3] ?? 10)).then(
    (r) => console.log(JSON.stringify({ dashboard: r }, null, 2)),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
