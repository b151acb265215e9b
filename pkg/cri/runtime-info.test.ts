import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CONFIG } from '../config/config.js';
import { createLogger } from '../log/log.js';
import type { DaemonContext } from './module.js';
import { featuresFromVersion, kernelHasMountSetattr, runtimeInfoModule } from './runtime-info.js';

const callCtx = { method: 'test', signal: new AbortController().signal };

/** A fake OCI runtime whose `features` leaves a mark file, so a test sees whether it was probed. */
async function fakeRuntime(dir: string, name: string): Promise<{ bin: string; mark: string }> {
  const bin = path.join(dir, name);
  const mark = path.join(dir, `${name}.probed`);
  await writeFile(bin, `#!/bin/sh\ntouch ${mark}\necho '{"mountOptions":["rro"],"linux":{"namespaces":["user"]}}'\n`);
  await chmod(bin, 0o755);
  return { bin, mark };
}

/** This process's children, exited but unreaped ones included (they stay until an event-loop turn reaps them). */
function children(): string[] {
  return readdirSync('/proc/self/task').flatMap((t) => readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean));
}

async function withModule(fn: (m: Awaited<ReturnType<typeof runtimeInfoModule.start>>, marks: string[]) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-runtime-info-'));
  const a = await fakeRuntime(dir, 'rta');
  const b = await fakeRuntime(dir, 'rtb');
  const config = structuredClone(DEFAULT_CONFIG);
  config.runtime.handlers = { rta: { ...config.runtime.handlers.runc!, path: a.bin }, rtb: { ...config.runtime.handlers.runc!, path: b.bin } };
  config.runtime.default_handler = 'rta';
  const ctx = { config, cgroups: { layout: undefined }, log: createLogger('error'), services: {}, conditions: new Map() } as unknown as DaemonContext;
  const m = await runtimeInfoModule.start(ctx);
  try {
    await fn(m, [a.mark, b.mark]);
  } finally {
    await m.close?.();
    await rm(dir, { recursive: true, force: true });
  }
}

test('the runtime handlers are not probed when berth starts serving: Version answers without them', async () => {
  await withModule(async (m, marks) => {
    const before = children();
    m.ready?.();
    const v = await m.handlers.Version!({ version: '' }, callCtx);
    assert.equal(v.runtime_api_version, 'v1');
    assert.deepEqual(children(), before, 'no runtime was started');
    assert.deepEqual(marks.map(existsSync), [false, false]);
  });
});

test('a Status before the deferred probe runs it and waits for its answer', async () => {
  await withModule(async (m, marks) => {
    m.ready?.();
    const s = await m.handlers.Status!({ verbose: false }, callCtx);
    assert.deepEqual(marks.map(existsSync), [true, true]);
    const features = { recursive_read_only_mounts: true, user_namespaces: existsSync('/proc/self/ns/user') };
    assert.deepEqual(s.runtime_handlers, [
      { name: '', features }, { name: 'rta', features }, { name: 'rtb', features },
    ]);
  });
});

test('a runtime without `features`: crun ≥ 1.8 joins user namespaces and runs rro mounts; others are assumed to do neither', () => {
  const crun181 = 'crun version 1.8.1\ncommit: f8a096be\nrundir: /run/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX\n';
  assert.deepEqual(featuresFromVersion(crun181, true, true), { recursive_read_only_mounts: true, user_namespaces: true });
  assert.deepEqual(featuresFromVersion('crun version 1.15\n', true, true), { recursive_read_only_mounts: true, user_namespaces: true });
  assert.deepEqual(featuresFromVersion('crun version 2.0\n', true, true), { recursive_read_only_mounts: true, user_namespaces: true });
  assert.deepEqual(featuresFromVersion('crun version 1.4.5\n', true, true), { recursive_read_only_mounts: false, user_namespaces: true });
  // The kernel decides too: no user namespaces, or no mount_setattr (before 5.12).
  assert.deepEqual(featuresFromVersion(crun181, false, false), { recursive_read_only_mounts: false, user_namespaces: false });
  assert.deepEqual(featuresFromVersion('runc version 1.0.0\n', true, true), { recursive_read_only_mounts: false, user_namespaces: false });
  assert.deepEqual(featuresFromVersion('', true, true), { recursive_read_only_mounts: false, user_namespaces: false });
});

test('mount_setattr is there from Linux 5.12', () => {
  assert.equal(kernelHasMountSetattr('5.11.22-generic'), false);
  assert.equal(kernelHasMountSetattr('5.12.0'), true);
  assert.equal(kernelHasMountSetattr('6.1.0-27-amd64'), true);
  assert.equal(kernelHasMountSetattr('4.19.0'), false);
});
