// The dashboard over real HTTP with stand-in services: security headers on every answer, the
// app loaded only at the first request, Host and token checks, the login form, the JSON API,
// 404s, and the live event stream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createApp } from './app.js';
import { Authorizer } from './auth.js';
import { container, fakeNode, image, sandbox, type FakeNode } from './fakes.js';
import { CSP } from './headers.js';
import { serveDashboard, type DashboardServer } from './module.js';

const A = 'a'.repeat(64);
const C = 'c'.repeat(64);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(address: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const r = http.request({ host, port, path, method, headers: { Host: address, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Reads an event stream until `until` returns true for the events so far; then hangs up. */
function stream(address: string, path: string, until: (events: { event: string; data: unknown }[]) => boolean, headers: Record<string, string> = {}) {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise<{ headers: http.IncomingHttpHeaders; events: { event: string; data: unknown }[] }>((resolve, reject) => {
    const r = http.get({ host, port, path, headers: { Host: address, ...headers } }, (res) => {
      const events: { event: string; data: unknown }[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data !== undefined) events.push({ event: ev, data: JSON.parse(data) });
        }
        if (until(events)) {
          r.destroy();
          resolve({ headers: res.headers, events });
        }
      });
      res.on('end', () => resolve({ headers: res.headers, events }));
    });
    r.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
  });
}

describe('dashboard server', () => {
  let node: FakeNode;
  let open: DashboardServer;
  let loads = 0;

  before(async () => {
    node = fakeNode();
    node.pods.set(A, sandbox(A, { name: 'web' }));
    node.ctrs.set(C, container(C, A, { name: 'nginx', imageId: 'sha256:aaa' }));
    node.images.set('sha256:aaa', image('sha256:aaa', ['docker.io/library/nginx:1']));
    open = await serveDashboard(node.ctx, '127.0.0.1:0', new Authorizer(''), async () => {
      loads++;
      return createApp;
    });
  });
  after(() => open.close());

  it('loads the app only when the first request comes', async () => {
    assert.equal(loads, 0);
    await get(open.address, '/api/pods');
    await get(open.address, '/api/pods');
    assert.equal(loads, 1);
  });

  it('sends the strict CSP and the other security headers on pages, assets, API answers and errors', async () => {
    for (const p of ['/', '/assets/style.css', '/assets/main.js', '/api/node', '/api/nothing', '/assets/nothing.js']) {
      const r = await get(open.address, p);
      assert.equal(r.headers['content-security-policy'], CSP, p);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(r.headers['x-frame-options'], 'DENY', p);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', p);
    }
    assert.match(CSP, /default-src 'self'/);
    assert.match(CSP, /script-src 'self'(;|$)/);
    assert.match(CSP, /style-src 'self'(;|$)/);
    assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval|\*/);
    const bad = await get(open.address, '/', { Host: 'rebound.example:9468' });
    assert.equal(bad.status, 421);
    assert.equal(bad.headers['content-security-policy'], CSP);
  });

  it('serves the page, its scripts and styles from the build, with no inline script or style', async () => {
    const page = await get(open.address, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type']!, /text\/html/);
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
    assert.doesNotMatch(page.body, /<style|\sstyle=|\son\w+=/i, 'no inline style or handler');
    assert.doesNotMatch(page.body, /https?:\/\//, 'nothing from another origin');
    const js = await get(open.address, '/assets/main.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type']!, /text\/javascript/);
    const again = await get(open.address, '/assets/main.js', { 'If-None-Match': js.headers.etag! });
    assert.equal(again.status, 304);
    assert.equal((await get(open.address, '/assets/../package.json')).status, 404);
    assert.equal((await get(open.address, '/assets/%2e%2e%2fpackage.json')).status, 404);
  });

  it('names every module the page imports as a modulepreload, so none waits for the one importing it', async () => {
    const page = (await get(open.address, '/')).body;
    const preloaded = [...page.matchAll(/<link rel="modulepreload" href="\/assets\/([\w.-]+)">/g)].map((m) => m[1]);
    assert.ok(preloaded.includes('pages.js') && preloaded.includes('charts.js'), `direct and indirect imports: ${preloaded.join(' ')}`);
    assert.ok(!preloaded.includes('views.js'), 'a types-only module is imported by nothing');
    assert.ok(!preloaded.includes('main.js') && !preloaded.includes('early.js'), 'the scripts with their own tag');
    assert.match(page, /<script type="module" async src="\/assets\/early.js">/, 'the early data request does not wait for the page');
    for (const m of preloaded) assert.equal((await get(open.address, `/assets/${m}`)).status, 200, m);
  });

  it('answers the API from the services and 404s an unknown container', async () => {
    const pods = JSON.parse((await get(open.address, '/api/pods')).body) as { pods: { name: string; containers: { name: string }[] }[] };
    assert.deepEqual(pods.pods.map((p) => [p.name, p.containers.map((c) => c.name)]), [['web', ['nginx']]]);
    const ctrs = JSON.parse((await get(open.address, '/api/containers')).body) as { containers: { id: string }[] };
    assert.deepEqual(ctrs.containers.map((c) => c.id), [C]);
    const one = await get(open.address, `/api/containers/${C.slice(0, 8)}`);
    assert.equal(one.status, 200);
    assert.equal((JSON.parse(one.body) as { container: { podName: string } }).container.podName, 'web');
    assert.equal(one.headers['cache-control'], 'no-store');
    const imgs = JSON.parse((await get(open.address, '/api/images')).body) as { images: { usedBy: { name: string }[] }[] };
    assert.equal(imgs.images[0]!.usedBy[0]!.name, 'nginx');
    const nodeView = JSON.parse((await get(open.address, '/api/node')).body) as { counts: { pods: number; running: number }; disk: unknown[] };
    assert.equal(nodeView.counts.pods, 1);
    assert.equal(nodeView.counts.running, 1);
    assert.equal(nodeView.disk.length, 2);
    const missing = await get(open.address, `/api/containers/${'d'.repeat(64)}`);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /not found/);
  });

  it('shows a pull under way with its layers\' progress on /api/node', async () => {
    let finish!: () => void;
    const pulling = node.pulls.track('docker.io/library/big:1', (onLayer) => {
      onLayer({ digest: 'sha256:l1', size: 1000, current: 250, state: 'downloading' });
      onLayer({ digest: 'sha256:l2', size: 500, current: 500, state: 'exists' });
      return new Promise((r) => (finish = () => r(image('sha256:big', ['docker.io/library/big:1']))));
    });
    const view = JSON.parse((await get(open.address, '/api/node')).body) as { pulls: { running: { ref: string; layers: { current: number; state: string }[] }[] } };
    assert.deepEqual(view.pulls.running.map((p) => [p.ref, p.layers.map((l) => `${l.state}:${l.current}`)]), [
      ['docker.io/library/big:1', ['downloading:250', 'exists:500']],
    ]);
    finish();
    await pulling;
    const after = JSON.parse((await get(open.address, '/api/node')).body) as { pulls: { running: unknown[]; ended: { ref: string; outcome: string }[] } };
    assert.deepEqual(after.pulls.running, []);
    assert.equal(after.pulls.ended[0]!.ref, 'docker.io/library/big:1');
    assert.equal(after.pulls.ended[0]!.outcome, 'ok');
  });

  it('is read-only: other methods are refused', async () => {
    for (const m of ['POST', 'DELETE', 'PUT']) assert.equal((await get(open.address, `/api/containers/${C}`, {}, m)).status, 405, m);
  });

  it('pushes lifecycle events and pulls on /api/events, after the recent history', async () => {
    node.emitSandbox('CONTAINER_CREATED_EVENT', A);
    const change = async () => {
      node.ctrs.set(C, container(C, A, { name: 'nginx', state: 'CONTAINER_EXITED', exitCode: 3, reason: 'Error' }));
      node.emitContainer('CONTAINER_STOPPED_EVENT', C);
      node.ctrs.delete(C);
      node.emitContainer('CONTAINER_DELETED_EVENT', C, A);
      await node.pulls.track('docker.io/library/redis:7', async () => image('sha256:fff', ['docker.io/library/redis:7']));
    };
    let changed = false;
    // The stream is subscribed once its history arrived: then the node changes.
    const { headers, events } = await stream(open.address, '/api/events', (ev) => {
      if (!changed && ev.some((e) => e.event === 'history')) {
        changed = true;
        void change();
      }
      return ev.filter((e) => e.event === 'event').length >= 4;
    });
    assert.match(headers['content-type']!, /text\/event-stream/);
    const history = events.find((e) => e.event === 'history')!.data as { kind: string; action: string; name: string }[];
    assert.ok(history.map((e) => `${e.kind} ${e.action} ${e.name}`).includes('pod created web'), 'the history holds what came before');
    const live = events.filter((e) => e.event === 'event').map((e) => e.data as { kind: string; action: string; name: string; podName: string; detail: string });
    assert.deepEqual(live.map((e) => `${e.kind} ${e.action} ${e.name} ${e.podName}`), [
      'container stopped nginx web', 'container deleted nginx web', 'image pulling docker.io/library/redis:7 ', 'image pulled docker.io/library/redis:7 ',
    ]);
    assert.equal(live[0]!.detail, 'exit code 3 (Error)');
  });
});

describe('dashboard server with a token', () => {
  let open: DashboardServer;

  before(async () => {
    const node = fakeNode();
    open = await serveDashboard(node.ctx, '127.0.0.1:0', new Authorizer('tok-456'), async () => createApp);
  });
  after(() => open.close());

  it('sends a browser to the login form and refuses the API without the token', async () => {
    const page = await get(open.address, '/', { Host: 'node.example:9468' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.location, '/login');
    const api = await get(open.address, '/api/pods');
    assert.equal(api.status, 401);
    assert.match(api.headers['www-authenticate']!, /^Bearer/);
    assert.equal((await get(open.address, '/api/events')).status, 401);
    const form = await get(open.address, '/login');
    assert.equal(form.status, 200);
    assert.match(form.body, /<form method="post" action="\/login">/);
    assert.match(form.body, /id="failed" hidden/);
    assert.equal((await get(open.address, '/assets/style.css')).status, 200, 'the login page can load its style');
  });

  it('takes the bearer token', async () => {
    assert.equal((await get(open.address, '/api/pods', { Authorization: 'Bearer tok-456' })).status, 200);
    assert.equal((await get(open.address, '/api/pods', { Authorization: 'Bearer tok-457' })).status, 401);
  });

  it('logs in with the form: a wrong token says so, the right one sets a session cookie that opens the API', async () => {
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const wrong = await get(open.address, '/login', form, 'POST', 'token=nope');
    assert.equal(wrong.status, 303);
    assert.equal(wrong.headers.location, '/login?failed');
    assert.equal(wrong.headers['set-cookie'], undefined);
    const failedPage = await get(open.address, '/login?failed');
    assert.doesNotMatch(failedPage.body, /id="failed" hidden/);
    const right = await get(open.address, '/login', form, 'POST', 'token=tok-456');
    assert.equal(right.status, 303);
    assert.equal(right.headers.location, '/');
    const cookie = right.headers['set-cookie']![0]!;
    assert.match(cookie, /HttpOnly; SameSite=Strict/);
    const api = await get(open.address, '/api/pods', { Cookie: cookie.split(';')[0]! });
    assert.equal(api.status, 200);
    const huge = await get(open.address, '/login', form, 'POST', `token=${'x'.repeat(10_000)}`).catch(() => ({ status: 0 }));
    assert.notEqual(huge.status, 303, 'an oversized login body is not taken');
  });
});
