import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AlreadyExistsError } from '../errors/errors.js';
import { fingerprintOf, RequestCache } from './request-cache.js';

describe('RequestCache', () => {
  const make = (now = { t: 1000 }) => ({ now, cache: new RequestCache<string>({ windowMs: 300_000, what: 'container', now: () => now.t }) });

  it('a retry while the first call runs joins it and gets the same result; the work runs once', async () => {
    const { cache } = make();
    let runs = 0;
    let finish!: (v: string) => void;
    const work = () => { runs++; return new Promise<string>((r) => (finish = r)); };
    const first = cache.run('pod/c/0', 'fp', work);
    const retry = cache.run('pod/c/0', 'fp', work);
    assert.equal(cache.pending, 1);
    finish('id-1');
    assert.equal(await first, 'id-1');
    assert.equal(await retry, 'id-1');
    assert.equal(runs, 1);
  });

  it('a retry after the first finished gets the same result within the window, while it is still valid', async () => {
    const { cache, now } = make();
    let n = 0;
    const work = async () => `id-${++n}`;
    assert.equal(await cache.run('k', 'fp', work), 'id-1');
    now.t += 200_000;
    assert.equal(await cache.run('k', 'fp', work), 'id-1');
    assert.equal(await cache.run('k', 'fp', work, () => false), 'id-2', 'a result that no longer stands is not replayed');
    now.t += 300_000;
    assert.equal(await cache.run('k', 'fp', work), 'id-3', 'after the window the work runs again');
  });

  it('another config under the same name: refused while in progress, run (and let the caller refuse) after', async () => {
    const { cache } = make();
    let finish!: (v: string) => void;
    const first = cache.run('k', 'fp-a', () => new Promise<string>((r) => (finish = r)));
    await assert.rejects(cache.run('k', 'fp-b', async () => 'x'), (e: unknown) => e instanceof AlreadyExistsError && /in progress/.test((e as Error).message));
    finish('id-a');
    await first;
    assert.equal(await cache.run('k', 'fp-b', async () => 'id-b'), 'id-b');
  });

  it('a failed call is not cached: the retry runs again', async () => {
    const { cache } = make();
    await assert.rejects(cache.run('k', 'fp', async () => { throw new Error('runc create: boom'); }), /boom/);
    assert.equal(cache.pending, 0);
    assert.equal(await cache.run('k', 'fp', async () => 'id-2'), 'id-2');
  });

  it('remember() seeds an answer (from the database at start); forget() drops it', async () => {
    const { cache, now } = make();
    cache.remember('k', 'fp', 'old', now.t - 1000);
    cache.remember('stale', 'fp', 'old', now.t - 400_000);
    assert.equal(await cache.run('k', 'fp', async () => 'new'), 'old');
    assert.equal(await cache.run('stale', 'fp', async () => 'new'), 'new');
    cache.forget('k');
    assert.equal(await cache.run('k', 'fp', async () => 'newer'), 'newer');
  });

  it('fingerprints are stable and see bigints', () => {
    assert.equal(fingerprintOf({ a: 1n, b: 'x' }), fingerprintOf({ a: 1n, b: 'x' }));
    assert.notEqual(fingerprintOf({ a: 1n }), fingerprintOf({ a: 2n }));
  });
});
