// A server-side SPDY/3.1 session over any byte stream (a TCP socket after the HTTP upgrade, or a
// WebSocket tunnel). Peers open streams with SYN_STREAM; each is a Node Duplex here.
//
// Flow control: berth always tells the peer how much it consumed (WINDOW_UPDATE per stream and
// for the session), so a peer that enforces windows keeps sending. Kubernetes' own SPDY stack
// (moby/spdystream) neither sends WINDOW_UPDATE nor honours windows, so berth enforces its own
// send windows only once the peer has shown it speaks flow control (a SETTINGS or WINDOW_UPDATE
// frame); until then TCP back-pressure is the only limit, exactly as with kubelet.
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import {
  DEFAULT_WINDOW, dataHeader, encodeData, encodeGoAway, encodeRst, encodeSynReply, encodeWindowUpdate, encodePing,
  FLAG_FIN, FLAG_UNIDIRECTIONAL, FrameParser, FrameType, GoAwayStatus, MAX_DATA_FRAME, MAX_WINDOW,
  parseSettings, parseStreamHeaders, parseSynStream, parseTwoWords, RstStatus, Setting, SPDY_VERSION,
  SpdyProtocolError, type ControlFrame, type DataFrame, type HeaderBlock, type RawFrame,
} from './frames.js';
import { HeaderCodec } from './zlib.js';

/** Consumed bytes are acknowledged once this many have gathered (half the default window). */
const UPDATE_THRESHOLD = DEFAULT_WINDOW / 2;
/** Unsent bytes a session lets the socket hold before stream writers wait for it to drain. */
const WRITE_BUFFER_LIMIT = 512 * 1024;
/** Streams one session may hold open at once; more are refused (a bound on a hostile peer). */
const MAX_STREAMS = 1000;
/** How long close() waits for the peer to hang up before it destroys the socket. */
const CLOSE_GRACE_MS = 30_000;

export class SpdyStream extends Duplex {
  /** Set when the peer reset the stream (RST_STREAM status), or when berth did. */
  resetStatus: number | undefined;
  sendWindow: number;
  private recvUnacked = 0;
  private replied = false;
  private localFin = false;
  private remoteFin = false;
  private blocked: (() => void) | undefined;

  constructor(readonly session: SpdySession, readonly id: number, readonly headers: HeaderBlock, sendWindow: number) {
    super({ allowHalfOpen: true, highWaterMark: DEFAULT_WINDOW });
    this.sendWindow = sendWindow;
  }

  /** The first value of a request header (names are matched lowercase, as on the wire). */
  header(name: string): string | undefined {
    const v = this.headers[name.toLowerCase()];
    return v === undefined ? undefined : v.split('\0')[0];
  }

  /** Sends SYN_REPLY; the session does this for every stream its 'stream' listeners keep. */
  reply(headers: HeaderBlock = { ':status': '200', ':version': 'HTTP/1.1' }): void {
    if (this.replied || this.resetStatus !== undefined) return;
    this.replied = true;
    this.session.sendHeaders(headers, (block) => encodeSynReply(this.id, 0, block));
  }

  /** RST_STREAM to the peer and local teardown. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.resetStatus !== undefined || (this.localFin && this.remoteFin)) return;
    this.resetStatus = status;
    this.session.sendFrame(encodeRst(this.id, status));
    this.teardown();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendChunk(chunk, cb);
  }

  private sendChunk(chunk: Buffer, cb: (err?: Error | null) => void): void {
    let off = 0;
    const step = (): void => {
      while (off < chunk.length) {
        if (this.resetStatus !== undefined || this.localFin) return cb(new Error(`spdy stream ${this.id} is closed`));
        let n = Math.min(MAX_DATA_FRAME, chunk.length - off);
        if (this.session.peerFlowControl) {
          const avail = Math.min(this.sendWindow, this.session.sendWindow);
          if (avail <= 0) {
            this.blocked = step;
            this.session.waitWindow(this);
            return;
          }
          n = Math.min(n, avail);
        }
        this.sendWindow -= n;
        this.session.sendWindow -= n;
        this.session.sendFrame(dataHeader(this.id, 0, n), chunk.subarray(off, off + n));
        off += n;
      }
      this.session.whenWritable(() => cb());
    };
    step();
  }

  /** Called by the session when a window grew. */
  unblock(): void {
    const b = this.blocked;
    this.blocked = undefined;
    b?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localFin && this.resetStatus === undefined) {
      this.localFin = true;
      this.session.sendFrame(encodeData(this.id, FLAG_FIN, Buffer.alloc(0)));
    }
    this.maybeDone();
    cb();
  }

  override _read(): void {
    // Acknowledge once the reader has emptied the buffer (or enough gathered), not per chunk.
    this.ackConsumed(this.readableLength === 0);
    this.session.resumeFrom(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A stream destroyed locally before both sides finished is cancelled for the peer.
    if (this.resetStatus === undefined && !(this.localFin && this.remoteFin) && !this.session.closed) {
      this.resetStatus = RstStatus.CANCEL;
      this.session.sendFrame(encodeRst(this.id, RstStatus.CANCEL));
    }
    this.blocked = undefined;
    this.session.forget(this);
    cb(err);
  }

  /** @internal data from the peer */
  onData(frame: DataFrame): void {
    if (this.remoteFin) {
      this.reset(RstStatus.STREAM_ALREADY_CLOSED);
      return;
    }
    if (frame.payload.length) {
      this.recvUnacked += frame.payload.length;
      const more = this.push(frame.payload);
      if (more) this.ackConsumed(false);
      else this.session.pauseFor(this);
    }
    if (frame.flags & FLAG_FIN) this.onRemoteFin();
  }

  /** @internal */
  onRemoteFin(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
    this.maybeDone();
  }

  /** @internal */
  onReset(status: number): void {
    this.resetStatus = status;
    this.teardown();
  }

  /** @internal the stream is not allowed to send (unidirectional SYN_STREAM). */
  markLocalFin(): void {
    this.localFin = true;
  }

  private ackConsumed(force: boolean): void {
    if (this.recvUnacked > 0 && (force || this.recvUnacked >= UPDATE_THRESHOLD) && !this.remoteFin) {
      this.session.sendFrame(encodeWindowUpdate(this.id, this.recvUnacked));
      this.recvUnacked = 0;
    }
  }

  private maybeDone(): void {
    if (this.localFin && this.remoteFin) this.session.forget(this);
  }

  private teardown(): void {
    if (!this.remoteFin) {
      this.remoteFin = true;
      this.push(null);
    }
    this.localFin = true;
    this.blocked = undefined;
    this.session.forget(this);
    this.destroy();
  }
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  close: [Error | undefined];
}

/** Server side of one SPDY connection. Emits 'stream' for each SYN_STREAM, 'close' once. */
export class SpdySession extends EventEmitter<SpdySessionEvents> {
  /** True once the peer sent SETTINGS or WINDOW_UPDATE: from then on its windows are honoured. */
  peerFlowControl = false;
  sendWindow = DEFAULT_WINDOW;
  closed = false;
  private initialSendWindow = DEFAULT_WINDOW;
  private readonly codec = new HeaderCodec();
  private readonly parser = new FrameParser();
  private readonly streams = new Map<number, SpdyStream>();
  private lastPeerStreamId = 0;
  private goneAway = false;
  private peerGoneAway = false;
  private recvUnacked = 0;
  private readonly out: { buf?: Buffer; ready: boolean }[] = [];
  private drainWaiters: (() => void)[] = [];
  private needDrain = false;
  private readonly inbox: RawFrame[] = [];
  private processing = false;
  private readonly windowWaiters = new Set<SpdyStream>();
  private readonly pausedBy = new Set<SpdyStream>();
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly socket: Duplex) {
    super();
    // Frames are small and written back to back: Nagle would hold each for a delayed ACK.
    if (socket instanceof Socket) socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('end', () => this.destroy());
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Queues a frame in send order (after any header block still being compressed). */
  sendFrame(frame: Buffer, payload?: Buffer): void {
    if (this.closed) return;
    this.out.push({ buf: frame, ready: true });
    if (payload?.length) this.out.push({ buf: payload, ready: true });
    this.flush();
  }

  /** Queues a frame whose header block must be compressed first; order is kept. */
  sendHeaders(headers: HeaderBlock, build: (block: Buffer) => Buffer): void {
    if (this.closed) return;
    const slot: { buf?: Buffer; ready: boolean } = { ready: false };
    this.out.push(slot);
    this.codec.encode(headers).then(
      (block) => {
        slot.buf = build(block);
        slot.ready = true;
        this.flush();
      },
      (err: Error) => this.destroy(err),
    );
  }

  /** Runs fn once the socket has room again (at once when it has). */
  afterDrain(fn: () => void): void {
    if (!this.needDrain && this.out.length === 0) fn();
    else if (this.closed) fn();
    else this.drainWaiters.push(fn);
  }

  /**
   * Runs fn while the socket holds less than WRITE_BUFFER_LIMIT unsent bytes, else once it has
   * drained: stream writers keep a few frames in flight instead of one per event-loop turn.
   */
  whenWritable(fn: () => void): void {
    if (this.closed || (this.out.length === 0 && this.socket.writableLength < WRITE_BUFFER_LIMIT)) fn();
    else this.drainWaiters.push(fn);
  }

  ping(id: number): void {
    this.sendFrame(encodePing(id));
  }

  /**
   * GOAWAY: no new streams. The peer hangs up once it has read everything (client-go closes the
   * connection when its streams end); ending the socket first would race its reader, so berth
   * only hangs up itself if the peer lingers past the grace period.
   */
  close(): void {
    if (this.closed || this.closeTimer) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.sendFrame(encodeGoAway(this.lastPeerStreamId, GoAwayStatus.OK));
    }
    this.closeTimer = setTimeout(() => this.afterDrain(() => this.destroy()), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  destroy(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    for (const s of [...this.streams.values()]) {
      s.resetStatus ??= RstStatus.CANCEL;
      s.destroy();
    }
    this.streams.clear();
    this.codec.close();
    this.socket.destroy();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    this.emit('close', err);
  }

  /** @internal */
  forget(s: SpdyStream): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.windowWaiters.delete(s);
    this.resumeFrom(s);
    if (this.peerGoneAway && this.streams.size === 0) this.destroy();
  }

  /** @internal a stream waits for send window */
  waitWindow(s: SpdyStream): void {
    this.windowWaiters.add(s);
  }

  /** @internal a stream's reader is full: stop reading the socket if windows do not bound the peer. */
  pauseFor(s: SpdyStream): void {
    if (this.peerFlowControl) return;
    this.pausedBy.add(s);
    this.socket.pause();
  }

  /** @internal */
  resumeFrom(s: SpdyStream): void {
    if (this.pausedBy.delete(s) && this.pausedBy.size === 0 && !this.closed) this.socket.resume();
  }

  private flush(): void {
    // Corked, so a frame header and its payload leave in one writev.
    this.socket.cork();
    while (this.out.length && this.out[0]!.ready) {
      const { buf } = this.out.shift()!;
      if (!this.socket.writable) continue;
      if (!this.socket.write(buf!)) this.needDrain = true;
    }
    this.socket.uncork();
    if (!this.needDrain && this.out.length === 0) this.onDrain();
  }

  private onDrain(): void {
    this.needDrain = false;
    if (this.out.length) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private onBytes(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.inbox.push(...this.parser.push(chunk));
    } catch (err) {
      return this.protocolError(err as Error);
    }
    void this.process();
  }

  /** Frames are handled strictly in order; header blocks make this asynchronous. */
  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.inbox.length && !this.closed) {
        const f = this.inbox.shift()!;
        if (f.control) await this.onControl(f);
        else this.onDataFrame(f);
      }
    } catch (err) {
      this.protocolError(err as Error);
    } finally {
      this.processing = false;
    }
  }

  private protocolError(err: Error): void {
    if (this.closed) return;
    this.sendFrame(encodeGoAway(this.lastPeerStreamId, GoAwayStatus.PROTOCOL_ERROR));
    this.goneAway = true;
    this.afterDrain(() => this.destroy(err));
  }

  private onDataFrame(f: DataFrame): void {
    this.recvUnacked += f.payload.length;
    if (this.recvUnacked >= UPDATE_THRESHOLD) {
      this.sendFrame(encodeWindowUpdate(0, this.recvUnacked));
      this.recvUnacked = 0;
    }
    const s = this.streams.get(f.streamId);
    if (!s) {
      if (f.streamId > this.lastPeerStreamId || f.streamId % 2 === 0) this.sendFrame(encodeRst(f.streamId, RstStatus.INVALID_STREAM));
      return;
    }
    s.onData(f);
  }

  private async onControl(f: ControlFrame): Promise<void> {
    if (f.version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${f.version}`);
    switch (f.type) {
      case FrameType.SYN_STREAM: {
        const syn = parseSynStream(f.payload);
        const headers = await this.codec.decode(syn.block);
        return this.onSynStream(syn.streamId, f.flags, headers);
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        // A server never gets SYN_REPLY (it opens no streams); HEADERS carry nothing berth uses.
        // Both blocks still go through the shared inflate context to keep it in step.
        const h = parseStreamHeaders(f.payload, f.type === FrameType.HEADERS ? 'HEADERS' : 'SYN_REPLY');
        await this.codec.decode(h.block);
        if (f.flags & FLAG_FIN) this.streams.get(h.streamId)?.onRemoteFin();
        return;
      }
      case FrameType.RST_STREAM: {
        const r = parseTwoWords(f.payload, 'RST_STREAM');
        this.streams.get(r.a)?.onReset(r.b);
        return;
      }
      case FrameType.SETTINGS:
        return this.onSettings(parseSettings(f.payload));
      case FrameType.PING: {
        if (f.payload.length < 4) throw new SpdyProtocolError('PING frame too short');
        const id = f.payload.readUInt32BE(0);
        if (id % 2 === 1) this.sendFrame(encodePing(id)); // peer-initiated: echo it
        return;
      }
      case FrameType.GOAWAY:
        // The peer opens no more streams; the ones open run to their end.
        this.goneAway = true;
        this.peerGoneAway = true;
        if (this.streams.size === 0) this.afterDrain(() => this.destroy());
        return;
      case FrameType.WINDOW_UPDATE: {
        const w = parseTwoWords(f.payload, 'WINDOW_UPDATE');
        return this.onWindowUpdate(w.a, w.b & 0x7fffffff);
      }
      default:
        return; // CREDENTIAL and unknown control frames are ignored, as the spec says
    }
  }

  private onSynStream(id: number, flags: number, headers: HeaderBlock): void {
    if (id % 2 === 0 || id <= this.lastPeerStreamId) {
      this.sendFrame(encodeRst(id, id <= this.lastPeerStreamId && this.streams.has(id) ? RstStatus.STREAM_IN_USE : RstStatus.PROTOCOL_ERROR));
      return;
    }
    this.lastPeerStreamId = id;
    if (this.goneAway || this.streams.size >= MAX_STREAMS) {
      this.sendFrame(encodeRst(id, RstStatus.REFUSED_STREAM));
      return;
    }
    const s = new SpdyStream(this, id, headers, this.initialSendWindow);
    this.streams.set(id, s);
    if (flags & FLAG_UNIDIRECTIONAL) s.markLocalFin();
    this.emit('stream', s);
    s.reply();
    if (flags & FLAG_FIN) s.onRemoteFin();
  }

  private onSettings(entries: { id: number; value: number }[]): void {
    this.peerFlowControl = true;
    for (const e of entries) {
      if (e.id !== Setting.INITIAL_WINDOW_SIZE) continue;
      if (e.value > MAX_WINDOW) throw new SpdyProtocolError(`INITIAL_WINDOW_SIZE ${e.value} too large`);
      const delta = e.value - this.initialSendWindow;
      this.initialSendWindow = e.value;
      for (const s of this.streams.values()) s.sendWindow += delta;
    }
    this.wakeWriters();
  }

  private onWindowUpdate(id: number, delta: number): void {
    this.peerFlowControl = true;
    if (id === 0) {
      this.sendWindow += delta;
      if (this.sendWindow > MAX_WINDOW) throw new SpdyProtocolError('session window overflow');
    } else {
      const s = this.streams.get(id);
      if (!s) return;
      s.sendWindow += delta;
      if (s.sendWindow > MAX_WINDOW) return s.reset(RstStatus.FLOW_CONTROL_ERROR);
    }
    this.wakeWriters();
  }

  private wakeWriters(): void {
    if (this.sendWindow <= 0) return;
    for (const s of [...this.windowWaiters]) {
      if (s.sendWindow <= 0) continue;
      this.windowWaiters.delete(s);
      s.unblock();
    }
  }
}
