import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError } from '../errors/errors.js';
import { PROJECT_ROOT } from '../version/version.js';
import { layoutName, parseMountinfo } from './layout.js';
import { cgroupDir, cgroupfsPath, checkParent, containerCgroupsPath, expandSlice, isSystemdPath, podCgroupPath, runtimeCgroupAnnotations } from './paths.js';

const TD = path.join(PROJECT_ROOT, 'pkg/cgroups/testdata');
const mountinfo = async (name: string) => parseMountinfo(await readFile(path.join(TD, name), 'utf8'));

describe('cgroups: layout detection', () => {
  it('a pure v2 host', async () => {
    const l = await mountinfo('mountinfo-v2');
    assert.deepEqual(l, { version: 2, unified: { mountpoint: '/sys/fs/cgroup', root: '/' } });
    assert.equal(layoutName(l!), 'v2');
  });

  it('a hybrid host (the dev VM): v1 controllers, the named systemd hierarchy, the empty v2 mount', async () => {
    const l = await mountinfo('mountinfo-hybrid');
    assert.equal(l?.version, 1);
    if (l?.version !== 1) return;
    assert.equal(layoutName(l), 'hybrid');
    assert.equal(l.controllers.cpuacct?.mountpoint, '/sys/fs/cgroup/cpuacct');
    assert.equal(l.controllers.memory?.mountpoint, '/sys/fs/cgroup/memory');
    assert.equal(l.controllers.pids?.mountpoint, '/sys/fs/cgroup/pids');
    assert.equal(l.controllers.blkio?.mountpoint, '/sys/fs/cgroup/blkio');
    assert.equal(l.controllers.cpuset?.mountpoint, '/sys/fs/cgroup/cpuset');
    assert.equal(l.controllers.systemd?.mountpoint, '/sys/fs/cgroup/systemd');
    assert.equal(l.unified?.mountpoint, '/sys/fs/cgroup/unified');
  });

  it('combined cpu,cpuacct mounts and a namespaced mount root', async () => {
    const l = await mountinfo('mountinfo-v1-combined');
    assert.equal(l?.version, 1);
    if (l?.version !== 1) return;
    assert.equal(l.controllers.cpuacct?.mountpoint, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(l.controllers.cpu?.mountpoint, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(cgroupDir(l.controllers.memory!, '/kubepods/pod1/ctr'), '/sys/fs/cgroup/memory/ctr');
    assert.equal(cgroupDir(l.controllers.cpuacct!, '/kubepods/pod1/ctr'), '/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr');
  });

  it('no cgroup mount at all', () => {
    assert.equal(parseMountinfo('22 1 0:21 / /proc rw - proc proc rw\n'), undefined);
  });
});

describe('cgroups: names and paths', () => {
  it('expands systemd slice and scope names', () => {
    assert.equal(expandSlice('kubepods-besteffort-pod1.slice'), '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice');
    assert.equal(expandSlice('-.slice'), '/');
    assert.equal(cgroupfsPath('system.slice:berth:abc'), '/system.slice/berth-abc.scope');
    assert.equal(cgroupfsPath('kubepods.slice'), '/kubepods.slice');
    assert.equal(cgroupfsPath('/berth/pod/ctr'), '/berth/pod/ctr');
    assert.equal(cgroupfsPath('berth/x'), '/berth/x');
    assert.equal(isSystemdPath('a.slice:berth:x'), true);
    assert.equal(isSystemdPath('/berth/x'), false);
  });

  it('container paths under kubelet parents, both drivers', () => {
    const uid = '6f1c2a9e_3b4d_4e5f_8a7b_9c0d1e2f3a4b';
    assert.equal(containerCgroupsPath('systemd', `kubepods-burstable-pod${uid}.slice`, 'abc'), `kubepods-burstable-pod${uid}.slice:berth:abc`);
    assert.equal(
      cgroupfsPath(containerCgroupsPath('systemd', `kubepods-burstable-pod${uid}.slice`, 'abc')),
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid}.slice/berth-abc.scope`,
    );
    // A full path to a slice means the slice (as CRI-O takes it).
    assert.equal(containerCgroupsPath('systemd', '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice', 'x'), 'kubepods-besteffort-pod1.slice:berth:x');
    assert.equal(containerCgroupsPath('cgroupfs', '/kubepods/burstable/pod1/', 'abc'), '/kubepods/burstable/pod1/abc');
    assert.equal(podCgroupPath('systemd', 'kubepods-besteffort-pod1.slice'), '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice');
    assert.equal(podCgroupPath('cgroupfs', 'kubepods/burstable/pod1'), '/kubepods/burstable/pod1');
  });

  it('refuses a parent the driver cannot use, naming the field', () => {
    assert.throws(() => checkParent('systemd', '/kubepods/burstable/pod1'), (e: Error) => e instanceof InvalidArgumentError && /linux\.cgroup_parent "\/kubepods\/burstable\/pod1".*systemd slice/.test(e.message));
    assert.throws(() => checkParent('systemd', 'a.slice:b:c'), InvalidArgumentError);
    assert.throws(() => checkParent('cgroupfs', 'a.slice:berth:c'), /cgroup driver is cgroupfs/);
    assert.throws(() => checkParent('cgroupfs', '/kubepods/../../etc'), InvalidArgumentError);
    checkParent('systemd', 'berth.slice');
    checkParent('cgroupfs', '/berth');
  });

  it('under the systemd driver the runtime is told to keep the container in the scope itself (crun\'s sub-cgroup off)', () => {
    assert.deepEqual(runtimeCgroupAnnotations('kubepods-besteffort-pod1.slice:berth:abc'), { 'run.oci.systemd.subgroup': '' });
    assert.deepEqual(runtimeCgroupAnnotations('/kubepods/besteffort/pod1/abc'), {}, 'cgroupfs: crun makes no sub-cgroup');
  });
});
