// A short, fixed-seed run of the CRI request fuzzer (e2e/fuzz): every rpc of both services gets
// generated hostile requests; none may answer INTERNAL/UNKNOWN, hang, break the connection or
// leave processes, mounts or fds behind. The long run: node dist/e2e/fuzz/main.js --minutes 10.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCtEnv, type CtEnv } from './container-fixtures.js';
import { RequestGen, loadMethods, seededRng } from './fuzz/gen.js';
import { Fuzzer } from './fuzz/runner.js';

describe('CRI request fuzzer', () => {
  it('generation is deterministic by seed and covers every rpc of both services', () => {
    const methods = loadMethods();
    assert.ok(methods.length >= 40, `${methods.length} rpcs`);
    assert.ok(methods.some((m) => m.service === 'ImageService' && m.name === 'PullImage'));
    assert.ok(methods.some((m) => m.stream));
    const ids = () => ({ sandboxes: ['a'.repeat(64)], containers: ['b'.repeat(64)] });
    const a = new RequestGen(seededRng(7), ids);
    const b = new RequestGen(seededRng(7), ids);
    for (const m of methods) assert.deepEqual(a.message(m.request), b.message(m.request));
  });

  describe('against a daemon', () => {
    let env: CtEnv;
    before(async () => {
      env = await startCtEnv();
    });
    after(async () => {
      await env.close();
    });

    it('a short run (fixed seed): no INTERNAL/UNKNOWN, no hang, the connection and daemon stay up, nothing leaks', async () => {
      const methods = loadMethods().length;
      const report = await new Fuzzer(env).run({ seed: 1234, requests: methods * 6, durationMs: 45_000, callTimeoutMs: 20_000 });
      assert.deepEqual(report.failures, []);
      assert.ok(Object.keys(report.methods).length === methods || report.durationMs >= 45_000, `covered ${Object.keys(report.methods).length} of ${methods}`);
      assert.deepEqual(report.leaks.processes, []);
      assert.deepEqual(report.leaks.mounts, []);
      assert.ok(report.leaks.fdsAfter <= report.leaks.fdsBefore + 4, `daemon fds ${report.leaks.fdsBefore} -> ${report.leaks.fdsAfter}`);
    });
  });
});
