// SPDY/3 (3.1) framing: the 8-byte frame header, control frame payloads and name/value header
// blocks. Everything here is synchronous and pure; compression lives in zlib.ts and the stream
// state machine in session.ts.

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
  CREDENTIAL: 10,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

export const Setting = {
  MAX_CONCURRENT_STREAMS: 4,
  INITIAL_WINDOW_SIZE: 7,
} as const;

/** 64 KiB: the initial stream and session window of SPDY/3 and 3.1. */
export const DEFAULT_WINDOW = 64 * 1024;
/** The largest delta or window the protocol allows (31 bits). */
export const MAX_WINDOW = 0x7fffffff;
/** Frame lengths are 24 bits; berth sends DATA frames of at most a pipe read (64 KiB). */
export const MAX_DATA_FRAME = 64 * 1024;
const MAX_FRAME_LENGTH = 0xffffff;

export type ControlFrame = { control: true; version: number; type: number; flags: number; payload: Buffer };
export type DataFrame = { control: false; streamId: number; flags: number; payload: Buffer };
export type RawFrame = ControlFrame | DataFrame;

/** Header names are lowercase on the wire; a name with several values joins them with NUL. */
export type HeaderBlock = Record<string, string>;

export class SpdyProtocolError extends Error {}

/** Splits a byte stream into frames; keeps the incomplete tail for the next push. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RawFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: RawFrame[] = [];
    let off = 0;
    while (this.buf.length - off >= 8) {
      const length = this.buf.readUIntBE(off + 5, 3);
      if (this.buf.length - off < 8 + length) break;
      const flags = this.buf[off + 4]!;
      const payload = this.buf.subarray(off + 8, off + 8 + length);
      const first = this.buf.readUInt32BE(off);
      if (first & 0x80000000) {
        out.push({ control: true, version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, payload });
      } else {
        out.push({ control: false, streamId: first & 0x7fffffff, flags, payload });
      }
      off += 8 + length;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
    return out;
  }
}

function header(first: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_LENGTH) throw new SpdyProtocolError(`frame of ${length} bytes exceeds 24-bit length`);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(first >>> 0, 0);
  h[4] = flags;
  h.writeUIntBE(length, 5, 3);
  return h;
}

export function encodeControl(type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([header((0x8000 | SPDY_VERSION) * 0x10000 + type, flags, payload.length), payload]);
}

export function encodeData(streamId: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([header(streamId & 0x7fffffff, flags, data.length), data]);
}

/** A DATA frame's 8-byte header alone, for writing header and payload without a copy. */
export function dataHeader(streamId: number, flags: number, length: number): Buffer {
  return header(streamId & 0x7fffffff, flags, length);
}

const u32 = (...values: number[]): Buffer => {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
};

export const encodeSynStream = (streamId: number, assoc: number, priority: number, flags: number, block: Buffer) =>
  encodeControl(
    FrameType.SYN_STREAM,
    flags,
    Buffer.concat([u32(streamId & 0x7fffffff, assoc & 0x7fffffff), Buffer.from([(priority & 7) << 5, 0]), block]),
  );
export const encodeSynReply = (streamId: number, flags: number, block: Buffer) =>
  encodeControl(FrameType.SYN_REPLY, flags, Buffer.concat([u32(streamId & 0x7fffffff), block]));
export const encodeHeaders = (streamId: number, flags: number, block: Buffer) =>
  encodeControl(FrameType.HEADERS, flags, Buffer.concat([u32(streamId & 0x7fffffff), block]));
export const encodeRst = (streamId: number, status: number) =>
  encodeControl(FrameType.RST_STREAM, 0, u32(streamId & 0x7fffffff, status));
export const encodePing = (id: number) => encodeControl(FrameType.PING, 0, u32(id));
export const encodeGoAway = (lastGoodStreamId: number, status: number) =>
  encodeControl(FrameType.GOAWAY, 0, u32(lastGoodStreamId & 0x7fffffff, status));
export const encodeWindowUpdate = (streamId: number, delta: number) =>
  encodeControl(FrameType.WINDOW_UPDATE, 0, u32(streamId & 0x7fffffff, delta & 0x7fffffff));
export function encodeSettings(entries: { id: number; value: number; flags?: number }[]): Buffer {
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    b.writeUInt32BE((((e.flags ?? 0) & 0xff) * 0x1000000 + (e.id & 0xffffff)) >>> 0, 4 + i * 8);
    b.writeUInt32BE(e.value >>> 0, 8 + i * 8);
  });
  return encodeControl(FrameType.SETTINGS, 0, b);
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame too short (${payload.length} bytes)`);
}

export function parseSynStream(p: Buffer) {
  need(p, 10, 'SYN_STREAM');
  return {
    streamId: p.readUInt32BE(0) & 0x7fffffff,
    assocId: p.readUInt32BE(4) & 0x7fffffff,
    priority: p[8]! >> 5,
    block: p.subarray(10),
  };
}
/** SYN_REPLY and HEADERS share a layout: stream id, then the header block. */
export function parseStreamHeaders(p: Buffer, what: string) {
  need(p, 4, what);
  return { streamId: p.readUInt32BE(0) & 0x7fffffff, block: p.subarray(4) };
}
export function parseTwoWords(p: Buffer, what: string) {
  need(p, 8, what);
  return { a: p.readUInt32BE(0) & 0x7fffffff, b: p.readUInt32BE(4) };
}
export function parseSettings(p: Buffer): { id: number; flags: number; value: number }[] {
  need(p, 4, 'SETTINGS');
  const n = p.readUInt32BE(0);
  if (p.length < 4 + n * 8) throw new SpdyProtocolError(`SETTINGS frame announces ${n} entries in ${p.length} bytes`);
  const out = [];
  for (let i = 0; i < n; i++) {
    const w = p.readUInt32BE(4 + i * 8);
    out.push({ flags: w >>> 24, id: w & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
  }
  return out;
}

/** Serializes a header block before compression: count, then length-prefixed names and values. */
export function serializeHeaders(headers: HeaderBlock): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function parseHeaders(b: Buffer): HeaderBlock {
  const read = (off: number): [Buffer, number] => {
    if (off + 4 > b.length) throw new SpdyProtocolError('header block truncated');
    const len = b.readUInt32BE(off);
    if (off + 4 + len > b.length) throw new SpdyProtocolError('header block entry overruns the block');
    return [b.subarray(off + 4, off + 4 + len), off + 4 + len];
  };
  if (b.length < 4) throw new SpdyProtocolError('header block truncated');
  const n = b.readUInt32BE(0);
  const out: HeaderBlock = {};
  let off = 4;
  for (let i = 0; i < n; i++) {
    const [name, o1] = read(off);
    const [value, o2] = read(o1);
    off = o2;
    if (name.length === 0) throw new SpdyProtocolError('empty header name');
    const key = name.toString('utf8').toLowerCase();
    out[key] = key in out ? `${out[key]}\0${value.toString('utf8')}` : value.toString('utf8');
  }
  return out;
}

/** The first value of a header (values of one name are NUL-separated on the wire). */
export function headerValue(h: HeaderBlock, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return v === undefined ? undefined : v.split('\0')[0];
}
