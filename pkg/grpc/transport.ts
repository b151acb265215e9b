// What the gRPC layer needs of an HTTP/2 server, so that it can run on node:http2 or on berth's
// own HTTP/2 implementation (pkg/grpc/h2): a call's stream, and the listening transport.
import type { Server } from 'node:net';

/** A status as HTTP/2 trailers. */
export interface Trailers {
  'grpc-status': string;
  'grpc-message'?: string;
}

/** A request's headers: lower-case names, repeated ones as an array. */
export type RequestHeaders = Record<string, string | string[] | undefined>;

/**
 * One call's HTTP/2 stream: the request body as 'data' (Buffer) events and 'end', 'close' once
 * the stream is over (answered, reset by the client, or its connection gone).
 */
export interface CallStream {
  readonly headersSent: boolean;
  /** Nothing more can be sent. */
  readonly closed: boolean;
  /** Response headers (200, application/grpc) before any message. */
  sendHeaders(): void;
  /** Length-prefixed message bytes; `cb` once the stream took them. */
  write(data: Buffer, cb?: (err?: Error | null) => void): void;
  /** Headers if none went yet, then `last`, then the trailers. */
  end(trailers: Trailers, last?: Buffer): void;
  /** The status alone in the response headers, ending the stream. */
  trailersOnly(status: Trailers): void;
  /** Answers an HTTP status with no body (415 for a request that is not gRPC). */
  reject(status: number): void;
  /** Stops/starts taking the client's messages (flow control pushes back on the client). */
  pause(): void;
  resume(): void;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  once(event: 'end' | 'close', fn: () => void): unknown;
}

export type OnCall = (stream: CallStream, headers: RequestHeaders) => void;

export interface KeepaliveOptions {
  /** A ping goes to each connection this often... */
  timeMs: number;
  /** ...and a connection that does not answer within this is closed. */
  timeoutMs: number;
}

/** A listening HTTP/2 server that hands each request stream to the gRPC layer. */
export interface Transport {
  listen(socket: string): Promise<void>;
  /** Takes no new connection or call, waits up to `graceMs` for the calls in flight, then cuts them off. */
  shutdown(graceMs: number): Promise<void>;
  /** Closes every connection now. */
  forceShutdown(): void;
  /** Connections still open. */
  readonly openSessions: number;
}

/** Flow-control windows: a 16 MiB request should not crawl through 64 KiB windows. */
export const STREAM_WINDOW = 1 << 20;
export const SESSION_WINDOW = 16 << 20;

/** Listens on a unix socket; rejects if it cannot (in use, no directory). */
export function listenOn(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** True when `done` did not settle within `graceMs`. */
export async function raceGrace(done: Promise<unknown>, graceMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
  const late = await Promise.race([done.then(() => false), expired]);
  clearTimeout(timer);
  return late;
}

/**
 * Pings a connection every `timeMs`; one that does not answer within `timeoutMs` is dropped.
 * Returns the function that stops the pings.
 */
export function schedulePings(k: KeepaliveOptions, ping: (onAck: () => void) => void, drop: () => void, gone: () => boolean): () => void {
  let timer: NodeJS.Timeout;
  const schedule = (): void => {
    timer = setTimeout(() => {
      if (gone()) return;
      const deadline = setTimeout(drop, k.timeoutMs).unref();
      ping(() => {
        clearTimeout(deadline);
        schedule();
      });
    }, k.timeMs).unref();
  };
  schedule();
  return () => clearTimeout(timer);
}
