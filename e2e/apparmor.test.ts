// AppArmor through the CRI on whatever host the tests run on. Without AppArmor (the dev host):
// the default is no profile and a Localhost profile is refused naming it. With AppArmor (the VM
// test's Debian kernel): berth loaded berth-default and containers get it by default; a profile
// loaded while berth runs is used at once and enforced; one that is not loaded is refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { ctrConfig, runCtr, runPod, startCtEnv, waitExited, waitForLog, type CtEnv } from './container-fixtures.js';

const sh = promisify(execFile);
const ENABLED = await readFile('/sys/module/apparmor/parameters/enabled', 'utf8').then((s) => s.trim() === 'Y', () => false);
const DENY_WRITE = 'berth-e2e-deny-write';

describe(`AppArmor (${ENABLED ? 'enabled' : 'not enabled'} on this host)`, () => {
  let env: CtEnv;
  let tmp: string;
  before(async () => {
    env = await startCtEnv();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-aa-'));
  });
  after(async () => {
    if (ENABLED) await sh('apparmor_parser', ['-R', path.join(tmp, 'profile')]).catch(() => undefined);
    await env?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  /** The confinement a container's process runs under, from inside. */
  async function confinement(security: Record<string, unknown>): Promise<string> {
    const pod = await runPod(env, 'aa');
    const cfg = ctrConfig(env, 'aa', { command: ['sh', '-c', 'cat /proc/self/attr/current; echo; echo done'], linux: { security_context: security } });
    const id = await runCtr(env, pod, cfg);
    await waitExited(env, id);
    const log = await waitForLog(path.join(pod.config.log_directory!, 'aa.log'), /done/);
    return /stdout F (.*)\n/.exec(log)?.[1] ?? '';
  }

  it('a Localhost profile that is not loaded is refused, naming the profile', async () => {
    const pod = await runPod(env, 'aa-missing');
    const cfg = ctrConfig(env, 'm', { linux: { security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: 'localhost/berth-no-such-profile' } } } });
    await assert.rejects(env.d.client.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: cfg, sandbox_config: pod.config }), (e: CriError) =>
      e.code === GrpcStatus.INVALID_ARGUMENT && /AppArmor profile "berth-no-such-profile"/.test(e.details) && (ENABLED ? /not loaded/ : /not enabled/).test(e.details));
  });

  it('RuntimeDefault and no profile: berth-default where AppArmor is on, unconfined elsewhere; Unconfined is unconfined', async () => {
    const want = ENABLED ? 'berth-default (enforce)' : /^(unconfined|)$/;
    const check = (got: string) => (typeof want === 'string' ? assert.equal(got, want) : assert.match(got, want));
    check(await confinement({ apparmor: { profile_type: 'RuntimeDefault' } }));
    check(await confinement({}));
    const unconfined = await confinement({ apparmor: { profile_type: 'Unconfined' } });
    assert.match(unconfined, /^(unconfined|)$/);
  });

  it('a profile loaded while berth runs is used and enforced (writes denied)', { skip: !ENABLED && 'AppArmor is not enabled here' }, async () => {
    await writeFile(path.join(tmp, 'profile'), `#include <tunables/global>\nprofile ${DENY_WRITE} flags=(attach_disconnected) {\n  #include <abstractions/base>\n  file,\n  deny /** w,\n}\n`);
    await sh('apparmor_parser', ['-r', '-W', path.join(tmp, 'profile')]);
    const pod = await runPod(env, 'aa-deny');
    const id = await runCtr(env, pod, ctrConfig(env, 'w', {
      command: ['touch', '/tmp/foo'],
      linux: { security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: `localhost/${DENY_WRITE}` } } },
    }));
    const s = await waitExited(env, id);
    assert.notEqual(s.exit_code, 0, 'touch was denied');
  });
});
