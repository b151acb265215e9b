import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_CONFIG } from '../config/config.js';
import { diffConfig } from '../config/reload.js';
import { PROJECT_ROOT } from '../version/version.js';
import { Cgroups } from './cgroups.js';
import { conmonLaunch } from './conmon.js';
import { defaultParent, resolveDriver } from './driver.js';
import { hybridV2Controllers, type CgroupLayout } from './layout.js';

const TD = path.join(PROJECT_ROOT, 'pkg/cgroups/testdata');
const V2: CgroupLayout = { version: 2, unified: { mountpoint: '/sys/fs/cgroup', root: '/' } };
const V1: CgroupLayout = { version: 1, controllers: { memory: { mountpoint: '/sys/fs/cgroup/memory', root: '/' } } };

describe('cgroups: hosts crun refuses', () => {
  it('controllers left on the v2 mount of a hybrid host are found; crun (and only crun) is refused there', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-hybrid-'));
    try {
      await writeFile(path.join(dir, 'cgroup.controllers'), 'hugetlb\n');
      const hybrid: CgroupLayout = { ...V1, unified: { mountpoint: dir, root: '/' } };
      assert.deepEqual(await hybridV2Controllers(hybrid), ['hugetlb']);
      assert.deepEqual(await hybridV2Controllers(V1), [], 'no v2 mount');
      assert.deepEqual(await hybridV2Controllers({ version: 2, unified: { mountpoint: dir, root: '/' } }), [], 'a v2 host has them all on v2');
      await writeFile(path.join(dir, 'cgroup.controllers'), '');
      assert.deepEqual(await hybridV2Controllers(hybrid), [], 'hugetlb mounted as v1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const refused = new Cgroups(V1, 'cgroupfs', '/berth', ['memory'], false, ['hugetlb']);
    assert.match(refused.runtimeRefusal('/usr/bin/crun') ?? '', /crun refuses this hybrid cgroup host: controllers hugetlb are on its v2 hierarchy.*scripts\/node-prep\.sh/);
    assert.equal(refused.runtimeRefusal('/usr/sbin/runc'), undefined);
    assert.equal(new Cgroups(V1, 'cgroupfs', '/berth', ['memory'], false).runtimeRefusal('/usr/bin/crun'), undefined);
  });
});

describe('cgroups: driver', () => {
  it('auto: systemd on a systemd + v2 host, cgroupfs otherwise', () => {
    assert.equal(resolveDriver('auto', V2, true), 'systemd');
    assert.equal(resolveDriver('auto', V1, true), 'cgroupfs');
    assert.equal(resolveDriver('auto', V2, false), 'cgroupfs');
    assert.equal(resolveDriver('auto', undefined, false), 'cgroupfs');
    assert.equal(resolveDriver('cgroupfs', V2, true), 'cgroupfs');
    assert.equal(resolveDriver('systemd', V1, true), 'systemd');
    assert.equal(defaultParent('systemd'), 'berth.slice');
    assert.equal(defaultParent('cgroupfs'), '/berth');
  });

  it('systemd configured without systemd is a config error naming PID 1', () => {
    assert.throws(() => resolveDriver('systemd', V2, false, 'tini'), (e: Error) => e instanceof ConfigError && /cgroup_driver = "systemd".*PID 1 is "tini"/.test(e.message));
  });

  it('detect on a recorded host: no systemd here means cgroupfs; systemd refused', async () => {
    const noSystemd = path.join(TD, 'no-such-dir');
    const cg = await Cgroups.detect({ driver: 'auto', parent: '', mountinfo: path.join(TD, 'mountinfo-v2'), systemdRunDir: noSystemd });
    assert.equal(cg.driver, 'cgroupfs');
    assert.equal(cg.defaultParent, '/berth');
    assert.deepEqual(cg.info().mode, 'v2');
    assert.deepEqual(cg.warnings(), []);
    const sd = await Cgroups.detect({ driver: 'auto', parent: '', mountinfo: path.join(TD, 'mountinfo-v2'), systemdRunDir: TD });
    assert.equal(sd.driver, 'systemd');
    assert.equal(sd.defaultParent, 'berth.slice');
    assert.equal(sd.containerPath('', 'abc'), 'berth.slice:berth:abc');
    assert.deepEqual(sd.runtimeFlags(sd.containerPath('', 'abc')), ['--systemd-cgroup']);
    assert.deepEqual(sd.runtimeFlags('/berth/abc'), [], 'a container made under cgroupfs keeps its driver');
    await assert.rejects(Cgroups.detect({ driver: 'systemd', parent: '', mountinfo: path.join(TD, 'mountinfo-v2'), systemdRunDir: noSystemd }), ConfigError);
    const v1 = await Cgroups.detect({ driver: 'auto', parent: '/pods', mountinfo: path.join(TD, 'mountinfo-hybrid'), systemdRunDir: noSystemd });
    assert.equal(v1.info().mode, 'hybrid');
    assert.equal(v1.defaultParent, '/pods');
    assert.deepEqual(v1.controllers, ['blkio', 'cpu', 'cpuacct', 'cpuset', 'memory', 'pids']);
    assert.match(v1.warnings()[0]!, /kubelet >= 1.35 refuses.*failCgroupV1: false/);
  });

  it('the effective config: "auto" and "" resolved as at start, so an unchanged file reloads as unchanged', async () => {
    const sd = await Cgroups.detect({ driver: 'auto', parent: '', mountinfo: path.join(TD, 'mountinfo-v2'), systemdRunDir: TD });
    const file = structuredClone(DEFAULT_CONFIG);
    const eff = sd.effectiveConfig(file);
    assert.equal(eff.cgroup_driver, 'systemd');
    assert.equal(eff.runtime.cgroup_parent, 'berth.slice');
    assert.deepEqual(diffConfig(eff, sd.effectiveConfig(structuredClone(DEFAULT_CONFIG))), { changed: [], restartRequired: [] });
    assert.equal(file.cgroup_driver, 'auto', 'the file as read is left alone');
    const other = sd.effectiveConfig({ ...file, cgroup_driver: 'cgroupfs' });
    assert.equal(other.runtime.cgroup_parent, '/berth', 'another driver named in the file: that driver\'s default parent');
    assert.deepEqual(diffConfig(eff, other).restartRequired, ['cgroup_driver', 'runtime.cgroup_parent']);
  });

  it('a configured default parent the driver cannot use is refused at start', async () => {
    await assert.rejects(
      Cgroups.detect({ driver: 'auto', parent: '/berth', mountinfo: path.join(TD, 'mountinfo-v2'), systemdRunDir: TD }),
      (e: Error) => e instanceof ConfigError && /^runtime\.cgroup_parent = "\/berth": the cgroup driver is systemd/.test(e.message),
    );
  });
});

describe('cgroups: conmon placement', () => {
  let tmp: string;
  after(() => rm(tmp, { recursive: true, force: true }));

  it('systemd: a transient scope in berth-conmon.slice, conmon exec\'d in place', () => {
    const l = conmonLaunch('systemd', [], 'abc', '/usr/bin/conmon', ['-c', 'abc']);
    assert.deepEqual(l, {
      file: 'systemd-run',
      args: ['--scope', '--quiet', '--collect', '--unit=berth-conmon-abc', '--slice=berth-conmon.slice', '--', '/usr/bin/conmon', '-c', 'abc'],
    });
  });

  it('cgroupfs: the shell writes its own pid into each cgroup.procs, then becomes conmon (same pid, same fds)', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-conmon-'));
    const procs = [path.join(tmp, 'a.procs'), path.join(tmp, 'b.procs')];
    await Promise.all(procs.map((f) => writeFile(f, '')));
    const l = conmonLaunch('cgroupfs', procs, 'abc', '/bin/sh', ['-c', 'echo $$ >&3']);
    const child = spawn(l.file, l.args, { env: { ...process.env, ...l.env }, stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
    let out = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (out += b.toString()));
    const [code] = await once(child, 'close');
    assert.equal(code, 0);
    assert.equal(out.trim(), String(child.pid), 'the exec\'d command kept the pid and fd 3');
    for (const f of procs) assert.equal((await readFile(f, 'utf8')).trim(), String(child.pid));
  });

  it('cgroupfs: a cgroup it cannot join stops it before conmon runs', async () => {
    const l = conmonLaunch('cgroupfs', [path.join(tmp, 'missing', 'cgroup.procs')], 'abc', '/bin/true', []);
    const child = spawn(l.file, l.args, { env: { ...process.env, ...l.env }, stdio: 'ignore' });
    const [code] = await once(child, 'close');
    assert.equal(code, 125);
  });
});
