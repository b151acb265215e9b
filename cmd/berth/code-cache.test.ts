import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { cacheKey, decodeCache, encodeCache, loadBundle, offerCodeCache, takeCodeCache } from './code-cache.js';

// A bundle with a function its top level calls (compiled at run, so it is in the cache) and a
// require of a builtin (the bundle's require works).
const BUNDLE = `function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }
module.exports = { sum: work(10), file: __filename, required: typeof require('node:path').join };
`;

/**
 * Loads the bundle in a fresh node, as bin/berth does: within one process V8's own compilation
 * cache would serve a source it compiled before, whatever the code cache holds.
 */
function loadInChild(file: string): { cache: string; exports: unknown; saveError: string | null } {
  const code = `import { loadBundle } from ${JSON.stringify(new URL('./code-cache.js', import.meta.url).href)};
const l = loadBundle(${JSON.stringify(file)});
console.log(JSON.stringify({ cache: l.cache, exports: l.exports, saveError: l.save()?.message ?? null }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function withBundle(fn: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-code-cache-'));
  try {
    const file = path.join(dir, 'bundle.cjs');
    await writeFile(file, BUNDLE);
    await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('code cache: the key names the node, the arch and the bundle file as it is', () => {
  const st = { size: 2_000_000, mtimeMs: 1700000000123.5, ino: 42 };
  assert.equal(cacheKey(st, 'v20.20.2', 'x64'), 'berth-code-cache 1 v20.20.2 x64 2000000 1700000000123.5 42');
  assert.notEqual(cacheKey(st, 'v20.20.2'), cacheKey(st, 'v22.1.0'), 'another node');
  assert.notEqual(cacheKey(st), cacheKey({ ...st, mtimeMs: st.mtimeMs + 1 }), 'rebuilt, same length');
});

test('code cache: a file is read back only under its own key', () => {
  const data = Buffer.from([0, 10, 255, 1]);
  const file = encodeCache('k1', data);
  assert.deepEqual(decodeCache(file, 'k1'), data);
  assert.equal(decodeCache(file, 'k2'), undefined);
  assert.equal(decodeCache(Buffer.from('no newline'), 'no newline'), undefined);
});

test('code cache: a first load misses, runs the bundle and saves; the next start hits', async () => {
  await withBundle(async (file) => {
    const first = loadInChild(file);
    assert.deepEqual(first, { cache: 'miss', exports: { sum: 45, file, required: 'function' }, saveError: null });
    assert.ok((await stat(`${file}.cache`)).size > 0);
    assert.deepEqual(loadInChild(file), { cache: 'hit', exports: { sum: 45, file, required: 'function' }, saveError: null });
  });
});

test('code cache: a rebuilt bundle, or a cache V8 refuses, is not used; the bundle still runs and the cache is rewritten', async () => {
  await withBundle(async (file) => {
    loadInChild(file);
    // Rebuilt: another modification time, so another key.
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    assert.equal(loadInChild(file).cache, 'miss');
    assert.equal(loadInChild(file).cache, 'hit', 'rewritten for the new build');
    // The key fits but the data is not V8's (a truncated write, another V8 or its flags).
    await writeFile(`${file}.cache`, encodeCache(cacheKey(await stat(file)), Buffer.from('not a code cache')));
    const refused = loadInChild(file);
    assert.deepEqual(refused, { cache: 'rejected', exports: { sum: 45, file, required: 'function' }, saveError: null });
    assert.equal(loadInChild(file).cache, 'hit');
  });
});

test('code cache: in-process load runs the bundle as require() would', async () => {
  await withBundle(async (file) => {
    const loaded = loadBundle(file);
    assert.deepEqual(loaded.exports, { sum: 45, file, required: 'function' });
  });
});

test('code cache: a save that cannot write returns the error and leaves the bundle loaded', async () => {
  await withBundle(async (file) => {
    const loaded = loadBundle(file, path.join(path.dirname(file), 'missing-dir', 'bundle.cjs.cache'));
    const err = loaded.save();
    assert.ok(err instanceof Error);
    assert.match(err.message, /ENOENT/);
    assert.equal((loaded.exports as { sum: number }).sum, 45);
  });
});

test('code cache: the loader hands its handle to the daemon once; none without a loader', () => {
  assert.equal(takeCodeCache(), undefined);
  const handle = { cache: 'miss' as const, save: () => undefined };
  offerCodeCache(handle);
  assert.equal(takeCodeCache(), handle);
  assert.equal(takeCodeCache(), undefined);
});
