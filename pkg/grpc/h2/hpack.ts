// HPACK (RFC 7541) for berth's HTTP/2 server: a full decoder (static and dynamic tables, size
// updates, eviction, Huffman strings) for what clients send, and an encoder that writes only
// static-table indexes and literals without indexing, so the server keeps no encoder state.
import type { RequestHeaders } from '../transport.js';
import { huffmanDecode } from './huffman.js';

/** RFC 7541 Appendix A; index 1 is STATIC[0]. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** A malformed header block: a connection error (COMPRESSION_ERROR) for the caller. */
export class HpackError extends Error {}

/**
 * The largest decoded header list taken (RFC 9113's header list size: octets plus 32 a field):
 * a small block that indexes one big table entry again and again must not grow without bound.
 */
export const MAX_HEADER_LIST = 1 << 20;

/** A decoded header list in arrival order, as [name, value] pairs. */
export type HeaderList = [string, string][];

/** Decodes header blocks; one per connection, since the dynamic table spans the connection. */
export class HpackDecoder {
  /** Newest first. */
  private table: [string, string][] = [];
  private size = 0;
  private maxSize: number;

  /** `limit` is the SETTINGS_HEADER_TABLE_SIZE this side advertised (the default 4096). */
  constructor(private readonly limit = 4096) {
    this.maxSize = limit;
  }

  /** The dynamic table's size in octets (entries count 32 each beyond their text). */
  get tableSize(): number {
    return this.size;
  }

  decode(block: Uint8Array): HeaderList {
    const out: HeaderList = [];
    const r = { pos: 0 };
    let fieldSeen = false;
    let listSize = 0;
    while (r.pos < block.length) {
      const b = block[r.pos]!;
      let field: [string, string];
      if (b & 0x80) {
        field = this.entry(readInt(block, r, 7));
      } else if (b & 0x40) {
        field = this.literal(block, r, 6);
        this.insert(field);
      } else if (b & 0x20) {
        // A size update belongs at the start of a block (RFC 7541 §4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const size = readInt(block, r, 5);
        if (size > this.limit) throw new HpackError(`dynamic table size update ${size} over the ${this.limit} allowed`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        field = this.literal(block, r, 4); // without indexing, or never indexed (0x10)
      }
      listSize += field[0].length + field[1].length + 32;
      if (listSize > MAX_HEADER_LIST) throw new HpackError(`a header list over ${MAX_HEADER_LIST} octets`);
      out.push(field);
      fieldSeen = true;
    }
    return out;
  }

  private entry(index: number): [string, string] {
    if (index === 0) throw new HpackError('header index 0');
    if (index <= STATIC.length) return STATIC[index - 1] as [string, string];
    const e = this.table[index - STATIC.length - 1];
    if (!e) throw new HpackError(`header index ${index} is past the table`);
    return e;
  }

  private literal(block: Uint8Array, r: { pos: number }, prefix: number): [string, string] {
    const index = readInt(block, r, prefix);
    const name = index === 0 ? readString(block, r) : this.entry(index)[0];
    return [name, readString(block, r)];
  }

  private insert(field: [string, string]): void {
    const cost = field[0].length + field[1].length + 32;
    this.evict(cost);
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    if (cost > this.maxSize) return;
    this.table.unshift(field);
    this.size += cost;
  }

  /** Drops the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.table.length && this.size + room > this.maxSize) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1); bounded so a hostile one cannot overflow. */
function readInt(buf: Uint8Array, r: { pos: number }, prefix: number): number {
  const max = (1 << prefix) - 1;
  let value = buf[r.pos++]! & max;
  if (value < max) return value;
  let shift = 0;
  for (;;) {
    if (r.pos >= buf.length) throw new HpackError('header block ends inside an integer');
    const b = buf[r.pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) break;
    shift += 7;
    if (shift > 28) throw new HpackError('header integer too large');
  }
  return value;
}

function readString(buf: Uint8Array, r: { pos: number }): string {
  if (r.pos >= buf.length) throw new HpackError('header block ends before a string');
  const huffman = (buf[r.pos]! & 0x80) !== 0;
  const len = readInt(buf, r, 7);
  const end = r.pos + len;
  if (end > buf.length) throw new HpackError('header string runs past the block');
  let s: string;
  try {
    s = huffman ? huffmanDecode(buf, r.pos, end) : Buffer.from(buf.buffer, buf.byteOffset + r.pos, len).toString('latin1');
  } catch (err) {
    throw new HpackError((err as Error).message);
  }
  r.pos = end;
  return s;
}

const STATIC_NAME = new Map<string, number>();
STATIC.forEach(([n], i) => STATIC_NAME.has(n) || STATIC_NAME.set(n, i + 1));

/**
 * Encodes a header list with no dynamic-table state: a whole static entry as its index, else a
 * literal without indexing (by static name index when there is one), strings as plain octets.
 */
export function encodeHeaders(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: number[] = [];
  for (const [name, value] of fields) {
    const whole = STATIC.findIndex(([n, v]) => n === name && v === value && v !== '');
    if (whole >= 0) {
      writeInt(parts, whole + 1, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME.get(name) ?? 0;
    writeInt(parts, nameIndex, 4, 0x00);
    if (nameIndex === 0) writeString(parts, name);
    writeString(parts, value);
  }
  return Buffer.from(parts);
}

function writeInt(out: number[], value: number, prefix: number, flags: number): void {
  const max = (1 << prefix) - 1;
  if (value < max) return void out.push(flags | value);
  out.push(flags | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function writeString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  writeInt(out, bytes.length, 7, 0x00);
  for (const b of bytes) out.push(b);
}

/** The header list as node:http2 gives it: an object, repeated names as arrays. */
export function toHeaders(fields: [string, string][]): RequestHeaders {
  const h: RequestHeaders = {};
  for (const [n, v] of fields) {
    const prev = h[n];
    if (prev === undefined) h[n] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else h[n] = [prev, v];
  }
  return h;
}
