// Times dashboard pages in Debian's chromium as a user sees them: from navigation start (the
// document's time origin) to the frame that paints a table with every row, and the same for an
// empty page with the dashboard's headers (the floor: chromium's own cost of a navigation here).
// Each load is a fresh document in a new renderer, as from a typed address. Untimed loads of each
// page come first, so chromium's own start-up work (e.g. its omnibox WebUI renderer, which keeps a
// core busy for seconds after launch) stays out.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '../e2e/browser.js';
import { SECURITY_HEADERS } from '../pkg/dashboard/headers.js';
import { summarize } from './summary.js';

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
}

type Timed = Window & { benchLoaded?: Promise<Loaded> };

/**
 * Installed in every document before its own scripts: from the first frame on, waits for
 * `rows` table rows (or, on the empty page, its paragraph). Set before timing, so a page that
 * renders before the bench asks is timed right.
 */
function watchRows(rows: number): void {
  (window as Timed).benchLoaded = new Promise<Loaded>((resolve) => {
    const check = () => {
      const seen = location.hash ? document.querySelectorAll('main tbody tr').length >= rows : document.querySelector('p') !== null;
      if (!seen) return void requestAnimationFrame(check);
      const inDom = performance.now();
      requestAnimationFrame(() => setTimeout(() => resolve({ inDom, painted: performance.now() })));
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

const WARM_UP_ROUNDS = 2;

/** `loads` timed loads of the empty page and of the pods and containers sections at `base`. */
export async function timePages(browser: TestBrowser, base: string, rows: number, loads: number): Promise<Record<string, unknown>> {
  const empty = await emptyPageServer();
  const urls = { empty_page: empty.url, pods: `${base}/#/pods`, containers: `${base}/#/containers` };
  const painted: Record<string, number[]> = {};
  const inDom: Record<string, number[]> = {};
  try {
    const page = await browser.context.newPage();
    await page.addInitScript(watchRows, rows);
    for (let i = 0; i < WARM_UP_ROUNDS; i++) for (const url of Object.values(urls)) await load(page, url);
    for (let i = 0; i < loads; i++) {
      for (const [name, url] of Object.entries(urls)) {
        const r = await load(page, url);
        (painted[name] ??= []).push(r.painted);
        (inDom[name] ??= []).push(r.inDom);
      }
    }
    await page.close();
  } finally {
    empty.close();
  }
  return {
    load_average: os.loadavg().map((l) => Math.round(l * 100) / 100),
    navigation_to_all_rows_painted: summaries(painted),
    navigation_to_all_rows_in_dom: summaries(inDom),
  };
}
