// The dashboard's routes, loaded on its first request (module.ts). Read-only: GET answers from
// the services' in-memory indexes and three event streams (lifecycle events, stats ticks, a
// container's log); the only POST is the login form of a token-protected dashboard.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonContext } from '../cri/module.js';
import { NotFoundError } from '../errors/errors.js';
import type { Authorizer } from './auth.js';
import { Assets } from './assets.js';
import { containerView, containerViews, imageViews, podViews } from './data.js';
import { EventFeed } from './feed.js';
import { NO_STORE } from './headers.js';
import { followLog, matches, tailLog, type LogLine } from './logs.js';
import type { DashboardApp } from './module.js';
import { nodeView } from './node.js';
import { StatsSampler } from './sampler.js';
import { SseStream } from './sse.js';

/** Open event streams at most (each holds a socket, and a log stream an inotify watch). */
export const MAX_STREAMS = 64;
const MAX_TAIL = 5000;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...NO_STORE }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

class App implements DashboardApp {
  private readonly assets = new Assets();
  private readonly feed: EventFeed;
  private readonly sampler: StatsSampler;
  private readonly streams = new Set<SseStream>();

  constructor(private readonly ctx: DaemonContext, private readonly auth: Authorizer) {
    const s = ctx.services;
    this.feed = new EventFeed({ containers: s.containers, sandboxes: s.sandboxes, pulls: s.images?.pulls }, ctx.log, ctx.metrics.registry);
    this.sampler = new StatsSampler(async () => {
      const list = (await ctx.services.stats?.listContainers({})) ?? [];
      return list.map((r) => ({ id: r.container.id, cpuNs: r.cgroup?.cpu?.usageCoreNanoSeconds, memBytes: r.cgroup?.memory?.workingSetBytes }));
    });
  }

  handle(req: IncomingMessage, res: ServerResponse, authorized: boolean): void {
    this.route(req, res, authorized).catch((err: unknown) => {
      if (err instanceof NotFoundError) return json(res, 404, { error: err.message });
      this.ctx.log.warn({ err: (err as Error).message, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.end();
    });
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.feed.close();
  }

  private async route(req: IncomingMessage, res: ServerResponse, authorized: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const p = url.pathname;
    if (p === '/login') return this.login(req, res, url);
    if (req.method !== 'GET') return void res.writeHead(405, { Allow: 'GET' }).end();
    if (p.startsWith('/assets/')) return this.assets.serve(req, res, p.slice('/assets/'.length));
    if (!authorized) {
      if (p.startsWith('/api/')) return void res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="berth dashboard"', ...NO_STORE }).end();
      return void res.writeHead(303, { Location: '/login' }).end();
    }
    if (p === '/') return this.assets.serve(req, res, 'index.html');
    const s = this.ctx.services;
    const pods = () => s.sandboxes?.list() ?? [];
    const ctrs = () => s.containers?.list() ?? [];
    switch (p) {
      case '/api/pods':
        return json(res, 200, { pods: podViews(pods(), ctrs()) });
      case '/api/containers':
        return json(res, 200, { containers: containerViews(ctrs(), pods()) });
      case '/api/images':
        return json(res, 200, { images: imageViews(s.images?.list() ?? [], ctrs(), pods()) });
      case '/api/node':
        return json(res, 200, await nodeView(this.ctx));
      case '/api/events':
        return this.events(req, res);
      case '/api/stats':
        return this.stats(res);
    }
    const m = /^\/api\/containers\/([0-9a-f]{1,64})(\/log)?$/.exec(p);
    if (m && s.containers) {
      const c = s.containers.get(m[1]!);
      if (m[2]) return this.log(res, c.id, c.logPath, url);
      let pod;
      try {
        pod = s.sandboxes?.get(c.sandboxId);
      } catch {
        pod = undefined;
      }
      return json(res, 200, { container: containerView(c, pod) });
    }
    json(res, 404, { error: `no such page: ${p}` });
  }

  private async login(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!this.auth.needsToken) return void res.writeHead(303, { Location: '/' }).end();
    if (req.method === 'GET') return this.assets.serve(req, res, 'login.html', url.searchParams.has('failed'));
    if (req.method !== 'POST') return void res.writeHead(405, { Allow: 'GET, POST' }).end();
    const token = new URLSearchParams(await readBody(req, 4096)).get('token') ?? '';
    if (!this.auth.loginMatches(token)) return void res.writeHead(303, { Location: '/login?failed' }).end();
    res.writeHead(303, { Location: '/', 'Set-Cookie': this.auth.sessionCookie() }).end();
  }

  /** Opens an event stream, or answers 503 when too many are open. */
  private open(res: ServerResponse): SseStream | undefined {
    if (this.streams.size >= MAX_STREAMS) {
      json(res, 503, { error: `too many open dashboard streams (${MAX_STREAMS})` });
      return undefined;
    }
    const sse = new SseStream(res);
    this.streams.add(sse);
    sse.onClose(() => this.streams.delete(sse));
    return sse;
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    const sse = this.open(res);
    if (!sse) return;
    void sse.send('history', this.feed.recent());
    const sub = this.feed.subscribe((e) => sse.send('event', e), req.socket.remoteAddress ?? 'dashboard', () => sse.close());
    sse.onClose(() => sub.close());
  }

  private stats(res: ServerResponse): void {
    const sse = this.open(res);
    if (!sse) return;
    void sse.send('history', { intervalMs: this.sampler.intervalMs, series: this.sampler.history() });
    // A tick that finds the peer's buffer full is skipped for that peer: charts tolerate gaps.
    let waiting = false;
    const unwatch = this.sampler.watch((tick) => {
      if (waiting) return;
      const r = sse.send('tick', tick);
      if (r) {
        waiting = true;
        void r.then(() => (waiting = false));
      }
    });
    sse.onClose(unwatch);
  }

  private async log(res: ServerResponse, id: string, file: string, url: URL): Promise<void> {
    if (!file) throw new NotFoundError(`container "${id}" has no log file (its pod sandbox has no log directory)`);
    const q = (url.searchParams.get('q') ?? '').slice(0, 200);
    const n = Math.min(Math.max(Number(url.searchParams.get('tail') ?? 200) || 200, 1), MAX_TAIL);
    const follow = url.searchParams.get('follow') !== '0';
    const tail = await tailLog(file, n, q).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return { lines: [] as LogLine[], offset: 0, ino: 0 };
      throw err;
    });
    const sse = this.open(res);
    if (!sse) return;
    void sse.send('lines', tail.lines);
    if (!follow) return sse.close();
    // Lines are dropped for a peer that does not keep up, with a marker saying so.
    let waiting = false;
    let skipped = 0;
    const follower = followLog(file, tail, (lines) => {
      const shown = lines.filter((l) => matches(l, q));
      if (!shown.length) return;
      if (waiting) {
        skipped += shown.length;
        return;
      }
      if (skipped) void sse.send('skipped', skipped);
      skipped = 0;
      const r = sse.send('lines', shown);
      if (r) {
        waiting = true;
        void r.then(() => (waiting = false));
      }
    }, () => sse.close());
    const ctrs = this.ctx.services.containers;
    const onEvent = (e: { type: string; containerId: string }) => {
      if (e.containerId === id && e.type === 'CONTAINER_DELETED_EVENT') {
        void sse.send('end', 'the container was removed');
        sse.close();
      }
    };
    ctrs?.events.on('event', onEvent);
    sse.onClose(() => {
      follower.close();
      ctrs?.events.off('event', onEvent);
    });
  }
}

export function createApp(ctx: DaemonContext, auth: Authorizer): DashboardApp {
  return new App(ctx, auth);
}
