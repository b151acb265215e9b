import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_IN_FLIGHT, TOKEN_TTL_MS, TokenCache, TokenCacheFullError } from './tokens.js';
import type { StreamRequest } from './types.js';

const req: StreamRequest = { kind: 'portforward', params: { sandboxId: 's', ports: [80] } };

test('a token works once and carries its request', () => {
  const c = new TokenCache();
  const t = c.insert(req);
  assert.match(t, /^[A-Za-z0-9_-]{22}$/, '16 random bytes, URL-safe');
  assert.ok(c.has(t));
  assert.deepEqual(c.consume(t), req);
  assert.equal(c.consume(t), undefined);
  assert.equal(c.consume('unknown'), undefined);
});

test('a token expires after a minute', () => {
  let now = 1_000_000;
  const c = new TokenCache(TOKEN_TTL_MS, () => now);
  const t = c.insert(req);
  now += TOKEN_TTL_MS - 1;
  assert.ok(c.has(t));
  now += 1;
  assert.equal(c.has(t), false);
  assert.equal(c.consume(t), undefined);
});

test('at most 1000 tokens are outstanding; expired ones make room', () => {
  let now = 0;
  const c = new TokenCache(TOKEN_TTL_MS, () => now);
  for (let i = 0; i < MAX_IN_FLIGHT; i++) c.insert(req);
  assert.throws(() => c.insert(req), TokenCacheFullError);
  now += TOKEN_TTL_MS;
  c.insert(req);
  assert.equal(c.size, 1);
});
