// Server-sent events: one text/event-stream response per open page section. A comment line
// every 15 s keeps proxies from timing the stream out and finds dead peers; a peer that stops
// reading is back-pressure (send() returns a promise), never an unbounded buffer.
import type { ServerResponse } from 'node:http';
import { NO_STORE } from './headers.js';

export class SseStream {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closers: (() => void)[] = [];

  constructor(private readonly res: ServerResponse, heartbeatMs = 15_000) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', ...NO_STORE });
    res.flushHeaders();
    this.heartbeat = setInterval(() => this.res.write(': keep-alive\n\n'), heartbeatMs);
    this.heartbeat.unref();
    const end = () => this.close();
    res.once('close', end);
    res.once('error', end);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs `fn` once when the stream ends (either side). */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closers.push(fn);
  }

  /** Writes one event; a promise means the peer's buffer is full: wait before the next. */
  send(event: string, data: unknown): void | Promise<void> {
    if (this.closed) return;
    if (this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) return;
    return new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.res.end();
    for (const fn of this.closers.splice(0)) fn();
  }
}
