// A minimal HTTP/1.1 GET over a plain TCP socket, for blob bodies: the kernel reads straight into
// 1 MiB buffers that become the body's chunks. node's http allocates a buffer per 64 KiB read,
// copies each body part into another, and hands 16 times as many chunks to the stream machinery;
// on a 100 MiB pull that was most of the daemon's garbage and a good part of its main thread.
// Content-Length, chunked and until-close bodies; one connection per request (Connection: close).
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

const CHUNK = 1 << 20;
const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from('\r\n\r\n');

export interface LeanGetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs: number;
}

/** Where a chunked body's decoder is: a size line, chunk data, the CRLF after it, or the trailer. */
interface Chunked {
  phase: 'size' | 'data' | 'crlf' | 'trailer';
  need: number;
  line: string;
}

// The messages node's http gives for a connection closed before and during the body.
const hangUp = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const aborted = () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
/** A response the server got wrong: retrying will not help. */
const bad = (msg: string) => Object.assign(new Error(msg), { code: 'EPROTO', permanent: true });

/** A response whose body chunks are the socket's read buffers; `statusCode` and `headers` as node's. */
export class LeanResponse extends Readable {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  private buf = Buffer.allocUnsafeSlow(CHUNK);
  /** Bytes held in `buf`: the head while it arrives, then body bytes not yet pushed. */
  private fill = 0;
  private head = true;
  /** Body bytes still due by Content-Length; -1 for chunked and until-close bodies. */
  private left = -1;
  private chunked: Chunked | undefined;
  private complete = false;
  private paused = false;
  socket!: net.Socket;

  constructor(private readonly onHead: (err?: Error) => void) {
    // Object mode: a read hands out one chunk as it is (byte mode concatenates what is buffered).
    // Two chunks may wait for the consumer while the socket goes on reading into a third.
    super({ objectMode: true, highWaterMark: 2 });
  }

  /** The region the next read fills. */
  readInto = (): Buffer => this.buf.subarray(this.fill);

  /** `n` bytes arrived at `buf[fill]`. (Pausing goes through socket.pause(), never through the return value.) */
  onRead = (n: number): boolean => {
    if (this.complete || this.destroyed) return true;
    if (!this.head) this.onBody(this.fill, n);
    else if (!this.onHeadBytes(n) || this.head) return true;
    this.flush();
    return true;
  };

  /** The socket ended: an until-close body is complete, any other body was cut. */
  onEnd(): void {
    if (this.complete || this.destroyed) return;
    if (!this.head && this.left < 0 && !this.chunked) {
      this.finish();
      return;
    }
    this.fail(this.head ? hangUp() : aborted());
  }

  /** Ends the exchange: before the head the request rejects with `err`, after it the body errors. */
  fail(err: Error): void {
    if (this.destroyed) return;
    if (!this.head) return void this.destroy(err);
    this.onHead(err);
    this.destroy(); // nobody reads it yet: an 'error' here would be uncaught
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket?.destroy();
    cb(err);
  }

  /** Gathers the head; once it is whole, parses it and takes the body bytes after it. False on a bad head. */
  private onHeadBytes(n: number): boolean {
    this.fill += n;
    const end = this.buf.subarray(0, this.fill).indexOf(CRLF2);
    if (end < 0) {
      if (this.fill < MAX_HEAD) return true;
      this.fail(bad(`response head larger than ${MAX_HEAD} bytes`));
      return false;
    }
    try {
      this.parseHead(this.buf.toString('latin1', 0, end));
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
    this.head = false;
    const rest = this.fill - end - 4;
    this.buf.copyWithin(0, end + 4, this.fill);
    this.fill = 0;
    this.onHead();
    if (this.left === 0) this.complete = true;
    else this.onBody(0, rest);
    return true;
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) throw bad(`not an HTTP/1.1 response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    this.statusCode = Number(m[1]);
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) continue;
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      const had = this.headers[k];
      this.headers[k] = had === undefined ? v : `${String(had)}, ${v}`;
    }
    if (/\bchunked\b/i.test(String(this.headers['transfer-encoding'] ?? ''))) this.chunked = { phase: 'size', need: 0, line: '' };
    else if (this.headers['content-length'] !== undefined) {
      this.left = Number(this.headers['content-length']);
      if (!Number.isSafeInteger(this.left) || this.left < 0) throw bad(`bad content-length ${String(this.headers['content-length'])}`);
    }
    if (this.statusCode === 204 || this.statusCode === 304) this.left = 0;
  }

  /** Takes `n` raw bytes at `buf[from]` into the body held in `buf[0, fill)`. */
  private onBody(from: number, n: number): void {
    if (this.chunked) return this.dechunk(from, from + n);
    const take = this.left < 0 ? n : Math.min(n, this.left);
    if (from !== this.fill) this.buf.copyWithin(this.fill, from, from + take);
    this.fill += take;
    if (this.left >= 0 && (this.left -= take) === 0) this.complete = true;
  }

  /** Decodes chunked framing in place: data bytes move down to `fill`, the framing is dropped. */
  private dechunk(i: number, end: number): void {
    const c = this.chunked!;
    while (i < end && !this.complete) {
      if (c.phase === 'data') {
        const take = Math.min(c.need, end - i);
        if (i !== this.fill) this.buf.copyWithin(this.fill, i, i + take);
        this.fill += take;
        i += take;
        if ((c.need -= take) === 0) c.phase = 'crlf';
        continue;
      }
      const byte = this.buf[i++]!;
      if (byte !== 0x0a) {
        if (c.phase !== 'crlf' && c.line.length < 4096) c.line += String.fromCharCode(byte);
        continue;
      }
      const line = c.line.replace(/\r$/, '');
      c.line = '';
      if (c.phase === 'crlf') c.phase = 'size';
      else if (c.phase === 'trailer') {
        if (!line) this.complete = true;
      } else {
        c.need = parseInt(line.split(';')[0]!.trim(), 16);
        if (!Number.isSafeInteger(c.need) || c.need < 0) {
          this.fail(bad(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`));
          return;
        }
        c.phase = c.need === 0 ? 'trailer' : 'data';
      }
    }
  }

  /** Pushes a full buffer (or the last bytes) as one chunk; pauses the socket when the consumer is behind. */
  private flush(): void {
    if (this.destroyed) return;
    if (this.complete) return this.finish();
    if (this.fill < CHUNK) return;
    const full = this.buf;
    this.buf = Buffer.allocUnsafeSlow(CHUNK);
    this.fill = 0;
    // Set first: a read the push itself triggers resumes (and clears it) before we would pause.
    this.paused = true;
    if (this.push(full)) this.paused = false;
    else if (this.paused) this.socket.pause();
  }

  private finish(): void {
    this.complete = true;
    if (this.fill) this.push(this.buf.subarray(0, this.fill));
    this.fill = 0;
    this.push(null);
    this.socket.destroy();
  }

}

/**
 * GETs a plain-http `url`; resolves once the head arrived, with the body streaming as 1 MiB
 * chunks. Rejects with the socket's error (code set; `permanent` when a retry cannot help) or
 * the signal's reason.
 */
export function leanGet(url: URL, opts: LeanGetOptions): Promise<LeanResponse> {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (/[\r\n]/.test(k + v)) return Promise.reject(bad(`header ${k} has a line break`));
    lines.push(`${k}: ${v}`);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const res = new LeanResponse((err) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(res);
    });
    const fail = (err: Error) => res.fail(err);
    const sock = net.connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      onread: { buffer: res.readInto, callback: res.onRead },
    });
    res.socket = sock;
    const onAbort = () => fail(opts.signal!.reason as Error);
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.setTimeout(opts.timeoutMs, () => {
      fail(Object.assign(new Error(settled ? `connection idle for ${opts.timeoutMs} ms` : `no response within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    sock.once('end', () => res.onEnd());
    sock.on('error', fail);
    sock.once('close', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      res.onEnd();
    });
    sock.write(lines.join('\r\n') + '\r\n\r\n');
  });
}
