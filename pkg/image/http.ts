// One HTTP exchange with a registry over node:http/https (not fetch: berth needs unverified TLS
// for insecure registries, per-request idle timeouts and streamed bodies), with redirects and
// retries with backoff on 5xx, 429 and broken connections.
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { leanGet } from './lean-get.js';

/** A response: node's IncomingMessage, or leanGet's for plain-http blob bodies. */
export type HttpResponse = Readable & { statusCode?: number; headers: IncomingHttpHeaders };

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Skip TLS verification (insecure registries). */
  insecureTls?: boolean;
  signal?: AbortSignal;
  /** Socket inactivity limit, also bounding connect and time to headers. */
  timeoutMs?: number;
  body?: string;
  /** A large body (a blob): plain-http GETs read it with leanGet, in 1 MiB chunks. */
  lean?: boolean;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

type Agents = { http: http.Agent; https: https.Agent; httpsInsecure: https.Agent };
let made: Agents | undefined;
// Made at the first request: the daemon's bundle loads node:http and node:https (with tls and
// crypto's ciphers) on first use (cmd/berth/lazy-builtins.ts), and a daemon that pulls nothing never does.
const agents = (): Agents =>
  (made ??= {
    http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
    httpsInsecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
  });

export class HttpError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly code?: string) {
    super(message);
  }
}

/** Sends one request; resolves with the response once headers arrive (body not read). */
export function send(url: URL, opts: HttpOptions = {}): Promise<HttpResponse> {
  const method = opts.method ?? 'GET';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (opts.lean && url.protocol === 'http:' && method === 'GET') {
    return leanGet(url, { headers: opts.headers, signal: opts.signal, timeoutMs }).catch((err: FailedRequest) => {
      throw requestError(url, method, err, opts.signal);
    });
  }
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const a = agents();
    const agent = isHttps ? (opts.insecureTls ? a.httpsInsecure : a.https) : a.http;
    const req = mod.request(url, { method, headers: opts.headers, agent, signal: opts.signal });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.once('response', (res) => {
      // The same idle limit keeps watching the body while it streams. The listener goes with
      // the response: keep-alive sockets serve many requests and must not collect them.
      const sock = res.socket;
      if (sock) {
        const onIdle = () => res.destroy(Object.assign(new Error(`connection idle for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
        sock.setTimeout(timeoutMs);
        sock.on('timeout', onIdle);
        res.once('close', () => sock.off('timeout', onIdle));
      }
      resolve(res);
    });
    req.once('error', (err: FailedRequest) => reject(requestError(url, method, err, opts.signal)));
    req.end(opts.body);
  });
}

/** A request's failure: a socket error (code set), or leanGet's `permanent` refusal of a bad answer. */
type FailedRequest = NodeJS.ErrnoException & { permanent?: boolean };

/**
 * What a failed request rejects with, whichever client sent it: the signal's reason when it was
 * aborted, else an HttpError, retryable unless a retry cannot help (a name that does not resolve
 * will not resolve on a retry either; a malformed answer will not mend itself).
 */
function requestError(url: URL, method: string, err: FailedRequest, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason ?? err;
  return new HttpError(`${method} ${url.origin}${url.pathname}: ${err.message}`, err.code !== 'ENOTFOUND' && !err.permanent, err.code);
}

export async function readBody(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new HttpError(`response body larger than ${limit} bytes`, false);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export function drain(res: HttpResponse): void {
  res.resume();
  res.on('error', () => {});
}

/** The message of a distribution-spec error body, or a short excerpt of the body. */
export async function errorText(res: HttpResponse): Promise<string> {
  let body = '';
  try {
    body = (await readBody(res, 64 * 1024)).toString('utf8');
    const doc = JSON.parse(body) as { errors?: { code?: string; message?: string; detail?: unknown }[]; details?: string };
    if (doc.errors?.length) return doc.errors.map((e) => [e.code?.toLowerCase(), e.message].filter(Boolean).join(': ')).join('; ');
    if (doc.details) return doc.details;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 200) || `HTTP ${res.statusCode}`;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

export function retryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/**
 * Sends with retries (network errors, 5xx, 429) and follows up to 5 redirects; Authorization
 * is dropped when a redirect leaves the origin (blob storage on another host must not see it).
 */
export async function sendWithRetry(url: URL, opts: HttpOptions, policy: RetryPolicy): Promise<HttpResponse> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < policy.attempts; attempt++) {
    if (attempt > 0) await sleep(policy.baseDelayMs * 2 ** (attempt - 1), opts.signal);
    try {
      let u = url;
      let o = opts;
      for (let hop = 0; ; hop++) {
        const res = await send(u, o);
        const loc = res.headers.location;
        if (res.statusCode && [301, 302, 303, 307, 308].includes(res.statusCode) && loc) {
          drain(res);
          if (hop >= 5) throw new HttpError(`too many redirects from ${url.origin}${url.pathname}`, false);
          const next = new URL(loc, u);
          if (next.origin !== u.origin && o.headers?.authorization) {
            const { authorization: _drop, ...rest } = o.headers;
            o = { ...o, headers: rest };
          }
          u = next;
          continue;
        }
        if (res.statusCode && retryableStatus(res.statusCode) && attempt + 1 < policy.attempts) {
          lastErr = new HttpError(`${o.method ?? 'GET'} ${u.origin}${u.pathname}: ${await errorText(res)}`, true);
          break;
        }
        return res;
      }
    } catch (err) {
      if (!(err instanceof HttpError) || !err.retryable) throw err;
      lastErr = err;
    }
  }
  if (lastErr instanceof HttpError && policy.attempts > 1) lastErr.message += ` (after ${policy.attempts} attempts)`;
  throw lastErr;
}
