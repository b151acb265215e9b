// The daemon's bundle as scripts/bundle.mjs leaves it in dist/bundle (npm run build makes it first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../pkg/version/version.js';

const bundle = path.join(PROJECT_ROOT, 'dist/bundle/daemon.cjs');

test("the daemon bundle's source map is JSON that names berth's sources", () => {
  const map = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] };
  assert.ok(map.sources.some((s) => s.endsWith('cmd/berth/daemon.ts')));
});

test('the daemon bundle leaves out the client commands, the agent and the client gRPC library', () => {
  const { sources } = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as { sources: string[] };
  for (const part of ['cmd/berth/cli/', 'pkg/agent/', 'pkg/client/', 'node_modules/@grpc/grpc-js/']) {
    assert.deepEqual(sources.filter((s) => s.includes(part)), [], part);
  }
  // A command other than daemon run from this bundle says so instead of doing something else.
  const r = spawnSync(process.execPath, [bundle, 'ps'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /is not in the daemon bundle: run this command through bin\/berth/);
});

test('the daemon bundle requires the builtins it loads lazily only through their stand-ins', () => {
  const text = readFileSync(bundle, 'latin1');
  for (const name of ['https', 'tls', 'zlib', 'http2', 'crypto', 'v8']) {
    // One require of each: the stand-in's own (cmd/berth/lazy-builtins.ts).
    assert.equal(text.split(`require("node:${name}")`).length - 1, 1, name);
    assert.ok(!text.includes(`require("${name}")`), name);
  }
});
