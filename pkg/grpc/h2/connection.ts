// One HTTP/2 connection of berth's server (RFC 9113), in plain JS over a net.Socket: the preface
// and SETTINGS exchange, request streams from HEADERS(+CONTINUATION) and DATA, flow control both
// ways, PING, RST_STREAM and GOAWAY. A peer's protocol error ends the connection with GOAWAY;
// nothing a peer sends can throw out of here. What goes out in one tick is written at once.
import type { Socket } from 'node:net';
import type { RequestHeaders, Trailers } from '../transport.js';
import {
  ConnectionError, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, FRAME_HEADER, Flag, type Frame, FrameReader, FrameType, H2Error, MAX_WINDOW,
  PREFACE, Setting, frameBytes, goawayFrame, headerFrames, rstStreamFrame, settingsFrame, unpad, windowUpdateFrame, writeHeader,
} from './frames.js';
import { HpackDecoder, HpackError, encodeHeaders, toHeaders } from './hpack.js';
import { H2Stream } from './stream.js';

export interface ConnectionOptions {
  /** Receive window given to each stream, and to the whole connection. */
  streamWindow: number;
  connectionWindow: number;
  onStream(stream: H2Stream, headers: RequestHeaders): void;
}

/** Largest header block taken (compressed): a CONTINUATION flood ends the connection. */
const MAX_HEADER_BLOCK = 256 * 1024;
const OK_HEADERS = encodeHeaders([[':status', '200'], ['content-type', 'application/grpc']]);
const OK_TRAILERS = encodeHeaders([['grpc-status', '0']]);

export class H2Connection {
  private readonly reader = new FrameReader();
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, H2Stream>();
  private prefaceLeft = PREFACE.length;
  private settingsSeen = false;
  private lastStream = 0;
  /** A header block still waiting for its CONTINUATION frames. */
  private partial: { stream: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sendWindow = DEFAULT_WINDOW;
  private recvWindow = DEFAULT_WINDOW;
  private unacked = 0;
  private out: Buffer[] = [];
  private awaitingDrain: (() => void)[] = [];
  private goingAway = false;
  private ending = false;
  private pings = new Map<string, () => void>();
  closed = false;

  constructor(readonly socket: Socket, private readonly opts: ConnectionOptions) {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.awaitingDrain.splice(0).forEach((f) => f()));
    socket.on('error', () => undefined); // a broken connection closes; it must not throw in the daemon
    socket.once('close', () => this.onClose());
    this.queue(settingsFrame([[Setting.INITIAL_WINDOW_SIZE, opts.streamWindow], [Setting.ENABLE_PUSH, 0]]));
    this.queue(windowUpdateFrame(0, opts.connectionWindow - DEFAULT_WINDOW));
    this.recvWindow = opts.connectionWindow;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Sends a PING; `onAck` when the client answers it. */
  ping(onAck: () => void): void {
    const payload = Buffer.allocUnsafe(8);
    payload.writeDoubleBE(Math.random());
    this.pings.set(payload.toString('hex'), onAck);
    this.queue(frameBytes(FrameType.PING, 0, 0, payload));
  }

  /** Takes no new stream; the connection closes once the streams in flight are done. */
  goAway(): void {
    if (this.goingAway || this.closed) return;
    this.goingAway = true;
    this.queue(goawayFrame(this.lastStream, H2Error.NO_ERROR));
    this.closeIfIdle();
  }

  destroy(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      if (this.prefaceLeft > 0) chunk = this.readPreface(chunk);
      if (chunk.length) this.reader.push(chunk, (f) => this.onFrame(f));
    } catch (err) {
      const code = err instanceof ConnectionError ? err.code : err instanceof HpackError ? H2Error.COMPRESSION_ERROR : H2Error.INTERNAL_ERROR;
      this.fail(code, (err as Error).message);
    }
  }

  private readPreface(chunk: Buffer): Buffer {
    const at = PREFACE.length - this.prefaceLeft;
    const n = Math.min(this.prefaceLeft, chunk.length);
    if (!chunk.subarray(0, n).equals(PREFACE.subarray(at, at + n))) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'not an HTTP/2 client preface');
    this.prefaceLeft -= n;
    return chunk.subarray(n);
  }

  private onFrame(f: Frame): void {
    if (!this.settingsSeen && f.type !== FrameType.SETTINGS) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'the first frame is not SETTINGS');
    if (this.partial && (f.type !== FrameType.CONTINUATION || f.stream !== this.partial.stream)) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a header block was interrupted');
    }
    switch (f.type) {
      case FrameType.DATA: return this.onDataFrame(f);
      case FrameType.HEADERS: return this.onHeaders(f);
      case FrameType.CONTINUATION: return this.onContinuation(f);
      case FrameType.PRIORITY: return checkLength(f, 5);
      case FrameType.RST_STREAM: return this.onRst(f);
      case FrameType.SETTINGS: return this.onSettings(f);
      case FrameType.PUSH_PROMISE: throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a client sent PUSH_PROMISE');
      case FrameType.PING: return this.onPing(f);
      case FrameType.GOAWAY: return this.onGoaway(f);
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(f);
      default: return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onSettings(f: Frame): void {
    if (f.stream !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (f.flags & Flag.ACK) {
      if (f.payload.length) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'a SETTINGS ack with a payload');
      return;
    }
    if (f.payload.length % 6) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
    this.settingsSeen = true;
    for (let i = 0; i < f.payload.length; i += 6) this.applySetting(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
    this.queue(frameBytes(FrameType.SETTINGS, Flag.ACK, 0));
  }

  private applySetting(id: number, value: number): void {
    if (id === Setting.INITIAL_WINDOW_SIZE) {
      if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, `initial window size ${value} over 2^31-1`);
      const delta = value - this.peerInitialWindow;
      this.peerInitialWindow = value;
      for (const s of this.streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'a stream window over 2^31-1');
      }
      if (delta > 0) this.flushAll();
    } else if (id === Setting.MAX_FRAME_SIZE) {
      if (value < DEFAULT_MAX_FRAME || value > 0xffffff) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `max frame size ${value} out of range`);
      this.peerMaxFrame = value;
    } else if (id === Setting.ENABLE_PUSH && value > 1) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, `enable push ${value}`);
    }
    // HEADER_TABLE_SIZE needs nothing: the encoder never adds to its dynamic table. The others
    // (concurrent streams, header list size) bound what a client opens, and a server opens nothing.
  }

  private onPing(f: Frame): void {
    checkLength(f, 8);
    if (f.stream !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
    if (!(f.flags & Flag.ACK)) return this.queue(frameBytes(FrameType.PING, Flag.ACK, 0, f.payload));
    const key = f.payload.toString('hex');
    const onAck = this.pings.get(key);
    this.pings.delete(key);
    onAck?.();
  }

  private onGoaway(f: Frame): void {
    if (f.stream !== 0 || f.payload.length < 8) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a malformed GOAWAY');
    this.goingAway = true; // the client opens nothing more: finish what is open, then close
    this.closeIfIdle();
  }

  private onHeaders(f: Frame): void {
    if (f.stream === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'HEADERS on stream 0');
    const block = unpad(f);
    const endStream = (f.flags & Flag.END_STREAM) !== 0;
    if (f.flags & Flag.END_HEADERS) return this.onHeaderBlock(f.stream, endStream, block);
    this.partial = { stream: f.stream, endStream, parts: [block], size: block.length };
  }

  private onContinuation(f: Frame): void {
    const p = this.partial;
    if (!p) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
    p.parts.push(f.payload);
    p.size += f.payload.length;
    if (p.size > MAX_HEADER_BLOCK) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, 'a header block over 256 KiB');
    if (!(f.flags & Flag.END_HEADERS)) return;
    this.partial = undefined;
    this.onHeaderBlock(p.stream, p.endStream, Buffer.concat(p.parts, p.size));
  }

  private onHeaderBlock(id: number, endStream: boolean, block: Buffer): void {
    // Decoded whatever becomes of the stream: the dynamic table must follow the client's.
    const fields = this.decoder.decode(block);
    const open = this.streams.get(id);
    if (open) {
      // Trailers from the client: gRPC sends none, but they end the request like END_STREAM.
      if (!endStream) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a second HEADERS without END_STREAM');
      return this.remoteEnd(open);
    }
    if (id <= this.lastStream) {
      if (id % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${id}, which a client cannot open`);
      return; // a stream this side already closed (reset): nothing to do
    }
    if (id % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on even stream ${id}`);
    this.lastStream = id;
    if (this.goingAway) return this.queue(rstStreamFrame(id, H2Error.REFUSED_STREAM));
    const s = new H2Stream(id, this, this.peerInitialWindow, this.opts.streamWindow);
    this.streams.set(id, s);
    s.remoteEnded = endStream; // so that an answer given at once closes the stream
    this.opts.onStream(s, toHeaders(fields));
    if (endStream) this.remoteEnd(s);
  }

  private onDataFrame(f: Frame): void {
    if (f.stream === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'DATA on stream 0');
    const len = f.payload.length;
    this.recvWindow -= len;
    if (this.recvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'DATA past the connection window');
    this.consumedConnection(len);
    const s = this.streams.get(f.stream);
    if (!s || s.remoteEnded) {
      if (f.stream > this.lastStream) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `DATA on idle stream ${f.stream}`);
      return; // a stream already reset or answered: its data is dropped
    }
    const body = unpad(f);
    s.recvWindow -= len;
    if (s.recvWindow < 0) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, `DATA past stream ${s.id}'s window`);
    if (body.length) s.emit('data', body);
    if (f.flags & Flag.END_STREAM) this.remoteEnd(s);
    else this.consumed(s, len);
  }

  private onRst(f: Frame): void {
    checkLength(f, 4);
    if (f.stream === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (f.stream > this.lastStream) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `RST_STREAM on idle stream ${f.stream}`);
    const s = this.streams.get(f.stream);
    if (s) this.forget(s);
  }

  private onWindowUpdate(f: Frame): void {
    checkLength(f, 4);
    const inc = f.payload.readUInt32BE(0) & MAX_WINDOW;
    if (f.stream === 0) {
      if (inc === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'the connection window over 2^31-1');
      return this.flushAll();
    }
    const s = this.streams.get(f.stream);
    if (!s) return;
    if (inc === 0) return this.resetStream(s, H2Error.PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.resetStream(s, H2Error.FLOW_CONTROL_ERROR);
    this.flushStream(s);
  }

  private remoteEnd(s: H2Stream): void {
    s.remoteEnded = true;
    if (s.closed) return;
    s.emit('end');
    if (s.localEnded) this.forget(s);
  }

  /** Gives the client back window for `len` bytes of a stream (withheld while it is paused). */
  consumed(s: H2Stream, len: number): void {
    s.unacked += len;
    if (s.paused || s.remoteEnded || s.unacked < this.opts.streamWindow / 2) return;
    this.queue(windowUpdateFrame(s.id, s.unacked));
    s.recvWindow += s.unacked;
    s.unacked = 0;
  }

  private consumedConnection(len: number): void {
    this.unacked += len;
    if (this.unacked < this.opts.connectionWindow / 2) return;
    this.queue(windowUpdateFrame(0, this.unacked));
    this.recvWindow += this.unacked;
    this.unacked = 0;
  }

  sendOkHeaders(s: H2Stream): void {
    this.queue(headerFrames(s.id, OK_HEADERS, false, this.peerMaxFrame));
  }

  sendTrailersOnly(s: H2Stream, status: Trailers): void {
    this.endWith(s, encodeHeaders([[':status', '200'], ['content-type', 'application/grpc'], ...trailerFields(status)]));
  }

  sendStatusOnly(s: H2Stream, status: number): void {
    this.endWith(s, encodeHeaders([[':status', String(status)], ['content-type', 'text/plain']]));
  }

  /** Sends as much of the stream's queue as the windows allow; the trailers once it is empty. */
  flushStream(s: H2Stream): void {
    while (s.queue.length) {
      const item = s.queue[0]!;
      const n = Math.min(item.data.length, this.sendWindow, s.sendWindow, this.peerMaxFrame);
      if (n <= 0 && item.data.length) return;
      const head = Buffer.allocUnsafe(FRAME_HEADER);
      writeHeader(head, 0, n, FrameType.DATA, 0, s.id);
      this.queue(head);
      if (n) this.queue(item.data.subarray(0, n));
      this.sendWindow -= n;
      s.sendWindow -= n;
      if (n < item.data.length) {
        item.data = item.data.subarray(n);
        continue;
      }
      s.queue.shift();
      if (item.cb) this.afterWrite(item.cb);
    }
    if (s.pendingTrailers) {
      const t = s.pendingTrailers;
      s.pendingTrailers = undefined;
      this.endWith(s, t['grpc-status'] === '0' && t['grpc-message'] === undefined ? OK_TRAILERS : encodeHeaders(trailerFields(t)));
    }
  }

  resetStream(s: H2Stream, code: H2Error): void {
    if (s.closed) return;
    this.queue(rstStreamFrame(s.id, code));
    this.forget(s);
  }

  private endWith(s: H2Stream, block: Buffer): void {
    this.queue(headerFrames(s.id, block, true, this.peerMaxFrame));
    s.localEnded = true;
    if (s.remoteEnded) return this.forget(s);
    // Answered before the request ended: tell the client to stop sending (RFC 9113 §8.1).
    this.resetStream(s, H2Error.NO_ERROR);
  }

  private forget(s: H2Stream): void {
    this.streams.delete(s.id);
    s.close();
    this.closeIfIdle();
  }

  private flushAll(): void {
    for (const s of this.streams.values()) if (s.queue.length || s.pendingTrailers) this.flushStream(s);
  }

  /** Runs `cb` once the socket took what is queued (at once unless it is backed up). */
  private afterWrite(cb: () => void): void {
    if (this.socket.writableNeedDrain) this.awaitingDrain.push(cb);
    else process.nextTick(cb);
  }

  private queue(buf: Buffer): void {
    if (this.closed) return;
    if (this.out.push(buf) === 1) process.nextTick(() => this.write());
  }

  private write(): void {
    const out = this.out;
    this.out = [];
    if (this.closed || !out.length) return;
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  private closeIfIdle(): void {
    if (!this.goingAway || this.streams.size || this.closed || this.ending) return;
    this.ending = true;
    process.nextTick(() => {
      this.write();
      this.socket.end(() => this.socket.destroy());
    });
  }

  /** A peer's protocol error: GOAWAY with its code, then the connection ends. */
  private fail(code: H2Error, message: string): void {
    if (this.closed) return;
    this.reader.stop();
    this.queue(goawayFrame(this.lastStream, code, message));
    this.write();
    this.socket.end(() => this.socket.destroy());
    this.onClose();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    this.awaitingDrain.splice(0).forEach((f) => f());
    for (const s of [...this.streams.values()]) this.forget(s);
  }
}

function checkLength(f: Frame, n: number): void {
  if (f.payload.length !== n) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame type ${f.type} of ${f.payload.length} bytes, not ${n}`);
}

function trailerFields(t: Trailers): [string, string][] {
  const out: [string, string][] = [['grpc-status', t['grpc-status']]];
  if (t['grpc-message'] !== undefined) out.push(['grpc-message', t['grpc-message']]);
  return out;
}
