// berth's HTTP/2 server spoken to frame by frame over a real unix socket: the SETTINGS and PING
// exchanges, padded and prioritised HEADERS split over CONTINUATION, Huffman-coded headers, flow
// control both ways, protocol errors answered with GOAWAY, and random bytes that must not crash it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcServer, type MethodDef, type Respond, type UnaryCall } from '../server.js';
import type { ServerReadableCall } from '../calls.js';
import { MessageReader, frame } from '../wire.js';
import { Flag, type Frame, FrameReader, FrameType, H2Error, PREFACE, Setting, frameBytes, settingsFrame, windowUpdateFrame } from './frames.js';
import { HpackDecoder, encodeHeaders } from './hpack.js';
import { huffmanEncode } from './huffman.js';

const raw = (b: Buffer): Buffer => b;
const def = (p: string, requestStream = false): MethodDef => ({ path: p, requestStream, responseStream: false, requestDeserialize: raw, responseSerialize: raw });
const BIG = 16 * 1024 * 1024 - 64;

/** A client that writes raw bytes and collects the frames the server sends. */
class RawClient {
  readonly frames: Frame[] = [];
  readonly socket: net.Socket;
  closed = false;
  private readonly reader = new FrameReader(1 << 24);
  private waiters: (() => void)[] = [];

  constructor(socket: string) {
    this.socket = net.connect(socket);
    this.socket.on('data', (c: Buffer) => {
      this.reader.push(c, (f) => this.frames.push({ ...f, payload: Buffer.from(f.payload) }));
      this.wake();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** The preface and an empty SETTINGS, plus `settings`. */
  start(settings: [Setting, number][] = []): this {
    this.socket.write(Buffer.concat([PREFACE, settingsFrame(settings)]));
    return this;
  }

  send(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs));
  }

  /** Waits for a frame matching `pred` (or the socket closing, then undefined). */
  async next(pred: (f: Frame) => boolean): Promise<Frame | undefined> {
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.closed) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private wake(): void {
    this.waiters.splice(0).forEach((w) => w());
  }
}

const request = (p: string, extra: [string, string][] = []): Buffer =>
  encodeHeaders([[':method', 'POST'], [':scheme', 'http'], [':path', p], [':authority', 'localhost'], ['content-type', 'application/grpc'], ['te', 'trailers'], ...extra]);

describe('berth HTTP/2 server, frame by frame', () => {
  let dir: string;
  let socket: string;
  let server: GrpcServer;
  let uploaded = 0;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-h2-'));
    socket = path.join(dir, 's.sock');
    server = new GrpcServer({ maxMessageBytes: 16 * 1024 * 1024, transport: 'h2' });
    server.addMethod(def('/t.S/Echo'), (c: UnaryCall, respond: Respond) => respond(null, c.request));
    server.addMethod(def('/t.S/Big'), (_c: UnaryCall, respond: Respond) => respond(null, Buffer.alloc(BIG, 9)));
    server.addMethod(def('/t.S/Upload', true), (c: ServerReadableCall, respond: Respond) => {
      void (async () => {
        let n = 0;
        for await (const m of c) {
          n += (m as Buffer).length;
          await new Promise((r) => setImmediate(r)); // a slow reader: the stream is paused meanwhile
        }
        uploaded = n;
        respond(null, Buffer.from(String(n)));
      })();
    });
    await server.listen(socket);
  });

  after(async () => {
    await server.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('exchanges SETTINGS (each side acks), raises its windows, and answers PING with an ack', async () => {
    const c = new RawClient(socket).start();
    const settings = (await c.next((f) => f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK)))!;
    assert.equal(settings.payload.readUInt16BE(0), Setting.INITIAL_WINDOW_SIZE);
    assert.equal(settings.payload.readUInt32BE(2), 1 << 20);
    const wu = (await c.next((f) => f.type === FrameType.WINDOW_UPDATE))!;
    assert.equal(wu.stream, 0);
    assert.equal(wu.payload.readUInt32BE(0), (16 << 20) - 65535);
    assert.ok(await c.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0), 'our SETTINGS acked');
    c.send(frameBytes(FrameType.PING, 0, 0, Buffer.from('berth-h2')));
    const pong = (await c.next((f) => f.type === FrameType.PING))!;
    assert.equal(pong.flags, Flag.ACK);
    assert.equal(pong.payload.toString(), 'berth-h2');
    c.socket.destroy();
  });

  it('reads padded, prioritised HEADERS over CONTINUATION with Huffman strings, and padded DATA with two messages in one frame', async () => {
    const c = new RawClient(socket).start();
    // ':path' Huffman-coded as nghttp2 and grpc-go send it: a literal with incremental indexing.
    const p = huffmanEncode('/t.S/Echo');
    const hdr = Buffer.concat([Buffer.from([0x83, 0x86, 0x44, 0x80 | p.length]), p, encodeHeaders([['content-type', 'application/grpc']])]);
    const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), hdr.subarray(0, 5), Buffer.alloc(3)]);
    c.send(
      frameBytes(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, padded),
      frameBytes(FrameType.CONTINUATION, 0, 1, hdr.subarray(5, 9)),
      frameBytes(FrameType.CONTINUATION, Flag.END_HEADERS, 1, hdr.subarray(9)),
    );
    const body = Buffer.concat([frame(Buffer.from('one')), frame(Buffer.from('two'))]);
    c.send(frameBytes(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([2]), body, Buffer.alloc(2)])));
    const trailers = (await c.next((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0))!;
    const fields = new HpackDecoder().decode(trailers.payload);
    assert.deepEqual(fields.slice(-2), [['grpc-status', '3'], ['grpc-message', '/t.S/Echo takes one request message, the client sent more']]);
    c.socket.destroy();
  });

  it('sends no more DATA than the client window allows, and the rest after WINDOW_UPDATE', async () => {
    const c = new RawClient(socket).start([[Setting.INITIAL_WINDOW_SIZE, 10]]);
    c.send(frameBytes(FrameType.HEADERS, Flag.END_HEADERS, 1, request('/t.S/Echo')), frameBytes(FrameType.DATA, Flag.END_STREAM, 1, frame(Buffer.from('0123456789abcdef'))));
    const first = (await c.next((f) => f.type === FrameType.DATA))!;
    assert.equal(first.payload.length, 10, 'the stream window');
    c.send(windowUpdateFrame(1, 100));
    const rest = (await c.next((f) => f.type === FrameType.DATA))!;
    assert.equal(Buffer.concat([first.payload, rest.payload]).subarray(5).toString(), '0123456789abcdef');
    assert.ok(await c.next((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0), 'trailers after the data');
    c.socket.destroy();
  });

  for (const [what, bytes, code] of [
    ['DATA on stream 0', frameBytes(FrameType.DATA, 0, 0, Buffer.from('x')), H2Error.PROTOCOL_ERROR],
    ['HEADERS on an even stream', frameBytes(FrameType.HEADERS, Flag.END_HEADERS, 2, request('/t.S/Echo')), H2Error.PROTOCOL_ERROR],
    ['a frame over the max frame size', frameBytes(FrameType.DATA, 0, 1, Buffer.alloc(16_385)), H2Error.FRAME_SIZE_ERROR],
    ['a header block that does not decode', frameBytes(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x80])), H2Error.COMPRESSION_ERROR],
    ['a WINDOW_UPDATE of 0 on the connection', frameBytes(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)), H2Error.PROTOCOL_ERROR],
    ['PING of 7 bytes', frameBytes(FrameType.PING, 0, 0, Buffer.alloc(7)), H2Error.FRAME_SIZE_ERROR],
    ['HEADERS interrupted before CONTINUATION', Buffer.concat([frameBytes(FrameType.HEADERS, 0, 1, request('/t.S/Echo')), frameBytes(FrameType.PING, 0, 0, Buffer.alloc(8))]), H2Error.PROTOCOL_ERROR],
  ] as const) {
    it(`answers ${what} with GOAWAY ${code} and closes`, async () => {
      const c = new RawClient(socket).start();
      c.send(bytes);
      const goaway = (await c.next((f) => f.type === FrameType.GOAWAY))!;
      assert.ok(goaway, 'a GOAWAY');
      assert.equal(goaway.payload.readUInt32BE(4), code);
      await c.next(() => false);
      assert.ok(c.closed);
    });
  }

  it('refuses a connection that does not open with the preface', async () => {
    const c = new RawClient(socket);
    c.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal((await c.next((f) => f.type === FrameType.GOAWAY))?.payload.readUInt32BE(4), H2Error.PROTOCOL_ERROR);
  });

  it('survives random and truncated input (fuzz), then still answers a call', async () => {
    const valid = Buffer.concat([
      frameBytes(FrameType.HEADERS, Flag.END_HEADERS, 1, request('/t.S/Echo')),
      frameBytes(FrameType.DATA, Flag.END_STREAM, 1, frame(Buffer.from('x'))),
      frameBytes(FrameType.PING, 0, 0, Buffer.alloc(8)),
    ]);
    for (let i = 0; i < 300; i++) {
      const c = new RawClient(socket).start();
      const cut = valid.subarray(0, Math.floor(Math.random() * valid.length));
      const noise = randomBytes(1 + Math.floor(Math.random() * 64));
      if (i % 3 === 0) noise[3] = Math.floor(Math.random() * 10); // a known frame type
      c.send(i % 2 ? Buffer.concat([cut, noise]) : Buffer.concat([noise, cut]));
      c.socket.end();
      await c.next(() => false);
    }
    const answer = await unary(socket, '/t.S/Echo', Buffer.from('still here'));
    assert.equal(answer.toString(), 'still here');
  });

  it('sends a 16 MiB answer through a node:http2 client with default 64 KiB windows', async () => {
    const got = await unary(socket, '/t.S/Big', Buffer.alloc(0));
    assert.equal(got.length, BIG);
    assert.ok(got.every((b) => b === 9));
  });

  it('takes a large client stream while its reader lags (windows given back as it reads)', async () => {
    const chunks = Array.from({ length: 40 }, () => frame(Buffer.alloc(200_000, 1)));
    const got = await unary(socket, '/t.S/Upload', ...chunks);
    assert.equal(got.toString(), String(40 * 200_000));
    assert.equal(uploaded, 40 * 200_000);
  });

  it('closes once the calls in flight are done after a client GOAWAY', async () => {
    const c = new RawClient(socket).start();
    c.send(frameBytes(FrameType.HEADERS, Flag.END_HEADERS, 1, request('/t.S/Echo')));
    c.send(frameBytes(FrameType.GOAWAY, 0, 0, Buffer.alloc(8)));
    c.send(frameBytes(FrameType.DATA, Flag.END_STREAM, 1, frame(Buffer.from('last'))));
    assert.ok(await c.next((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0), 'the call in flight answered');
    await c.next(() => false);
    assert.ok(c.closed);
  });
});

/** One unary call with node:http2's client; the framed request body parts already framed. */
function unary(socket: string, p: string, ...body: Buffer[]): Promise<Buffer> {
  const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
  return new Promise<Buffer>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': p, 'content-type': 'application/grpc', te: 'trailers' });
    const reader = new MessageReader(1 << 24);
    const msgs: Buffer[] = [];
    stream.on('data', (c: Buffer) => msgs.push(...reader.push(c)));
    stream.on('trailers', (t) => (t['grpc-status'] === '0' ? resolve(Buffer.concat(msgs)) : reject(new Error(String(t['grpc-message'])))));
    stream.on('error', reject);
    if (body.length === 1 && body[0]!.length === 0) stream.end(frame(Buffer.alloc(0)));
    else if (body.length === 1 && p !== '/t.S/Upload') stream.end(frame(body[0]!));
    else {
      for (const b of body) stream.write(b);
      stream.end();
    }
  }).finally(() => session.close());
}
