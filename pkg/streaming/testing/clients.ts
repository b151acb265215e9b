// Independent streaming clients for tests: SPDY through npm spdy-transport (driven the way
// kubelet's client-go remotecommand and portforward drive SPDY), WebSocket through npm ws.
// Nothing here uses berth's own SPDY code.
import http from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import * as wsModule from 'ws';

// ws exports its framing classes at run time; @types/ws does not describe them.
interface WsReceiver extends NodeJS.WritableStream {
  on(event: string, fn: (...args: any[]) => void): this;
}
interface WsSender {
  send(data: Buffer, options: Record<string, unknown>, cb?: (err?: Error) => void): void;
}
const { Receiver, Sender } = wsModule as unknown as {
  Receiver: new (o: { isServer: boolean; binaryType: string }) => WsReceiver;
  Sender: new (socket: Socket) => WsSender;
};

const require = createRequire(import.meta.url);
// spdy-transport ships no types; the test drives a handful of its methods.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const transport: any = require('spdy-transport');

/* eslint-disable @typescript-eslint/no-explicit-any */
export type SpdyConn = any;
export type SpdyClientStream = Duplex & { abort?: () => void };

export interface UpgradeResult {
  status: number;
  body: string;
  protocol?: string;
  conn?: SpdyConn;
  socket?: Socket;
}

/** POST with Upgrade: SPDY/3.1 and X-Stream-Protocol-Version, as client-go's SPDY dialer does. */
export function spdyUpgrade(url: string, protocols: string[]): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      if (head.length) socket.unshift(head);
      const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false });
      conn.start(3.1);
      conn.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, body: '', protocol: res.headers['x-stream-protocol-version'] as string | undefined, conn, socket });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export function openStream(conn: SpdyConn, headers: Record<string, string>): Promise<SpdyClientStream> {
  return new Promise((resolve, reject) =>
    conn.request({ method: 'POST', path: '/', host: 'berth', headers }, (err: Error | null, s: SpdyClientStream) => {
      if (err) return reject(err);
      s.on('error', () => {});
      resolve(s);
    }),
  );
}

export function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('close', () => setTimeout(() => resolve(Buffer.concat(parts)), 50));
  });
}

export interface ExecClientOptions {
  protocol?: string;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
  /** Called once the streams exist, to drive stdin and resize interactively. */
  interact?: (s: { stdin?: SpdyClientStream; resize?: SpdyClientStream; stdout?: SpdyClientStream }) => void | Promise<void>;
}

export interface ExecClientResult {
  protocol?: string;
  stdout: string;
  stderr: string;
  /** What the error stream carried: the Status JSON (v4) or a message. */
  error: string;
}

/** An exec/attach session as client-go's remotecommand v4 client runs it. */
export async function spdyExec(url: string, o: ExecClientOptions = {}): Promise<ExecClientResult> {
  const up = await spdyUpgrade(url, [o.protocol ?? 'v4.channel.k8s.io']);
  if (up.status !== 101) throw new Error(`upgrade refused: ${up.status} ${up.body}`);
  const conn = up.conn;
  const error = await openStream(conn, { streamtype: 'error' });
  error.end(); // the client never writes on the error stream
  const stdin = o.stdin ? await openStream(conn, { streamtype: 'stdin' }) : undefined;
  const stdout = o.stdout !== false ? await openStream(conn, { streamtype: 'stdout' }) : undefined;
  const stderr = o.stderr && !o.tty ? await openStream(conn, { streamtype: 'stderr' }) : undefined;
  const resize = o.tty ? await openStream(conn, { streamtype: 'resize' }) : undefined;
  const out = stdout ? readAll(stdout) : Promise.resolve(Buffer.alloc(0));
  const err = stderr ? readAll(stderr) : Promise.resolve(Buffer.alloc(0));
  const status = readAll(error);
  await o.interact?.({ stdin, resize, stdout });
  const [a, b, c] = await Promise.all([out, err, status]);
  up.socket!.destroy();
  return { protocol: up.protocol, stdout: a.toString(), stderr: b.toString(), error: c.toString() };
}

/** A port-forward connection over an open SPDY session: the error stream, then the data stream. */
export async function spdyForward(conn: SpdyConn, port: number, requestId: number): Promise<{ data: SpdyClientStream; error: Promise<string> }> {
  const error = await openStream(conn, { streamtype: 'error', port: String(port), requestid: String(requestId) });
  error.end();
  const data = await openStream(conn, { streamtype: 'data', port: String(port), requestid: String(requestId) });
  return { data, error: readAll(error).then((b) => b.toString()) };
}

/**
 * SPDY tunnelled through WebSocket binary messages, as crictl port-forward --transport websocket.
 * The subprotocol "SPDY/3.1+portforward.k8s.io" is outside RFC 6455's token syntax, which ws's
 * client refuses to send, so the handshake is done here and ws's own Sender/Receiver frame it.
 */
export function spdyOverWebSocket(url: string): Promise<{ conn: SpdyConn; close: () => void; protocol: string }> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const req = http.request(url, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Protocol': 'SPDY/3.1+portforward.k8s.io',
      },
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) return reject(new Error('bad Sec-WebSocket-Accept'));
      const receiver = new Receiver({ isServer: false, binaryType: 'nodebuffer' });
      const sender = new Sender(socket);
      const tunnel = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          sender.send(chunk, { binary: true, fin: true, mask: true, compress: false, rsv1: false, opcode: 2, readOnly: false }, cb);
        },
      });
      receiver.on('message', (data: Buffer) => tunnel.push(data));
      receiver.on('conclude', () => tunnel.push(null));
      receiver.on('error', () => socket.destroy());
      if (head.length) receiver.write(head);
      socket.pipe(receiver);
      socket.on('error', () => {});
      socket.on('close', () => tunnel.destroy());
      tunnel.on('error', () => {});
      const conn = transport.connection.create(tunnel, { protocol: 'spdy', isServer: false });
      conn.start(3.1);
      conn.on('error', () => {});
      resolve({ conn, close: () => socket.destroy(), protocol: String(res.headers['sec-websocket-protocol']) });
    });
    req.on('response', (res) => reject(new Error(`websocket upgrade refused: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface WsExecOptions {
  protocol?: string;
  /** Sent on channel 0; then (v5) the close signal for stdin. */
  stdin?: Buffer | string;
  interact?: (ws: WebSocket, output: () => string) => void | Promise<void>;
}

/** An exec/attach session as client-go's WebSocket executor runs it (channel-prefixed messages). */
export function wsExec(url: string, o: WsExecOptions = {}): Promise<ExecClientResult & { closeCode: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), [o.protocol ?? 'v5.channel.k8s.io']);
    const chans: Buffer[][] = [[], [], [], [], []];
    const text = (ch: number) => Buffer.concat(chans[ch]!).toString();
    ws.on('message', (d: Buffer) => {
      if (d.length && d[0]! < chans.length) chans[d[0]!]!.push(d.subarray(1));
    });
    ws.once('open', () => {
      void (async () => {
        if (o.stdin !== undefined) {
          ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(o.stdin)]));
          if (ws.protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([255, 0]));
        }
        await o.interact?.(ws, () => text(1));
      })();
    });
    ws.once('close', (code) => resolve({ protocol: ws.protocol, stdout: text(1), stderr: text(2), error: text(3), closeCode: code }));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`websocket upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}
