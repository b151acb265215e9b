import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { lazyBuiltinSource } from './lazy-builtins.js';

const realRequire = createRequire(import.meta.url);

/** Runs a stand-in's source with a require that counts the builtins it loads. */
function standIn(name: string): { exports: Record<string, unknown>; loads: string[] } {
  const loads: string[] = [];
  const req = (id: string) => {
    loads.push(id);
    return realRequire(id);
  };
  const module = { exports: {} as Record<string, unknown> };
  const keys = Object.getOwnPropertyNames(realRequire(`node:${name}`));
  new Function('require', 'module', lazyBuiltinSource(name, keys))(req, module);
  return { exports: module.exports, loads };
}

test('a stand-in loads its builtin only when a property is first read', () => {
  const s = standIn('zlib');
  assert.deepEqual(s.loads, []);
  // What esbuild's __toESM does with a CommonJS module: copy each property as a getter.
  const copy: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(s.exports)) Object.defineProperty(copy, k, { get: () => s.exports[k], enumerable: true });
  assert.deepEqual(s.loads, []);
  assert.equal(copy.gunzipSync, realRequire('node:zlib').gunzipSync);
  assert.deepEqual(s.loads, ['node:zlib']);
  assert.equal(s.exports.constants, realRequire('node:zlib').constants);
  assert.deepEqual(s.loads, ['node:zlib'], 'required once');
});

test('a stand-in has every property name of its builtin, and writes reach the builtin', () => {
  const s = standIn('https');
  const https = realRequire('node:https') as Record<string, unknown>;
  assert.deepEqual(Object.keys(s.exports).sort(), Object.getOwnPropertyNames(https).sort());
  const agent = https.globalAgent;
  try {
    const mine = {};
    s.exports.globalAgent = mine;
    assert.equal(https.globalAgent, mine);
  } finally {
    https.globalAgent = agent;
  }
  // Classes stay the builtin's: instanceof and new work on what the stand-in returns.
  const Agent = s.exports.Agent as new () => object;
  assert.ok(new Agent() instanceof (https.Agent as new () => object));
});
