// The dashboard's listener. Only this file, auth.ts and headers.ts load at start: the pages,
// the data shaping, the event feed and the stats sampler (app.ts and what it imports) load on
// the first request, so a daemon nobody looks at pays for a listening socket and nothing more.
// A listener that cannot bind is logged and left out: a view must never keep the runtime down.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConfigError, splitHostPort } from '../config/config.js';
import type { CriModule, DaemonContext } from '../cri/module.js';
import { Authorizer, checkListen } from './auth.js';
import { SECURITY_HEADERS } from './headers.js';

/** What app.ts exports; the type alone is imported here, so nothing of it loads at start. */
export interface DashboardApp {
  handle(req: http.IncomingMessage, res: http.ServerResponse, authorized: boolean): void;
  close(): void;
}

export type AppFactory = (ctx: DaemonContext, auth: Authorizer) => DashboardApp;

/** The configured token: `token`, or the contents of `token_file`; never both. */
export async function dashboardToken(cfg: DaemonContext['config']['dashboard']): Promise<string> {
  if (cfg.token && cfg.token_file) throw new ConfigError('dashboard: set token or token_file, not both');
  if (!cfg.token_file) return cfg.token;
  let text: string;
  try {
    text = await readFile(cfg.token_file, 'utf8');
  } catch (err) {
    throw new ConfigError(`dashboard.token_file: cannot read ${cfg.token_file}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (!token) throw new ConfigError(`dashboard.token_file: ${cfg.token_file} is empty`);
  return token;
}

export interface DashboardServer {
  server: http.Server;
  address: string;
  close(): Promise<void>;
}

/** Listens on `listen`; `load` supplies the app at the first request (tests pass their own). */
export async function serveDashboard(
  ctx: DaemonContext, listen: string, auth: Authorizer, load: () => Promise<AppFactory>,
): Promise<DashboardServer> {
  let app: Promise<DashboardApp> | undefined;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const verdict = auth.check(req);
    if (verdict === 'bad-host') {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' }).end('this dashboard answers only to a loopback host name\n');
      return;
    }
    app ??= load().then((create) => create(ctx, auth));
    app.then(
      (a) => a.handle(req, res, verdict === 'ok'),
      (err: Error) => {
        ctx.log.error({ err: err.message }, 'dashboard: could not load its pages');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('dashboard unavailable\n');
      },
    );
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const { host, port } = splitHostPort(listen, 'dashboard.listen');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return {
    server,
    address,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      (await app?.catch(() => undefined))?.close();
      await closed;
    },
  };
}

export const dashboardModule: CriModule = {
  name: 'dashboard',
  async start(ctx) {
    const cfg = ctx.config.dashboard;
    if (!cfg.listen) return { handlers: {} };
    const token = await dashboardToken(cfg);
    checkListen(cfg.listen, token);
    let srv: DashboardServer;
    try {
      srv = await serveDashboard(ctx, cfg.listen, new Authorizer(token), async () => (await import('./app.js')).createApp);
    } catch (err) {
      ctx.log.error({ err: (err as Error).message, listen: cfg.listen }, 'dashboard not served: cannot listen');
      return { handlers: {} };
    }
    ctx.log.info({ address: srv.address, token: token !== '' }, 'dashboard listening');
    return { handlers: {}, close: () => srv.close() };
  },
};
