import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../e2e/fixtures/registry.js';
import { errorText, HttpError, readBody, sendWithRetry } from './http.js';
import { leanGet } from './lean-get.js';

const big = randomBytes(2.5 * (1 << 20));

/** Writes `parts` one after another, each in its own write after the previous was flushed. */
async function writeParts(c: net.Socket, parts: (string | Buffer)[]): Promise<void> {
  for (const p of parts) await new Promise<void>((r) => c.write(p, () => setImmediate(r)));
}

function chunked(body: Buffer, size: number): (string | Buffer)[] {
  const out: (string | Buffer)[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    // A chunk extension and a size line split across writes: the decoder must take both.
    out.push(`${part.length.toString(16)};ext=1`, `\r\n`, part, '\r\n');
  }
  out.push('0\r\nx-trailer: 1\r', '\n\r\n');
  return out;
}

/** Canned raw HTTP/1.1 answers by request path. */
const answers: Record<string, (c: net.Socket, req: string) => Promise<void> | void> = {
  '/length': (c) => writeParts(c, [`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\nContent-Type: x\r\n\r\n`, big.subarray(0, 10), big.subarray(10)]),
  '/head-split': (c) => writeParts(c, ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 5\r\n\r', '\nhel', 'lo']),
  '/chunked': (c) => writeParts(c, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ...chunked(big, 300_000)]),
  '/close': async (c) => {
    await writeParts(c, ['HTTP/1.1 200 OK\r\n\r\n', big]);
    c.end();
  },
  '/cut': async (c) => {
    await writeParts(c, [`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`, big.subarray(0, 1.5 * (1 << 20))]);
    c.destroy();
  },
  '/stall-body': (c) => writeParts(c, ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc']),
  '/stall': () => {},
  '/404': (c) => {
    const body = '{"errors":[{"code":"BLOB_UNKNOWN","message":"gone"}]}';
    return writeParts(c, [`HTTP/1.1 404 Not Found\r\nContent-Length: ${body.length}\r\n\r\n${body}`]);
  },
  '/redirect': (c) => writeParts(c, ['HTTP/1.1 307 Temporary Redirect\r\nLocation: /head-split\r\nContent-Length: 0\r\n\r\n']),
  '/echo': (c, req) => writeParts(c, [`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(req)}\r\n\r\n`, req]),
  '/garbage': (c) => writeParts(c, ['SSH-2.0-OpenSSH\r\n\r\n']),
};

describe('leanGet: a blob GET over a plain socket', () => {
  let server: net.Server;
  let base: string;
  before(async () => {
    server = net.createServer((c) => {
      let req = '';
      c.on('data', (d: Buffer) => {
        req += d.toString('latin1');
        if (!req.includes('\r\n\r\n')) return;
        const path = /^GET (\S+) HTTP\/1\.1\r\n/.exec(req)?.[1] ?? '';
        void answers[path]?.(c, req.slice(0, req.indexOf('\r\n\r\n')));
      });
      c.on('error', () => {});
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    base = `http://127.0.0.1:${port}`;
  });
  after(() => new Promise((r) => server.close(r)));

  const get = (p: string, timeoutMs = 5000) => leanGet(new URL(base + p), { timeoutMs, headers: { range: 'bytes=0-' } });

  it('reads a Content-Length body in 1 MiB chunks, whole and in order', async () => {
    const res = await get('/length');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'x');
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    for await (const c of res as AsyncIterable<Buffer>) {
      sizes.push(c.length);
      parts.push(c);
    }
    assert.deepEqual(sizes, [1 << 20, 1 << 20, big.length - (2 << 20)]);
    assert.ok(Buffer.concat(parts).equals(big));
  });

  it('takes a head split anywhere, and a body that came with it', async () => {
    assert.equal((await readBody(await get('/head-split'), 100)).toString(), 'hello');
  });

  it('decodes a chunked body, extensions, split size lines and trailer included', async () => {
    assert.ok((await readBody(await get('/chunked'), big.length)).equals(big));
  });

  it('reads a body without length until the server closes', async () => {
    assert.ok((await readBody(await get('/close'), big.length)).equals(big));
  });

  it('fails a body cut short as aborted (a retryable break), after the bytes that came', async () => {
    const res = await get('/cut');
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const c of res as AsyncIterable<Buffer>) got += c.length;
      })(),
      (err: NodeJS.ErrnoException) => err.message === 'aborted' && err.code === 'ECONNRESET',
    );
    assert.ok(got >= 1 << 20 && got <= 1.5 * (1 << 20), `got ${got}`);
  });

  it('times out a server that never answers, and a body that stops flowing', async () => {
    await assert.rejects(get('/stall', 150), (err: NodeJS.ErrnoException) => /no response within 150 ms/.test(err.message) && err.code === 'ETIMEDOUT');
    await assert.rejects(readBody(await get('/stall-body', 150), 100), /connection idle for 150 ms/);
  });

  it('sends the headers it was given, Host and Connection: close', async () => {
    const req = (await readBody(await get('/echo'), 1000)).toString();
    assert.match(req, /\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(req, /\r\nConnection: close\r\n/);
    assert.match(req, /\r\nrange: bytes=0-$/);
  });

  it('refuses a header with a line break and a response that is not HTTP, as permanent errors', async () => {
    await assert.rejects(leanGet(new URL(base + '/echo'), { timeoutMs: 1000, headers: { x: 'a\r\nb: c' } }), /line break/);
    await assert.rejects(get('/garbage'), (err: Error & { permanent?: boolean }) => /not an HTTP\/1\.1 response/.test(err.message) && err.permanent === true);
  });

  it('through sendWithRetry: follows redirects, gives error bodies to errorText, names the URL of a refused connection', async () => {
    const hop = await sendWithRetry(new URL(base + '/redirect'), { lean: true }, { attempts: 1, baseDelayMs: 0 });
    assert.equal((await readBody(hop, 100)).toString(), 'hello');
    const nf = await sendWithRetry(new URL(base + '/404'), { lean: true }, { attempts: 1, baseDelayMs: 0 });
    assert.equal(nf.statusCode, 404);
    assert.equal(await errorText(nf), 'blob_unknown: gone');
    const port = await freePort();
    await assert.rejects(sendWithRetry(new URL(`http://127.0.0.1:${port}/x`), { lean: true }, { attempts: 1, baseDelayMs: 0 }), (err: Error) =>
      err instanceof HttpError && err.retryable && err.message.startsWith(`GET http://127.0.0.1:${port}/x: `) && /ECONNREFUSED/.test(err.message));
  });

  it('an abort ends the request before and after the head', async () => {
    const early = new AbortController();
    const p = leanGet(new URL(base + '/stall'), { timeoutMs: 5000, signal: early.signal });
    early.abort(new Error('stop now'));
    await assert.rejects(p, /stop now/);
    const late = new AbortController();
    const res = await leanGet(new URL(base + '/stall-body'), { timeoutMs: 5000, signal: late.signal });
    const body = readBody(res, 100);
    late.abort(new Error('stop later'));
    await assert.rejects(body, /stop later/);
  });
});
