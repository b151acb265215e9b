// The streaming server: CRI's Exec, Attach and PortForward hand out URLs on it, and kubelet,
// kubectl or crictl upgrade an HTTP request on such a URL to SPDY/3.1 or WebSocket.
//   /exec/<token>  /attach/<token>  /portforward/<token>
// A token is random, works once and expires after a minute; the request it stands for is kept
// here, so nothing in the URL's query string can widen what the client may do.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { splitHostPort } from '../config/config.js';
import type { Logger } from '../log/log.js';
import type * as Protocols from './protocols.js';
import { TokenCache } from './tokens.js';
import type { StreamingBackends, StreamRequest } from './types.js';

/** Subprotocol prefix of SPDY tunnelled in WebSocket binary messages (crictl/kubectl port-forward). */
const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';
const KINDS = new Set(['exec', 'attach', 'portforward']);
/** Clients send stdin in 32 KiB pieces and tunnelled SPDY frames of at most 64 KiB. */
const MAX_WS_MESSAGE = 4 * 1024 * 1024;

export interface StreamingServerOptions {
  /** host:port; port 0 lets the OS pick. */
  listen: string;
  backends: StreamingBackends;
  log: Logger;
  tokens?: TokenCache;
}

type Protocols = typeof Protocols;
let protocols: Promise<Protocols> | undefined;
/** The protocol code, imported on the first upgrade (protocols.ts says why). */
const loadProtocols = (): Promise<Protocols> => (protocols ??= import('./protocols.js'));

/** Values of a header that may repeat or hold a comma-separated list. */
function headerList(req: http.IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== name) continue;
    for (const v of req.rawHeaders[i + 1]!.split(',')) if (v.trim()) out.push(v.trim());
  }
  return out;
}

function reject(socket: Duplex, code: number, message: string, extra: Record<string, string> = {}): void {
  const headers = Object.entries({ 'Content-Type': 'text/plain; charset=utf-8', ...extra })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export class StreamingServer {
  readonly tokens: TokenCache;
  private readonly http: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly live = new Set<{ destroy(): void }>();
  private base = '';

  constructor(private readonly opts: StreamingServerOptions) {
    this.tokens = opts.tokens ?? new TokenCache();
    this.http = http.createServer((req, res) => this.onPlainRequest(req, res));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<void> {
    const { host, port } = splitHostPort(this.opts.listen, 'streaming.listen');
    await new Promise<void>((resolve, rejectP) => {
      this.http.once('error', rejectP);
      this.http.listen(port, host, () => {
        this.http.removeListener('error', rejectP);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    let urlHost = addr.address;
    if (urlHost === '0.0.0.0' || urlHost === '::') urlHost = firstNodeAddress() ?? '127.0.0.1';
    this.base = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${addr.port}`;
    this.opts.log.info({ address: this.base }, 'streaming server listening');
  }

  /** The URL a CRI call returns: a fresh single-use token bound to the request. */
  url(req: StreamRequest): string {
    return `${this.base}/${req.kind}/${this.tokens.insert(req)}`;
  }

  get address(): string {
    return this.base;
  }

  /** Open client connections and sessions (tests check that nothing leaks). */
  get connections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const l of this.live) l.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private route(url: string | undefined): { kind: StreamRequest['kind']; token: string } | undefined {
    const m = /^\/([a-z]+)\/([A-Za-z0-9_-]+)\/?(?:\?.*)?$/.exec(url ?? '');
    if (!m || !KINDS.has(m[1]!)) return undefined;
    return { kind: m[1] as StreamRequest['kind'], token: m[2]! };
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const r = this.route(req.url);
    if (!r || !this.tokens.has(r.token)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end('this URL needs an Upgrade to SPDY/3.1 or websocket\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => {});
    // Nothing reads the socket until the upgrade is handled: its bytes wait in its buffer.
    loadProtocols().then(
      (p) => this.upgrade(p, req, socket, head),
      (err: Error) => {
        this.opts.log.error({ err: err.message }, 'streaming: could not load the protocol code');
        reject(socket, 500, 'internal error');
      },
    );
  }

  private upgrade(p: Protocols, req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const r = this.route(req.url);
    const sreq = r ? this.tokens.consume(r.token) : undefined;
    if (!r || !sreq || sreq.kind !== r.kind) return reject(socket, 404, '404 page not found');
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') return this.upgradeWebSocket(p, req, socket, head, sreq);
    if (upgrade !== 'spdy/3.1') return reject(socket, 400, `unsupported upgrade "${req.headers.upgrade ?? ''}"`);

    const offered = headerList(req, 'x-stream-protocol-version');
    const supported = sreq.kind === 'portforward' ? p.PORTFORWARD_PROTOCOLS : p.REMOTECOMMAND_PROTOCOLS;
    const protocol = offered.find((p) => supported.includes(p));
    if (offered.length && !protocol) {
      return reject(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server accepts ${JSON.stringify(supported)}`,
        { 'X-Accepted-Stream-Protocol-Versions': supported.join(', ') });
    }
    if (!protocol && sreq.kind === 'portforward') {
      return reject(socket, 400, 'port-forward needs X-Stream-Protocol-Version: portforward.k8s.io');
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        (protocol ? `X-Stream-Protocol-Version: ${protocol}\r\n` : '') +
        '\r\n',
    );
    if (head.length) socket.unshift(head);
    const session = new p.SpdySession(socket);
    this.serveSpdy(p, session, protocol ?? '', sreq);
  }

  private serveSpdy(p: Protocols, session: Protocols.SpdySession, protocol: string, sreq: StreamRequest): void {
    this.live.add(session);
    session.once('close', () => this.live.delete(session));
    const { backends, log } = this.opts;
    if (sreq.kind === 'portforward') p.serveSpdyPortForward(session, sreq.params, backends.portForward, log);
    else p.serveSpdyRemoteCommand(session, protocol, sreq, backends, log);
  }

  private upgradeWebSocket(p: Protocols, req: http.IncomingMessage, socket: Socket, head: Buffer, sreq: StreamRequest): void {
    const offered = headerList(req, 'sec-websocket-protocol');
    let protocol: string | undefined;
    let ports: number[] = [];
    if (sreq.kind === 'portforward') {
      protocol =
        offered.find((o) => o.startsWith(SPDY_TUNNEL_PREFIX) && p.PORTFORWARD_PROTOCOLS.includes(o.slice(SPDY_TUNNEL_PREFIX.length))) ??
        offered.find((o) => p.WS_PORTFORWARD_PROTOCOLS.includes(o)) ??
        (offered.length ? undefined : ''); // no subprotocol: kubelet's binary channel protocol
      if (protocol !== undefined && !protocol.startsWith(SPDY_TUNNEL_PREFIX)) {
        const wanted = p.wsForwardPorts(req.url, sreq.params);
        if (typeof wanted === 'string') return reject(socket, 400, wanted);
        ports = wanted;
      }
    } else {
      protocol = offered.find((o) => p.WS_REMOTECOMMAND_PROTOCOLS.includes(o));
    }
    if (protocol === undefined) {
      const accepted =
        sreq.kind === 'portforward' ? [...p.PORTFORWARD_PROTOCOLS.map((o) => SPDY_TUNNEL_PREFIX + o), ...p.WS_PORTFORWARD_PROTOCOLS] : p.WS_REMOTECOMMAND_PROTOCOLS;
      return reject(socket, 400, `unable to negotiate a websocket subprotocol: client offers ${JSON.stringify(offered)}, server accepts ${JSON.stringify(accepted)}`);
    }
    const chosen = protocol;
    // ws picks the subprotocol through handleProtocols; it is decided above, so say it here.
    // ws also refuses protocol names outside RFC 6455's token syntax, and the tunnel's
    // "SPDY/3.1+…" has a '/': hand ws a placeholder to parse, answer with the real name.
    if (chosen) req.headers['sec-websocket-protocol'] = 'berth';
    else delete req.headers['sec-websocket-protocol'];
    const wss = new p.WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_WS_MESSAGE, handleProtocols: () => chosen });
    wss.handleUpgrade(req, socket, head, (ws: Protocols.WebSocket) => {
      const entry = { destroy: () => ws.terminate() };
      this.live.add(entry);
      ws.once('close', () => this.live.delete(entry));
      const { backends, log } = this.opts;
      if (sreq.kind === 'portforward' && chosen.startsWith(SPDY_TUNNEL_PREFIX)) {
        // SPDY framing inside binary messages: the same session as over a raw socket.
        const tunnel = p.createWebSocketStream(ws);
        tunnel.on('error', () => {});
        this.serveSpdy(p, new p.SpdySession(tunnel), chosen.slice(SPDY_TUNNEL_PREFIX.length), sreq);
      } else if (sreq.kind === 'portforward') {
        p.serveWsPortForward(ws, chosen, sreq.params, ports, backends.portForward, log);
      } else {
        p.serveWsRemoteCommand(ws, chosen, sreq, backends, log);
      }
    });
  }
}

function firstNodeAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
