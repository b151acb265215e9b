// CDI container edits on an OCI spec: each kind of edit, replacement rules, order, purity.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OciSpec } from '../container/oci.js';
import { applyEdits, gatherEdits, type ResolvedEdits } from './edits.js';
import type { ContainerEdits } from './types.js';

function base(): OciSpec {
  return {
    ociVersion: '1.0.2-dev',
    process: { terminal: false, user: { uid: 1000, gid: 2000, additionalGids: [2000] }, args: ['sh'], env: ['PATH=/bin', 'GPU=none'], cwd: '/' },
    root: { path: '/rootfs', readonly: false },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev/shm', type: 'bind', source: '/run/shm', options: ['rbind'] },
      { destination: '/data', type: 'bind', source: '/old', options: ['rbind'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
    ],
    annotations: {},
    linux: { namespaces: [], resources: { devices: [{ allow: false, access: 'rwm' }] }, cgroupsPath: '/x', devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] },
  };
}

describe('cdi: container edits', () => {
  it('sets env (same name replaced), device nodes with cgroup rules, additional gids', () => {
    const before = base();
    const e: ResolvedEdits = {
      env: ['GPU=0', 'VENDOR=1'],
      deviceNodes: [
        { path: '/dev/gpu0', type: 'c', major: 195, minor: 0, fileMode: 0o666 },
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, permissions: 'rw', uid: 0, gid: 0 },
        { path: '/dev/sdz', type: 'b', major: 8, minor: 16, permissions: 'none' },
        { path: '/dev/pipe', type: 'p', major: 0, minor: 0 },
      ],
      additionalGids: [44, 0, 2000, 44],
    };
    const s = applyEdits(before, e);
    assert.deepEqual(s.process.env, ['PATH=/bin', 'GPU=0', 'VENDOR=1']);
    assert.deepEqual(s.linux.devices, [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, uid: 0, gid: 0 },
      { path: '/dev/gpu0', type: 'c', major: 195, minor: 0, fileMode: 0o666, uid: 1000, gid: 2000 },
      { path: '/dev/sdz', type: 'b', major: 8, minor: 16, uid: 1000, gid: 2000 },
      { path: '/dev/pipe', type: 'p', major: 0, minor: 0, uid: 1000, gid: 2000 },
    ], 'replaced by path, owned by the container user unless the spec says, fifo included');
    assert.deepEqual(s.linux.resources.devices!.slice(1), [
      { allow: true, type: 'c', major: 195, minor: 0, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    ], 'rwm by default, no rule for "none" (no access) nor for a fifo');
    assert.deepEqual(s.process.user.additionalGids, [2000, 44], 'no 0, no duplicates');
    assert.deepEqual(before, base(), 'the input spec is not changed');
  });

  it('replaces a mount at the same path and orders mounts parents first, stably', () => {
    const s = applyEdits(base(), {
      mounts: [
        { hostPath: '/usr/lib/x/libgpu.so', containerPath: '/usr/lib/libgpu.so', options: ['ro', 'nosuid', 'bind'] },
        { hostPath: '/new', containerPath: '/data', type: 'bind', options: ['rbind', 'ro'] },
      ],
    });
    assert.deepEqual(s.mounts.map((m) => m.destination), ['/proc', '/dev', '/data', '/dev/shm', '/usr/lib/libgpu.so']);
    assert.deepEqual(s.mounts.find((m) => m.destination === '/data'), { destination: '/data', source: '/new', type: 'bind', options: ['rbind', 'ro'] });
    assert.deepEqual(s.mounts.at(-1), { destination: '/usr/lib/libgpu.so', source: '/usr/lib/x/libgpu.so', options: ['ro', 'nosuid', 'bind'] });
    assert.deepEqual(applyEdits(base(), { env: ['A=1'] }).mounts, base().mounts, 'no mount edits: order untouched');
  });

  it('adds hooks of every kind, intelRdt and net devices', () => {
    const names = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
    const s = applyEdits(base(), {
      hooks: [...names.map((hookName) => ({ hookName, path: `/hooks/${hookName}` })), { hookName: 'poststop', path: '/hooks/2', args: ['2'], env: ['X=1'], timeout: 3 }],
      intelRdt: { closID: 'gold', l3CacheSchema: 'L3:0=ff' },
      netDevices: [{ hostInterfaceName: 'eth9', name: 'net0' }],
    });
    for (const n of names) assert.equal(s.hooks![n]![0]!.path, `/hooks/${n}`);
    assert.deepEqual(s.hooks!.poststop![1], { path: '/hooks/2', args: ['2'], env: ['X=1'], timeout: 3 });
    assert.deepEqual(s.linux.intelRdt, { closID: 'gold', l3CacheSchema: 'L3:0=ff' });
    assert.deepEqual(s.linux.netDevices, { eth9: { name: 'net0' } });
  });

  it('root containers leave device ownership to the spec (no uid 0 written)', () => {
    const root = base();
    root.process.user = { uid: 0, gid: 0 };
    const s = applyEdits(root, { deviceNodes: [{ path: '/dev/gpu0', type: 'c', major: 195, minor: 0 }] });
    assert.deepEqual(s.linux.devices!.at(-1), { path: '/dev/gpu0', type: 'c', major: 195, minor: 0 });
  });

  it('gathers a spec\'s own edits once, before its first device, then each device\'s; the last intelRdt wins', () => {
    const specA = { env: ['A_SPEC=1'], intelRdt: { closID: 'a' } };
    const specB = { env: ['B_SPEC=1'] };
    const e = gatherEdits<ContainerEdits>([
      { specEdits: specA, edits: { env: ['A0=1'] } },
      { specEdits: specB, edits: { env: ['B0=1'], intelRdt: { closID: 'b' } } },
      { specEdits: specA, edits: { env: ['A1=1'], mounts: [{ hostPath: '/a', containerPath: '/a' }] } },
    ]);
    assert.deepEqual(e.env, ['A_SPEC=1', 'A0=1', 'B_SPEC=1', 'B0=1', 'A1=1']);
    assert.deepEqual(e.intelRdt, { closID: 'b' });
    assert.equal(e.mounts!.length, 1);
  });
});
