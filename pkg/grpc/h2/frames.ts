// HTTP/2 framing (RFC 9113 §4, §6): the frame types and flags berth's server reads and writes,
// a reader that cuts a byte stream into frames whatever the chunk boundaries, and writers.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER = 9;
export const DEFAULT_MAX_FRAME = 16_384;
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;

export const enum FrameType { DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6, GOAWAY = 7, WINDOW_UPDATE = 8, CONTINUATION = 9 }
export const enum Flag { END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY = 0x20 }
export const enum Setting { HEADER_TABLE_SIZE = 1, ENABLE_PUSH = 2, MAX_CONCURRENT_STREAMS = 3, INITIAL_WINDOW_SIZE = 4, MAX_FRAME_SIZE = 5, MAX_HEADER_LIST_SIZE = 6 }
export const enum H2Error { NO_ERROR = 0, PROTOCOL_ERROR = 1, INTERNAL_ERROR = 2, FLOW_CONTROL_ERROR = 3, STREAM_CLOSED = 5, FRAME_SIZE_ERROR = 6, REFUSED_STREAM = 7, CANCEL = 8, COMPRESSION_ERROR = 9, ENHANCE_YOUR_CALM = 11 }

/** One frame; `payload` is a view into the received bytes (never reused, so it may be kept). */
export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** A peer's breach of the protocol: the connection ends with GOAWAY carrying `code`. */
export class ConnectionError extends Error {
  constructor(readonly code: H2Error, message: string) {
    super(message);
  }
}

/**
 * Cuts the bytes after the preface into frames. A frame longer than `maxFrame` (this side's
 * SETTINGS_MAX_FRAME_SIZE) is a FRAME_SIZE_ERROR.
 */
export class FrameReader {
  private pending: Buffer | undefined;
  private stopped = false;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Calls `onFrame` for each complete frame in what has arrived; keeps the rest. */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER) {
      const len = buf.readUIntBE(pos, 3);
      if (len > this.maxFrame) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `a frame of ${len} bytes is over the ${this.maxFrame}-byte limit`);
      if (buf.length - pos < FRAME_HEADER + len) break;
      const start = pos + FRAME_HEADER;
      onFrame({ type: buf[pos + 3]!, flags: buf[pos + 4]!, stream: buf.readUInt32BE(pos + 5) & MAX_WINDOW, payload: buf.subarray(start, start + len) });
      pos = start + len;
      if (this.stopped) return; // onFrame ended the connection
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
  }

  /** Reads no more: the connection is over. */
  stop(): void {
    this.stopped = true;
    this.pending = undefined;
  }
}

/** A frame header followed by its payload, as one buffer. */
export function frameBytes(type: FrameType, flags: number, stream: number, payload?: Uint8Array): Buffer {
  const len = payload ? payload.length : 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER + len);
  writeHeader(out, 0, len, type, flags, stream);
  if (payload) out.set(payload, FRAME_HEADER);
  return out;
}

export function writeHeader(out: Buffer, at: number, len: number, type: FrameType, flags: number, stream: number): void {
  out.writeUIntBE(len, at, 3);
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(stream, at + 5);
}

export function settingsFrame(settings: [Setting, number][]): Buffer {
  const p = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, v], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(v, 6 * i + 2);
  });
  return frameBytes(FrameType.SETTINGS, 0, 0, p);
}

export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const out = frameBytes(FrameType.WINDOW_UPDATE, 0, stream, Buffer.alloc(4));
  out.writeUInt32BE(increment, FRAME_HEADER);
  return out;
}

export function rstStreamFrame(stream: number, code: H2Error): Buffer {
  const out = frameBytes(FrameType.RST_STREAM, 0, stream, Buffer.alloc(4));
  out.writeUInt32BE(code, FRAME_HEADER);
  return out;
}

export function goawayFrame(lastStream: number, code: H2Error, debug = ''): Buffer {
  const d = Buffer.from(debug.slice(0, 200));
  const p = Buffer.allocUnsafe(8 + d.length);
  p.writeUInt32BE(lastStream, 0);
  p.writeUInt32BE(code, 4);
  d.copy(p, 8);
  return frameBytes(FrameType.GOAWAY, 0, 0, p);
}

/** A header block as HEADERS, then CONTINUATION frames when it is over `maxFrame`. */
export function headerFrames(stream: number, block: Buffer, endStream: boolean, maxFrame: number): Buffer {
  const es = endStream ? Flag.END_STREAM : 0;
  if (block.length <= maxFrame) return frameBytes(FrameType.HEADERS, es | Flag.END_HEADERS, stream, block);
  const parts: Buffer[] = [];
  for (let at = 0; at < block.length; at += maxFrame) {
    const last = at + maxFrame >= block.length;
    const type = at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (at === 0 ? es : 0) | (last ? Flag.END_HEADERS : 0);
    parts.push(frameBytes(type, flags, stream, block.subarray(at, at + maxFrame)));
  }
  return Buffer.concat(parts);
}

/** The payload of a DATA or HEADERS frame without its padding (and PRIORITY fields). */
export function unpad(f: Frame): Buffer {
  let p = f.payload;
  if (f.flags & Flag.PADDED) {
    if (p.length < 1) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'a padded frame has no pad length');
    const pad = p[0]!;
    if (pad >= p.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'padding longer than the frame');
    p = p.subarray(1, p.length - pad);
  }
  if (f.type === FrameType.HEADERS && f.flags & Flag.PRIORITY) {
    if (p.length < 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'a HEADERS frame is too short for its priority');
    p = p.subarray(5);
  }
  return p;
}
