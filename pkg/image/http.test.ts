import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { freePort } from '../../e2e/fixtures/registry.js';
import { HttpError, readBody, sendWithRetry } from './http.js';

describe('registry HTTP: timeouts, retries, redirects', () => {
  let server: http.Server;
  let base: string;
  const hits = new Map<string, number>();
  before(async () => {
    server = http.createServer((req, res) => {
      const n = (hits.get(req.url!) ?? 0) + 1;
      hits.set(req.url!, n);
      if (req.url === '/stall') return; // never answers
      if (req.url === '/stall-body') {
        res.writeHead(200, { 'content-length': '10' });
        res.write('abc'); // then nothing
        return;
      }
      if (req.url === '/flaky' && n < 3) return void res.writeHead(502).end('bad gateway');
      if (req.url === '/always-503') return void res.writeHead(503).end('{"errors":[{"code":"UNAVAILABLE","message":"down"}]}');
      if (req.url === '/hop') return void res.writeHead(307, { location: '/flaky' }).end();
      res.writeHead(200).end(`ok ${req.url} auth=${req.headers.authorization ?? ''}`);
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('times out a server that never answers, with retries, then fails naming the URL', async () => {
    const t0 = Date.now();
    await assert.rejects(sendWithRetry(new URL(`${base}/stall`), { timeoutMs: 150 }, { attempts: 2, baseDelayMs: 10 }), (err: Error) => {
      assert.ok(err instanceof HttpError);
      assert.match(err.message, /GET http:\/\/127\.0\.0\.1:\d+\/stall: no response within 150 ms \(after 2 attempts\)/);
      return true;
    });
    assert.equal(hits.get('/stall'), 2);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('times out a body that stops flowing', async () => {
    const res = await sendWithRetry(new URL(`${base}/stall-body`), { timeoutMs: 150 }, { attempts: 1, baseDelayMs: 0 });
    await assert.rejects(readBody(res, 1024), /idle for 150 ms|aborted/);
  });

  it('retries 5xx with backoff, follows redirects, and returns the last 5xx when retries run out', async () => {
    const res = await sendWithRetry(new URL(`${base}/hop`), { headers: { authorization: 'Bearer x' } }, { attempts: 4, baseDelayMs: 10 });
    assert.equal(res.statusCode, 200);
    assert.equal((await readBody(res, 1024)).toString(), 'ok /flaky auth=Bearer x', 'same-origin redirects keep credentials');
    assert.equal(hits.get('/flaky'), 3);
    const last = await sendWithRetry(new URL(`${base}/always-503`), {}, { attempts: 3, baseDelayMs: 10 });
    assert.equal(last.statusCode, 503);
    last.resume();
    assert.equal(hits.get('/always-503'), 3);
  });
});
