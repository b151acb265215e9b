// The objects a handler gets for one call: the request's metadata, and for streaming rpcs a
// Writable of responses or a Readable of requests, shaped as grpc-js's server calls are (write,
// end, 'cancelled', emit('error', status)) so handlers written for those run unchanged.
import { Readable, Writable } from 'node:stream';
import type { CallStream, RequestHeaders, Trailers } from './transport.js';
import { type StatusError, Status, frame, encodeMessage } from './wire.js';

/** A call's request metadata (HTTP/2 headers), read as grpc-js's Metadata.get reads it. */
export class Metadata {
  constructor(private readonly headers: RequestHeaders) {}

  /** Values of a key (lower case); `-bin` keys are base64 and come back as bytes. */
  get(key: string): (string | Buffer)[] {
    const v = this.headers[key];
    if (v === undefined) return [];
    const list = Array.isArray(v) ? v : key === 'set-cookie' ? [v] : v.split(/\s*,\s*/);
    return key.endsWith('-bin') ? list.map((s) => Buffer.from(s, 'base64')) : list;
  }
}

const TRAILERS_OK: Trailers = { 'grpc-status': '0' };

/**
 * The HTTP/2 side of one call's answer: response headers once, then messages, then the status as
 * trailers; or, for an error before any message, the status alone in the headers (trailers-only).
 */
export class Response {
  /** Set once the status has been handed to the stream. */
  done = false;

  constructor(readonly stream: CallStream, private readonly maxBytes: number) {}

  get writable(): boolean {
    return !this.done && !this.stream.closed;
  }

  /** Sends the response headers now (a stream tells its client it is live). */
  headers(): void {
    if (this.writable) this.stream.sendHeaders();
  }

  /** One encoded message; `cb` once the stream took it. */
  write(payload: Uint8Array, cb?: (err?: Error | null) => void): void {
    if (!this.writable) return void cb?.();
    if (payload.length > this.maxBytes) {
      this.fail({ code: Status.RESOURCE_EXHAUSTED, details: `a response of ${payload.length} bytes is over the ${this.maxBytes}-byte message limit` });
      return void cb?.();
    }
    this.stream.write(frame(payload), cb);
  }

  /** Ends the call with OK, after `last` when given (a unary answer: headers, message, trailers). */
  ok(last?: Uint8Array): void {
    if (!this.writable) return;
    this.done = true;
    this.stream.end(TRAILERS_OK, last ? frame(last) : undefined);
  }

  /** Ends the call with an error status: in the trailers, or trailers-only when nothing was sent. */
  fail(err: StatusError): void {
    if (!this.writable) return;
    this.done = true;
    const status: Trailers = { 'grpc-status': String(err.code), 'grpc-message': encodeMessage(err.details) };
    if (!this.stream.headersSent) this.stream.trailersOnly(status);
    else this.stream.end(status);
  }
}

/** What a thrown or emitted value says as a status (grpc-js reads `code` and `details` too). */
export function asStatus(err: unknown): StatusError {
  const e = (err ?? {}) as { code?: unknown; details?: unknown; message?: unknown };
  const code = typeof e.code === 'number' && Status[e.code] !== undefined ? e.code : Status.UNKNOWN;
  const details = typeof e.details === 'string' ? e.details : typeof e.message === 'string' ? e.message : String(err);
  return { code, details };
}

/** Per-call facts the server hands every kind of call. */
export interface CallInfo {
  metadata: Metadata;
  /** Milliseconds the client gave the call (grpc-timeout), undefined for none. */
  timeoutMs: number | undefined;
  peer: string;
}

/**
 * A server-streaming call as its handler sees it: write responses (objects, or Buffers already
 * encoded), end() for OK, emit('error', {code, details}) for an error status; 'cancelled' when
 * the client goes first (reset, or its deadline passed), then `cancelled` is true.
 */
export interface ServerWritableCall<Req = unknown, Res = unknown> extends NodeJS.EventEmitter {
  readonly request: Req;
  readonly metadata: { get(key: string): (string | Buffer)[] };
  readonly cancelled: boolean;
  readonly writableEnded: boolean;
  write(msg: Res | Buffer, cb?: (err?: Error | null) => void): boolean;
  end(): unknown;
  getPeer(): string;
  /** Sends the response headers before any message. */
  sendMetadata(md?: unknown): void;
}

/** A client-streaming call as its handler sees it: the client's decoded messages. */
export interface ServerReadableCall<Req = unknown> extends NodeJS.EventEmitter, AsyncIterable<Req> {
  readonly cancelled: boolean;
  readonly metadata: { get(key: string): (string | Buffer)[] };
}

/** A server-streaming call on an HTTP/2 stream: a Writable of response messages. */
export class ResponseStreamCall<Req = unknown, Res = unknown> extends Writable implements ServerWritableCall<Req, Res> {
  cancelled = false;
  readonly metadata: Metadata;
  private readonly peer: string;

  constructor(
    readonly request: Req,
    private readonly res: Response,
    info: CallInfo,
    private readonly serialize: (v: Res) => Uint8Array,
  ) {
    super({ objectMode: true });
    this.metadata = info.metadata;
    this.peer = info.peer;
    this.on('error', (err) => this.res.fail(asStatus(err)));
  }

  getPeer(): string {
    return this.peer;
  }

  sendMetadata(_md?: unknown): void {
    this.res.headers();
  }

  /** The client reset the stream or its deadline passed: no more writes go out. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }

  override _write(msg: Res | Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let payload: Uint8Array;
    try {
      payload = Buffer.isBuffer(msg) ? msg : this.serialize(msg as Res);
    } catch (err) {
      this.res.fail({ code: Status.INTERNAL, details: `could not encode a response: ${(err as Error).message}` });
      return cb();
    }
    this.res.write(payload, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.res.ok();
    cb();
  }
}

/** A client-streaming call on an HTTP/2 stream: a Readable of the client's decoded messages. */
export class RequestStreamCall<Req = unknown> extends Readable implements ServerReadableCall<Req> {
  cancelled = false;
  readonly metadata: Metadata;

  constructor(private readonly stream: CallStream, info: CallInfo) {
    super({ objectMode: true });
    this.metadata = info.metadata;
    // An error ends the iteration of whoever reads; with no reader yet it must not crash the daemon.
    this.on('error', () => undefined);
  }

  /** Queues a decoded message; pauses the HTTP/2 stream (and so the client) when the reader lags. */
  deliver(msg: Req): void {
    if (!this.push(msg)) this.stream.pause();
  }

  override _read(): void {
    this.stream.resume();
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
    this.destroy(Object.assign(new Error('the call was cancelled by the client'), { code: Status.CANCELLED }));
  }
}
