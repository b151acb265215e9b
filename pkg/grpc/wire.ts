// gRPC over HTTP/2 as grpc-go clients (kubelet, crictl, critest) speak it: status codes, the
// length-prefixed message framing, the grpc-timeout header and the percent-encoded grpc-message.
// https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md

/** gRPC status codes (the same numbers as every gRPC library). */
export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** A call's outcome when it is not OK. */
export interface StatusError {
  code: Status;
  details: string;
}

const EMPTY = Buffer.alloc(0);

/** Bytes before each message: a compressed flag and a big-endian uint32 length. */
export const PREFIX_BYTES = 5;

/** One message framed for the wire. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, PREFIX_BYTES);
  return out;
}

/**
 * Splits the request body into messages as its DATA frames come, whatever their boundaries.
 * A message over `maxBytes`, or compressed (berth negotiates no compression), is an error.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the message being read, once its prefix is in. */
  private need = -1;

  constructor(private readonly maxBytes: number) {}

  /** Adds a chunk; returns the messages it completed. Throws a StatusError on a bad message. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < PREFIX_BYTES) return out;
        const prefix = this.take(PREFIX_BYTES);
        if (prefix[0] !== 0) {
          throw statusError(Status.UNIMPLEMENTED, prefix[0] === 1 ? 'compressed messages are not supported (berth accepts identity encoding only)' : `bad message flag ${prefix[0]}`);
        }
        const len = prefix.readUInt32BE(1);
        if (len > this.maxBytes) throw statusError(Status.RESOURCE_EXHAUSTED, `received message larger than max (${len} vs. ${this.maxBytes})`);
        this.need = len;
      }
      if (this.buffered < this.need) return out;
      out.push(this.take(this.need));
      this.need = -1;
    }
  }

  /** True when the body ended between messages. */
  get atBoundary(): boolean {
    return this.need < 0 && this.buffered === 0;
  }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      // The common case: a whole message in one chunk, sliced without a copy.
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }
}

export function statusError(code: Status, details: string): StatusError {
  return { code, details };
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The grpc-timeout header in milliseconds: up to 8 digits and a unit (H M S m u n). Undefined
 * when absent; a malformed value is INVALID_ARGUMENT (grpc-go says INTERNAL, which CRI reserves
 * for the runtime's own faults).
 */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) throw statusError(Status.INVALID_ARGUMENT, `malformed grpc-timeout ${JSON.stringify(value.slice(0, 32))}`);
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}

/** grpc-message as the spec writes it: UTF-8, bytes outside printable ASCII and '%' as %XX. */
export function encodeMessage(details: string): string {
  // Most messages are plain ASCII: no copy for them.
  if (/^[\x20-\x24\x26-\x7e]*$/.test(details)) return details;
  let out = '';
  for (const b of Buffer.from(details, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of encodeMessage (for tests and clients); a bad escape is kept as it is. */
export function decodeMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
