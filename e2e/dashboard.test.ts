// The dashboard in a real browser (Debian's chromium through playwright-core) against a real
// daemon with real pods: the pages show them, a container started during the test appears
// without a reload, a line the container writes appears in the followed log, a container that
// stops shows its exit code, a pull under way shows its progress; accessibility basics (labels,
// contrast, keyboard) and the layout at 375 and 1440 px. Screenshots of every page go to
// dist/e2e-output/dashboard/ (not committed).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { PROJECT_ROOT } from '../pkg/version/version.js';
import { auditPage } from './a11y.js';
import { launchBrowser, type TestBrowser } from './browser.js';
import { ctrConfig, execText, runCtr, runPod, startCtEnv, waitExited, type CtEnv } from './container-fixtures.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startProxy } from './fixtures/proxy.js';
import { buildTar } from './fixtures/tar.js';

const OUT = process.env.DASHBOARD_SCREENSHOTS ?? path.join(PROJECT_ROOT, 'dist/e2e-output/dashboard');
const PAGES = ['node', 'pods', 'containers', 'images', 'events'] as const;

describe('dashboard in a browser', () => {
  let env: CtEnv;
  let browser: TestBrowser;
  let page: Page;
  let base: string;
  const problems: string[] = [];
  const ids: Record<string, string> = {};
  let web: Awaited<ReturnType<typeof runPod>>;

  before(async () => {
    await mkdir(OUT, { recursive: true });
    env = await startCtEnv({ dashboard: { listen: '127.0.0.1:0' } });
    assert.ok(env.d.dashboardAddress, 'the daemon logged the dashboard address');
    base = `http://${env.d.dashboardAddress}`;
    web = await runPod(env, 'dash-web');
    const batch = await runPod(env, 'dash-batch');
    ids.web = await runCtr(env, web, ctrConfig(env, 'server', { command: ['sh', '-c', 'echo web-started; exec sleep 100000'] }));
    ids.quitter = await runCtr(env, batch, ctrConfig(env, 'quitter', {
      command: ['sh', '-c', 'echo waiting; while [ ! -f /tmp/stop ]; do sleep 0.1; done; echo quitting; exit 3'],
    }));
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    await env?.close();
  });

  const open = async (hash: string, heading: string) => {
    await page.goto(`${base}/#/${hash}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
  };

  it('lists the running pods with their state, IP and containers', async () => {
    // index.html's early module asks for the pods before the page's scripts run; the page uses
    // that answer rather than asking again.
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => void (new URL(r.url()).pathname === '/api/pods' && asked.push(r.url()));
    page.on('request', onRequest);
    await open('pods', 'Pods');
    const row = page.locator('tr', { hasText: 'dash-web' });
    await row.waitFor();
    page.off('request', onRequest);
    assert.equal(asked.length, 1, 'one request for the pods');
    const text = await row.innerText();
    assert.match(text, /ready/);
    assert.match(text, /10\.202\.\d+\.\d+/, 'the pod IP from CNI');
    assert.match(text, /server/);
    assert.match(await page.locator('tr', { hasText: 'dash-batch' }).innerText(), /quitter/);
  });

  it('shows a container started during the test without a reload', async () => {
    await open('containers', 'Containers');
    await page.locator('tr', { hasText: 'server' }).waitFor();
    assert.equal(await page.locator('tr', { hasText: 'late-comer' }).count(), 0);
    const marker = await page.evaluate(() => ((window as unknown as { marker: number }).marker = Math.random()));
    ids.late = await runCtr(env, web, ctrConfig(env, 'late-comer', { command: ['sleep', '100000'] }));
    await page.locator('tr', { hasText: 'late-comer' }).filter({ hasText: 'running' }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), marker, 'same document: no reload');
  });

  it('draws CPU and memory charts from the stats stream', async () => {
    await page.locator('tr', { hasText: 'server' }).locator('svg[role="img"]').first().waitFor({ timeout: 15_000 });
    const label = await page.locator('tr', { hasText: 'server' }).locator('.spark-mem svg').getAttribute('aria-label');
    assert.match(label!, /^Memory \d+(\.\d)? (B|KiB|MiB) now/);
    // The README's picture (docs/dashboard.png is a copy of it).
    await page.setViewportSize({ width: 1280, height: 400 });
    await page.screenshot({ path: path.join(OUT, 'readme-containers.png') });
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  it('follows a container log: a line the container writes appears', async () => {
    await page.locator('tr', { hasText: 'server' }).getByRole('link', { name: 'server' }).click();
    await page.getByRole('heading', { level: 1, name: 'Container server' }).waitFor();
    await page.locator('#log .line', { hasText: 'web-started' }).waitFor();
    await execText(env, ids.web!, ['sh', '-c', 'echo written-while-watching > /proc/1/fd/1']);
    await page.locator('#log .line', { hasText: 'written-while-watching' }).waitFor();
  });

  it('searches the log', async () => {
    await page.getByLabel('Search log').fill('WHILE-watch');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#log mark', { hasText: 'while-watch' }).waitFor();
    assert.equal(await page.locator('#log .line').count(), 1, 'only the matching line');
    await page.getByLabel('Search log').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('#log .line', { hasText: 'web-started' }).waitFor();
  });

  it('shows the exit code of a container that stops while the page is open', async () => {
    await open(`containers/${ids.quitter}`, 'Container quitter');
    await page.locator('#log .line', { hasText: 'waiting' }).waitFor();
    await execText(env, ids.quitter!, ['touch', '/tmp/stop']);
    assert.equal((await waitExited(env, ids.quitter!)).exit_code, 3);
    await page.locator('#exit-code', { hasText: '3' }).waitFor();
    assert.match(await page.locator('.facts').innerText(), /exited[\s\S]*Error/);
    await page.locator('#log .line', { hasText: 'quitting' }).waitFor();
    await open('containers', 'Containers');
    const row = page.locator('tr', { hasText: 'quitter' });
    await row.filter({ hasText: 'exited' }).waitFor();
    assert.match(await row.locator('td[data-label="Exit code"]').innerText(), /^3$/);
  });

  it('lists images with size and users, live events and the node summary', async () => {
    await open('images', 'Images');
    const img = page.locator('tr', { hasText: env.image });
    await img.waitFor();
    assert.match(await img.innerText(), /KiB|MiB/);
    assert.match(await img.innerText(), /dash-web\/server/);
    await open('events', 'Events');
    await page.locator('tr', { hasText: 'late-comer' }).filter({ hasText: 'started' }).first().waitFor();
    await page.locator('tr', { hasText: 'quitter' }).filter({ hasText: 'exit code 3' }).first().waitFor();
    await open('node', 'Node');
    const text = await page.locator('main').innerText();
    assert.match(text, /berth \d+\.\d+\.\d+/);
    assert.match(text, /v[12] \(cgroupfs\)/);
    assert.match(text, /runc/);
    assert.match(text, /RuntimeReady/);
    assert.match(text, /image store/);
  });

  it('shows a pull under way with its layers\' progress on the node page, then its outcome', async () => {
    // A proxy in front of the registry holds the download half-way through the big layer while
    // the page is looked at; the connection is then cut and the pull resumes with a Range request.
    const proxy = await startProxy(env.reg.port);
    try {
      const big = buildTar([{ type: 'file', path: 'big', data: randomBytes(8 << 20) }]);
      await pushImage(env.reg.host, 'ct/slow', '1', buildBusyboxImage({ extraLayers: [big] }));
      const ref = `${proxy.host}/ct/slow:1`;
      const held = proxy.cutAfter(4 << 20, async () => {
        await open('node', 'Node');
        const pull = page.locator('li.pull', { hasText: ref });
        await pull.getByRole('progressbar', { name: /^pulling .+: [0-9.]+ MiB of [0-9.]+ MiB$/ }).waitFor();
        assert.match(await pull.innerText(), /MiB \/ [0-9.]+ MiB, 1\/2 layers, \d+s so far/, 'the busybox layer is already there');
      });
      const pulled = env.d.client.image('PullImage', { image: { image: ref } });
      await held;
      await pulled;
      await page.locator('tr', { hasText: ref }).filter({ hasText: 'pulled' }).waitFor();
      assert.equal(await page.locator('li.pull').count(), 0, 'no pull under way any more');
    } finally {
      await proxy.stop();
    }
  });

  it('moves between sections with Tab and Enter', async () => {
    await open('pods', 'Pods');
    // A fresh document, so focus starts at the top (a hash change focuses the heading).
    await page.reload();
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    let found = false;
    for (let i = 0; i < 15 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.textContent === 'Containers' && document.activeElement.closest('nav') !== null);
    }
    assert.ok(found, 'Tab reaches the Containers link');
    // The section's data is held back: focus is on the new heading as soon as it shows, not
    // only once the data came.
    let release!: () => void;
    const dataHeld = new Promise<void>((resolve) => (release = resolve));
    // The page's request only (times: 1): no unroute while its handler still waits.
    await page.route('**/api/containers', async (route) => {
      await dataHeld;
      await route.continue();
    }, { times: 1 });
    try {
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Containers' }).waitFor();
      assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus moves to the new heading');
    } finally {
      release();
    }
    await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('nav a[aria-current="page"]').innerText(), 'Containers');
    // Onwards into the table.
    let inTable = false;
    for (let i = 0; i < 10 && !inTable; i++) {
      await page.keyboard.press('Tab');
      inTable = await page.evaluate(() => document.activeElement?.closest('table') !== null);
    }
    assert.ok(inTable, 'Tab reaches the table');
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('href'));
    // A container started now redraws the list (a live update): the focus stays on its link,
    // and Enter opens that container's page.
    ids.tabbing = await runCtr(env, web, ctrConfig(env, 'tab-late', { command: ['sleep', '100000'] }));
    await page.locator('tr', { hasText: 'tab-late' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('href')), focused, 'focus kept through the redraw');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: /^Container / }).waitFor();
    assert.equal(await page.evaluate(() => location.hash), focused);
  });

  for (const width of [1440, 375]) {
    it(`passes the accessibility and layout audit at ${width} px, with screenshots`, async (t) => {
      await page.setViewportSize({ width, height: 900 });
      for (const p of [...PAGES, `containers/${ids.web}`]) {
        const name = p.startsWith('containers/') ? 'container' : p;
        await page.goto(`${base}/#/${p}`);
        await page.locator('main h1').waitFor();
        await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
        if (name.startsWith('container')) await page.locator('.spark-mem svg').first().waitFor({ timeout: 15_000 });
        const a = await page.evaluate(auditPage);
        assert.deepEqual(a.contrast, [], `${name} at ${width}px: text below 4.5:1`);
        assert.deepEqual(a.unlabelled, [], `${name} at ${width}px: fields, links or images without a name`);
        assert.equal(a.overflow, null, `${name} at ${width}px: page wider than the viewport`);
        assert.equal(a.headings, 1, `${name}: one h1`);
        assert.equal(a.lang, 'en');
        const file = path.join(OUT, `${name}-${width}.png`);
        await page.screenshot({ path: file, fullPage: true });
        t.diagnostic(`screenshot ${file}`);
      }
    });
  }

  it('logged no CSP violation, script error or failed request', () => {
    assert.deepEqual(problems, []);
  });
});
