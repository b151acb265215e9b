// One HTTP/2 stream of berth's server: the request's DATA as 'data' events and 'end', and the
// response as headers, DATA queued behind the flow-control windows, and trailers. 'close' once
// the stream is over, whether it ended, was reset by the client, or its connection went.
import { EventEmitter } from 'node:events';
import type { Trailers } from '../transport.js';
import type { H2Connection } from './connection.js';
import { H2Error } from './frames.js';

interface Queued {
  data: Buffer;
  cb: ((err?: Error | null) => void) | undefined;
}

export class H2Stream extends EventEmitter {
  headersSent = false;
  /** This side sent END_STREAM (or reset): nothing more goes out. */
  localEnded = false;
  /** The client sent END_STREAM. */
  remoteEnded = false;
  closed = false;
  /** Bytes the client may still be sent on this stream. */
  sendWindow: number;
  /** Bytes the client may still send on this stream... */
  recvWindow: number;
  /** ...and those received but not yet given back with WINDOW_UPDATE. */
  unacked = 0;
  paused = false;
  readonly queue: Queued[] = [];
  /** The trailers' header block, sent once the queue is empty. */
  pendingTrailers: Trailers | undefined;

  constructor(readonly id: number, private readonly conn: H2Connection, sendWindow: number, recvWindow: number) {
    super();
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** Response headers: 200, application/grpc. */
  sendHeaders(): void {
    if (this.localEnded || this.headersSent) return;
    this.headersSent = true;
    this.conn.sendOkHeaders(this);
  }

  write(data: Buffer, cb?: (err?: Error | null) => void): void {
    if (this.localEnded || this.pendingTrailers) return void cb?.();
    this.sendHeaders();
    this.queue.push({ data, cb });
    this.conn.flushStream(this);
  }

  /** Ends the response: headers if none went yet, `last` as DATA, then `trailers`. */
  end(trailers: Trailers, last?: Buffer): void {
    if (this.localEnded || this.pendingTrailers) return;
    this.sendHeaders();
    if (last) this.queue.push({ data: last, cb: undefined });
    this.pendingTrailers = trailers;
    this.conn.flushStream(this);
  }

  /** The whole response as one HEADERS frame with END_STREAM (a status and nothing else). */
  trailersOnly(status: Trailers): void {
    if (this.localEnded || this.headersSent) return;
    this.headersSent = true;
    this.conn.sendTrailersOnly(this, status);
  }

  /** A non-gRPC request: 415 and end. */
  reject(status: number): void {
    if (this.localEnded || this.headersSent) return;
    this.headersSent = true;
    this.conn.sendStatusOnly(this, status);
  }

  /** Stops giving the client window: it can send at most one more window's worth. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn.consumed(this, 0);
  }

  /** Resets the stream (RST_STREAM to the client) and closes it. */
  reset(code = H2Error.CANCEL): void {
    this.conn.resetStream(this, code);
  }

  /** Marks the stream over; the connection has already forgotten it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.localEnded = true;
    for (const q of this.queue.splice(0)) q.cb?.();
    this.emit('close');
  }
}
