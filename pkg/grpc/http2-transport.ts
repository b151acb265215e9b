// The gRPC server's transport on node:http2 (BERTH_GRPC_TRANSPORT=http2): the fallback to
// berth's own HTTP/2 server (pkg/grpc/h2). Keepalive pings and graceful shutdown as there.
import http2, { type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { type CallStream, type KeepaliveOptions, type OnCall, SESSION_WINDOW, STREAM_WINDOW, type Trailers, type Transport, listenOn, raceGrace, schedulePings } from './transport.js';

const OK_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
// No date header: gRPC does not read it, and formatting it costs each call (@types/node lacks the option).
const RESPOND_OPTS = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const TRAILERS_ONLY_OPTS = { endStream: true, sendDate: false } as http2.ServerStreamResponseOptions;

/** A node:http2 server stream as the gRPC layer's CallStream. */
class Http2CallStream implements CallStream {
  constructor(private readonly s: ServerHttp2Stream) {
    s.on('error', () => undefined); // a reset stream is handled on 'close'
  }

  get headersSent(): boolean {
    return this.s.headersSent;
  }

  get closed(): boolean {
    return this.s.destroyed || this.s.closed;
  }

  sendHeaders(): void {
    if (!this.s.headersSent) this.s.respond(OK_HEADERS, RESPOND_OPTS);
  }

  write(data: Buffer, cb?: (err?: Error | null) => void): void {
    this.sendHeaders();
    this.s.write(data, cb);
  }

  end(trailers: Trailers, last?: Buffer): void {
    this.sendHeaders();
    this.s.once('wantTrailers', () => this.s.sendTrailers({ ...trailers }));
    if (last) this.s.end(last);
    else this.s.end();
  }

  trailersOnly(status: Trailers): void {
    this.s.respond({ ...OK_HEADERS, ...status }, TRAILERS_ONLY_OPTS);
  }

  reject(status: number): void {
    this.s.respond({ ':status': status, 'content-type': 'text/plain' }, { endStream: true });
  }

  pause(): void {
    this.s.pause();
  }

  resume(): void {
    this.s.resume();
  }

  on(event: 'data', fn: (chunk: Buffer) => void): this {
    this.s.on(event, fn);
    return this;
  }

  once(event: 'end' | 'close', fn: () => void): this {
    this.s.once(event, fn);
    return this;
  }
}

export class Http2Transport implements Transport {
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly http = http2.createServer({
    // grpc-js's default too: node's 10 MB cap answers a busy connection's streams with ENHANCE_YOUR_CALM.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
    settings: { initialWindowSize: STREAM_WINDOW },
  });

  constructor(onCall: OnCall, private readonly keepalive: KeepaliveOptions) {
    this.http.on('session', (s) => this.onSession(s));
    this.http.on('stream', (stream, headers) => onCall(new Http2CallStream(stream), headers));
  }

  listen(socket: string): Promise<void> {
    return listenOn(this.http, socket);
  }

  async shutdown(graceMs: number): Promise<void> {
    this.http.close();
    const closed = [...this.sessions].map((s) => new Promise<void>((resolve) => {
      if (s.closed || s.destroyed) return resolve();
      s.once('close', () => resolve());
      s.close();
    }));
    if (await raceGrace(Promise.all(closed), graceMs)) this.forceShutdown();
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  forceShutdown(): void {
    this.http.close();
    for (const s of this.sessions) s.destroy();
  }

  private onSession(s: ServerHttp2Session): void {
    this.sessions.add(s);
    s.on('error', () => undefined); // a broken connection closes; it must not throw in the daemon
    s.once('close', () => this.sessions.delete(s));
    s.once('connect', () => s.setLocalWindowSize(SESSION_WINDOW));
    const stop = schedulePings(this.keepalive, (onAck) => s.ping((err) => (err ? s.destroy() : onAck())), () => s.destroy(), () => s.closed || s.destroyed);
    s.once('close', stop);
  }
}
