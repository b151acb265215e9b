// Who may read the dashboard: loopback-only without a token (with the Host header checked
// against DNS rebinding), the token (header or login cookie) otherwise; a non-loopback
// listener without a token is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config/config.js';
import { Authorizer, checkListen, COOKIE, isLoopbackHost, tokensEqual } from './auth.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('dashboard auth', () => {
  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['', '0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.evil.com', '127.0.0.1.nip.io', '[::2]']) {
      assert.ok(!isLoopbackHost(h), h);
    }
  });

  it('compares tokens exactly, whatever their lengths, and never accepts an empty secret', () => {
    assert.ok(tokensEqual('s3cret-token', 's3cret-token'));
    assert.ok(!tokensEqual('s3cret-tokeN', 's3cret-token'));
    assert.ok(!tokensEqual('s3cret', 's3cret-token'));
    assert.ok(!tokensEqual('s3cret-token-and-more', 's3cret-token'));
    assert.ok(!tokensEqual('', ''));
  });

  it('refuses a non-loopback listener without a token, and a malformed address', () => {
    assert.doesNotThrow(() => checkListen('127.0.0.1:9468', ''));
    assert.doesNotThrow(() => checkListen('[::1]:9468', ''));
    assert.doesNotThrow(() => checkListen('localhost:0', ''));
    assert.doesNotThrow(() => checkListen('0.0.0.0:9468', 'tok'));
    for (const l of ['0.0.0.0:9468', ':9468', '10.1.2.3:80', '[::]:9468']) {
      assert.throws(() => checkListen(l, ''), (e: Error) => e instanceof ConfigError && /not a loopback address: set dashboard.token/.test(e.message), l);
    }
    assert.throws(() => checkListen('9468', ''), /dashboard.listen: "9468" is not host:port/);
    assert.throws(() => checkListen('127.0.0.1:99999', ''), /is not host:port/);
  });

  it('without a token: lets loopback Host names in, refuses any other (DNS rebinding)', () => {
    const a = new Authorizer('');
    assert.equal(a.needsToken, false);
    for (const host of ['127.0.0.1:9468', 'localhost:9468', '[::1]:9468', 'localhost']) assert.equal(a.check(req({ host })), 'ok', host);
    for (const host of ['evil.example:9468', 'evil.example', '', '10.0.0.5:9468']) assert.equal(a.check(req({ host })), 'bad-host', host);
    assert.equal(a.loginMatches(''), false);
  });

  it('with a token: the bearer header or the login cookie, nothing else, and any Host', () => {
    const a = new Authorizer('tok-123');
    const host = 'node1.example:9468';
    assert.equal(a.check(req({ host })), 'login');
    assert.equal(a.check(req({ host, authorization: 'Bearer tok-123' })), 'ok');
    assert.equal(a.check(req({ host, authorization: 'bearer tok-123 ' })), 'ok');
    assert.equal(a.check(req({ host, authorization: 'Bearer tok-124' })), 'login');
    assert.equal(a.check(req({ host, authorization: 'Basic dG9rLTEyMw==' })), 'login');
    const cookie = a.sessionCookie();
    assert.match(cookie, new RegExp(`^${COOKIE}=[\\w-]+; Path=/; HttpOnly; SameSite=Strict$`));
    assert.ok(!cookie.includes('tok-123'), 'the cookie is not the token itself');
    const value = cookie.split(';')[0]!;
    assert.equal(a.check(req({ host, cookie: `other=1; ${value}` })), 'ok');
    assert.equal(a.check(req({ host, cookie: `${COOKIE}=tok-123` })), 'login');
    assert.equal(a.check(req({ host, cookie: `${value}x` })), 'login');
    assert.equal(new Authorizer('other').check(req({ host, cookie: value })), 'login', 'a cookie of another token');
    assert.ok(a.loginMatches('tok-123'));
    assert.ok(!a.loginMatches('tok-12'));
  });
});
