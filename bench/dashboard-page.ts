// The dashboard's pages alone: the same chromium timings as bench/dashboard.ts (page-timing.ts),
// with the API answered from stand-in services (pkg/dashboard/fakes.ts) holding N pods with one
// container each. No pods start, so it takes seconds and needs no host lock; what it leaves out
// is the daemon (its API answers in a few ms, bench/dashboard.ts measures them).
// Run: node dist/bench/dashboard-page.js [pods] [loads]
import { launchBrowser } from '../e2e/browser.js';
import { createApp } from '../pkg/dashboard/app.js';
import { Authorizer } from '../pkg/dashboard/auth.js';
import { container, fakeNode, sandbox, sec } from '../pkg/dashboard/fakes.js';
import { serveDashboard } from '../pkg/dashboard/module.js';
import { timePages } from './page-timing.js';
import { runAsMain } from './summary.js';

export async function benchDashboardPage(pods = 200, loads = 10): Promise<Record<string, unknown>> {
  const node = fakeNode();
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < pods; i++) {
    const podId = `a${i.toString(16).padStart(63, '0')}`;
    const ctrId = `c${i.toString(16).padStart(63, '0')}`;
    node.pods.set(podId, sandbox(podId, { name: `bench-${i}`, createdAt: sec(now - i), ip: `10.88.${i >> 8}.${i & 255}` }));
    node.ctrs.set(ctrId, container(ctrId, podId, { name: 'sleeper', createdAt: sec(now - i), startedAt: sec(now - i) }));
  }
  const srv = await serveDashboard(node.ctx, '127.0.0.1:0', new Authorizer(''), async () => createApp);
  const browser = await launchBrowser();
  try {
    return { pods, containers: pods, loads, services: 'stand-ins', ...(await timePages(browser, `http://${srv.address}`, pods, loads)) };
  } finally {
    await browser.close();
    await srv.close();
  }
}

runAsMain(import.meta.url, 'dashboard_page', (a) => benchDashboardPage(Number(a[0] ?? 200), Number(a[1] ?? 10)));
