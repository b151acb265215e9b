// The CDI registry over real spec directories: priority between directories, conflicts in one,
// broken files named, device nodes completed from the host (/dev/null), and the inotify watch:
// a spec written, changed or removed, and a spec directory that appears later, are seen by the
// next request without a poll.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../errors/errors.js';
import { CdiRegistry } from './registry.js';

const json = (kind: string, devices: Record<string, Record<string, unknown>>, version = '0.6.0', specEdits?: Record<string, unknown>) => JSON.stringify({
  cdiVersion: version, kind, devices: Object.entries(devices).map(([name, containerEdits]) => ({ name, containerEdits })),
  ...(specEdits ? { containerEdits: specEdits } : {}),
});
const invalid = (re: RegExp) => (err: unknown) => err instanceof InvalidArgumentError && re.test(err.message);

describe('cdi: registry', () => {
  let tmp: string;
  let etc: string;
  let run: string;
  let reg: CdiRegistry;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-cdi-'));
    etc = path.join(tmp, 'etc-cdi');
    run = path.join(tmp, 'run-cdi');
    await mkdir(etc);
    await mkdir(run);
    reg = new CdiRegistry({ specDirs: [etc, run] });
  });
  afterEach(async () => {
    reg.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('resolves devices with their spec\'s edits, completing device nodes from the host', async () => {
    await writeFile(path.join(etc, 'gpu.json'), json('vendor.com/gpu', {
      gpu0: { deviceNodes: [{ path: '/dev/gpu0', hostPath: '/dev/null' }], env: ['GPU=0'] },
      gpu1: { deviceNodes: [{ path: '/dev/gpu1', type: 'c', major: 195, minor: 1 }], env: ['GPU=1'] },
    }, '0.6.0', { env: ['VENDOR=1'], hooks: [{ hookName: 'createContainer', path: '/bin/true' }] }));
    const e = (await reg.resolve(['vendor.com/gpu=gpu0', 'vendor.com/gpu=gpu1', 'vendor.com/gpu=gpu0']))!;
    assert.deepEqual(e.env, ['VENDOR=1', 'GPU=0', 'GPU=1'], 'spec edits once, each device once');
    assert.equal(e.hooks!.length, 1);
    const [n0, n1] = e.deviceNodes!;
    assert.deepEqual([n0!.type, n0!.major, n0!.minor, n0!.hostPath, n0!.fileMode], ['c', 1, 3, '/dev/null', 0o666]);
    assert.deepEqual([n1!.type, n1!.major, n1!.minor], ['c', 195, 1], 'fully specified: no host node needed');
    assert.equal(await reg.resolve([]), undefined);
  });

  it('refuses invalid names, unknown devices and unusable host nodes with INVALID_ARGUMENT naming them', async () => {
    await writeFile(path.join(etc, 'a.yaml'), 'cdiVersion: "0.3.0"\nkind: vendor.com/disk\ndevices:\n- name: d0\n  containerEdits:\n    deviceNodes:\n    - path: /dev/berth-cdi-missing\n');
    await writeFile(path.join(etc, 'broken.json'), '{"cdiVersion": "0.3.0", "kind": "vendor.com/net", "devices": [{"name": "n0", "containerEdits": {"env": ["X"]}}]}');
    await writeFile(path.join(etc, 'typed.json'), json('vendor.com/tty', { t0: { deviceNodes: [{ path: '/dev/t0', hostPath: '/dev/null', type: 'b' }] } }));
    await assert.rejects(reg.resolve(['gpu0']), invalid(/CDI device "gpu0" is not a qualified CDI device name/));
    await assert.rejects(reg.resolve(['vendor.com/net=n0']), invalid(/unknown CDI device "vendor\.com\/net=n0".*broken\.json: devices\[0\]\.containerEdits\.env\[0\]: "X" is not NAME=value/));
    await assert.rejects(reg.resolve(['vendor.com/disk=d0']), invalid(/CDI device "vendor\.com\/disk=d0": host device node "\/dev\/berth-cdi-missing": .*ENOENT/));
    await assert.rejects(reg.resolve(['vendor.com/tty=t0']), invalid(/device node "\/dev\/t0" is type b in the spec, c on the host/));
    const snap = await reg.snapshot();
    assert.deepEqual(snap.devices, ['vendor.com/disk=d0', 'vendor.com/tty=t0']);
    assert.match(snap.errors[path.join(etc, 'broken.json')]!, /not NAME=value/);
  });

  it('a later spec directory overrides an earlier one; two specs in one directory conflict', async () => {
    await writeFile(path.join(etc, 'gpu.json'), json('vendor.com/gpu', { g: { env: ['FROM=etc'] }, only: { env: ['ONLY=etc'] } }));
    await writeFile(path.join(run, 'gpu.yaml'), json('vendor.com/gpu', { g: { env: ['FROM=run'] } }));
    assert.deepEqual((await reg.resolve(['vendor.com/gpu=g']))!.env, ['FROM=run']);
    assert.deepEqual((await reg.resolve(['vendor.com/gpu=only']))!.env, ['ONLY=etc']);
    await writeFile(path.join(run, 'gpu-dup.json'), json('vendor.com/gpu', { g: { env: ['FROM=run2'] } }));
    await reg.refresh();
    await assert.rejects(reg.resolve(['vendor.com/gpu=g']), invalid(/"vendor\.com\/gpu=g" \(defined by more than one spec of the same priority: .*gpu-dup\.json, .*gpu\.yaml\)/));
    assert.deepEqual((await reg.resolve(['vendor.com/gpu=only']))!.env, ['ONLY=etc'], 'other devices stay usable');
  });

  it('sees specs written, changed and removed through the directory watch', async () => {
    await assert.rejects(reg.resolve(['vendor.com/gpu=g']), invalid(/unknown/));
    let changed = once(reg, 'change');
    await writeFile(path.join(run, 'gpu.json'), json('vendor.com/gpu', { g: { env: ['V=1'] } }));
    await changed;
    assert.deepEqual((await reg.resolve(['vendor.com/gpu=g']))!.env, ['V=1']);
    changed = once(reg, 'change');
    await writeFile(path.join(run, 'gpu.json'), json('vendor.com/gpu', { g: { env: ['V=2'] } }));
    await changed;
    assert.deepEqual((await reg.resolve(['vendor.com/gpu=g']))!.env, ['V=2']);
    changed = once(reg, 'change');
    await rm(path.join(run, 'gpu.json'));
    await changed;
    await assert.rejects(reg.resolve(['vendor.com/gpu=g']), invalid(/unknown/));
  });

  it('finds a device whose spec was written just before the request, before its watch event is seen', async () => {
    assert.deepEqual((await reg.snapshot()).devices, [], 'loaded and watching');
    // Written and asked for in one tick: the watch callback cannot have run yet.
    writeFileSync(path.join(run, 'fresh.json'), json('vendor.com/gpu', { g: { env: ['FRESH=1'] } }));
    assert.deepEqual((await reg.resolve(['vendor.com/gpu=g']))!.env, ['FRESH=1']);
    await assert.rejects(reg.resolve(['vendor.com/gpu=g', 'vendor.com/gpu=none']), invalid(/unknown CDI device "vendor\.com\/gpu=none"/));
  });

  it('watches for a spec directory that does not exist yet', async () => {
    const later = path.join(tmp, 'later');
    const r = new CdiRegistry({ specDirs: [later] });
    try {
      await assert.rejects(r.resolve(['vendor.com/gpu=g']), invalid(/unknown/));
      let changed = once(r, 'change');
      await mkdir(later);
      await changed;
      await assert.rejects(r.resolve(['vendor.com/gpu=g']), invalid(/unknown/));
      changed = once(r, 'change');
      await writeFile(path.join(later, 'gpu.json'), json('vendor.com/gpu', { g: { env: ['LATE=1'] } }));
      await changed;
      assert.deepEqual((await r.resolve(['vendor.com/gpu=g']))!.env, ['LATE=1']);
    } finally {
      r.close();
    }
  });
});
