// berth's own HTTP/2 server as the gRPC transport (the default): a net.Server on the unix
// socket, one H2Connection per client. node:http2 cost ~10× berth's own work per status call
// (its per-stream objects, header maps and JS↔C++ crossings); this does only what gRPC needs.
import net from 'node:net';
import { type KeepaliveOptions, type OnCall, SESSION_WINDOW, STREAM_WINDOW, type Transport, listenOn, raceGrace, schedulePings } from '../transport.js';
import { H2Connection } from './connection.js';

export class H2Transport implements Transport {
  private readonly conns = new Set<H2Connection>();
  private readonly server: net.Server;
  private closing = false;

  constructor(private readonly onCall: OnCall, private readonly keepalive: KeepaliveOptions) {
    this.server = net.createServer((socket) => this.onSocket(socket));
  }

  listen(socket: string): Promise<void> {
    return listenOn(this.server, socket);
  }

  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    this.server.close();
    const closed = [...this.conns].map((c) => new Promise<void>((resolve) => {
      if (c.closed) return resolve();
      c.socket.once('close', () => resolve());
      c.goAway();
    }));
    if (await raceGrace(Promise.all(closed), graceMs)) this.forceShutdown();
  }

  get openSessions(): number {
    return this.conns.size;
  }

  forceShutdown(): void {
    this.closing = true;
    this.server.close();
    for (const c of this.conns) c.destroy();
  }

  private onSocket(socket: net.Socket): void {
    if (this.closing) return void socket.destroy();
    const conn = new H2Connection(socket, {
      streamWindow: STREAM_WINDOW,
      connectionWindow: SESSION_WINDOW,
      onStream: (stream, headers) => this.onCall(stream, headers),
    });
    this.conns.add(conn);
    const stop = schedulePings(this.keepalive, (onAck) => conn.ping(onAck), () => conn.destroy(), () => conn.closed);
    socket.once('close', () => {
      stop();
      this.conns.delete(conn);
    });
  }
}
