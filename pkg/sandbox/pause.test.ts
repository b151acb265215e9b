// The shared-PID infra process under real runc, with the state directory on a nodev tmpfs, as
// /run is on a systemd node (the host's /run here is not): device nodes there cannot be opened,
// and runc reopens /dev/null inside the container.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pauseSpec, preparePauseRootfs, startPause, stopPause } from './pause.js';

const sh = promisify(execFile);
const CGROUP = `/berth-test-pause/unit-${process.pid}`;
const ID = `unit-pause-${process.pid}`;

describe('pause under runc', () => {
  let tmp: string;
  let state: string;
  let started: number | undefined;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-pause-'));
    state = path.join(tmp, 'state');
    await mkdir(state);
    await sh('mount', ['-t', 'tmpfs', '-o', 'nodev,nosuid,mode=711', 'tmpfs', state]);
  });

  after(async () => {
    // A failed assertion must not leave pause running: its runtime state goes with the tmpfs.
    if (started) {
      try {
        process.kill(started, 'SIGKILL');
      } catch {
        /* stopped by the test */
      }
    }
    await stopPause('/usr/sbin/runc', path.join(state, 'runc'), ID).catch(() => undefined);
    await sh('umount', [state]).catch(() => undefined);
    for (const c of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
      await rmdir(path.join('/sys/fs/cgroup', c, CGROUP)).catch(() => undefined);
      await rmdir(path.join('/sys/fs/cgroup', c, path.dirname(CGROUP))).catch(() => undefined); // only if empty
    }
    await rm(tmp, { recursive: true, force: true });
  });

  it('starts and stops with the state directory on a nodev mount', async () => {
    const rootfs = path.join(state, 'pause-rootfs');
    await preparePauseRootfs(rootfs);
    const id = ID;
    const runtimeRoot = path.join(state, 'runc');
    const pid = await startPause({
      id, runtimePath: '/usr/sbin/runc', runtimeRoot, bundleDir: path.join(state, 'pause'), rootfs, cgroupsPath: `${CGROUP}/${id}`, runtimeFlags: [],
    });
    started = pid;
    // runc may return before its init has exec'd /pause: check the namespace it set up.
    assert.notEqual(await readlink(`/proc/${pid}/ns/pid`), await readlink('/proc/self/ns/pid'), 'pause runs in a PID namespace of its own');
    await stopPause('/usr/sbin/runc', runtimeRoot, id, pid);
    assert.equal(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''), '', 'pause is gone');
    started = undefined;
  });
});

describe('pause spec', () => {
  it('under the systemd driver crun keeps pause in its scope, not a sub-cgroup of it', () => {
    const base = { id: 'p', runtimePath: '/usr/bin/crun', runtimeRoot: '/r', bundleDir: '/b', rootfs: '/rootfs', runtimeFlags: [] };
    const annotations = (cgroupsPath: string) => (pauseSpec({ ...base, cgroupsPath }) as { annotations: Record<string, string> }).annotations;
    assert.deepEqual(annotations('kubepods-besteffort-pod1.slice:berth:p'), { 'run.oci.systemd.subgroup': '' });
    assert.deepEqual(annotations('/kubepods/besteffort/pod1/p'), {});
  });
});
