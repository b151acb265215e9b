// Containers end to end: the security context kubelet sends (readonly rootfs, users, capabilities,
// privileged, seccomp), command/args/env/workdir semantics and bind mounts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { LinuxContainerSecurityContext } from '../pkg/cri/gen/runtime/v1/LinuxContainerSecurityContext.js';
import { sh as sh0 } from './sandbox-fixtures.js';
import { ctrConfig, execText, podConfig, runCtr, runPod, startCtEnv, waitExited, waitForLog, type CtEnv } from './container-fixtures.js';

const CAP_CHOWN = 0;
const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

describe('containers: security context and process semantics', () => {
  let env: CtEnv;
  let pod: Awaited<ReturnType<typeof runPod>>;
  before(async () => {
    // Both handlers (the default may fall back to runc) let one run.oci.* annotation through.
    const allow = 'allowed_annotations = ["run.oci.berth-e2e-allowed"]';
    env = await startCtEnv({ extraToml: `[runtime.handlers.runc]\n${allow}\n[runtime.handlers.crun]\n${allow}\n` });
    pod = await runPod(env, 'sec');
  });
  after(async () => {
    await env.close();
  });

  let n = 0;
  const run = (sc: LinuxContainerSecurityContext = {}, extra: Partial<ContainerConfig> = {}, image?: string) =>
    runCtr(env, pod, ctrConfig(env, `c${++n}`, {
      command: ['sleep', '1000'], linux: { security_context: sc }, ...(image ? { image: { image } } : {}), ...extra,
    }));
  const sh = async (id: string, script: string) => execText(env, id, ['sh', '-c', script]);
  const capEff = async (id: string) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec((await sh(id, 'cat /proc/self/status')).stdout)![1]}`);
  const has = (mask: bigint, bit: number) => ((mask >> BigInt(bit)) & 1n) === 1n;

  it('readonly rootfs refuses writes', async () => {
    const id = await run({ readonly_rootfs: true });
    const r = await sh(id, 'echo x > /newfile');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    const rw = await run();
    assert.equal((await sh(rw, 'echo x > /newfile && cat /newfile')).stdout, 'x\n');
  });

  it('run_as_user 1000 shows in id -u; the image USER and WORKDIR are honoured', async () => {
    const id = await run({ run_as_user: { value: 1000 } });
    assert.equal((await sh(id, 'id -u; id -g; id -un')).stdout, '1000\n1000\nberthuser\n');
    const u = await run({}, {}, env.userImage);
    assert.equal((await sh(u, 'id -un; pwd; echo $HOME')).stdout, 'berthuser\n/home/berthuser\n/home/berthuser\n');
    // The image's Volumes exist as directories.
    assert.equal((await sh(u, 'test -d /var/data && echo dir')).stdout, 'dir\n');
    const g = await run({ run_as_user: { value: 1234 }, run_as_group: { value: 2345 }, supplemental_groups: [3456] });
    assert.equal((await sh(g, 'id -u; id -g; id -G')).stdout, '1234\n2345\n2345 3456\n');
  });

  it('added and dropped capabilities show in /proc/self/status', async () => {
    const def = await capEff(await run());
    assert.ok(has(def, CAP_CHOWN) && !has(def, CAP_NET_ADMIN) && !has(def, CAP_SYS_ADMIN));
    const id = await run({ capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['CHOWN'] } });
    const m = await capEff(id);
    assert.ok(has(m, CAP_NET_ADMIN), m.toString(16));
    assert.ok(!has(m, CAP_CHOWN), m.toString(16));
    const none = await capEff(await run({ capabilities: { drop_capabilities: ['ALL'] } }));
    assert.equal(none, 0n);
  });

  it('a privileged container can mount a tmpfs, an unprivileged one cannot', async () => {
    const p = await run({ privileged: true });
    assert.equal((await sh(p, 'mkdir -p /mnt/t && mount -t tmpfs tmpfs /mnt/t && echo ok')).stdout, 'ok\n');
    // The daemon's own capability set, not every cap the kernel knows.
    const own = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(await readFile('/proc/self/status', 'utf8'))![1]}`);
    assert.equal(await capEff(p), own);
    const u = await run();
    const r = await sh(u, 'mkdir -p /mnt/t && mount -t tmpfs tmpfs /mnt/t');
    assert.notEqual(r.code, 0);
  });

  it('RuntimeDefault seccomp blocks a syscall the default profile blocks; Unconfined does not', async () => {
    // unshare(2) is only allowed with CAP_SYS_ADMIN; creating a user namespace needs no capability.
    const open = await run({ seccomp: { profile_type: 'Unconfined' } });
    assert.equal((await sh(open, 'unshare -U true && echo allowed')).stdout, 'allowed\n');
    const def = await run({ seccomp: { profile_type: 'RuntimeDefault' } });
    const r = await sh(def, 'unshare -U true');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Operation not permitted/);
    // Ordinary work still runs under the profile.
    assert.equal((await sh(def, 'echo fine | cat')).stdout, 'fine\n');
  });

  it('a Localhost seccomp profile is applied; a missing one is a clear error', async () => {
    const file = path.join(env.tmp, 'deny-mkdir.json');
    await writeFile(file, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    }));
    const id = await run({ seccomp: { profile_type: 'Localhost', localhost_ref: file } });
    const r = await sh(id, 'mkdir /tmp/x');
    assert.match(r.stderr, /Operation not permitted/);
    await assert.rejects(run({ seccomp: { profile_type: 'Localhost', localhost_ref: '/nonexistent/profile.json' } }), /nonexistent\/profile.json/);
  });

  it('command/args/env/workdir semantics', async () => {
    const log = (name: string) => path.join(pod.config.log_directory!, `${name}.log`);
    // args alone replace the image Cmd (the image has no Entrypoint).
    const a = await runCtr(env, pod, ctrConfig(env, 'args', { args: ['sh', '-c', 'echo args:$FOO:$PWD'], envs: [{ key: 'FOO', value: 'bar' }], working_dir: '/tmp' }));
    await waitExited(env, a);
    assert.match(await waitForLog(log('args'), /args:/), /stdout F args:bar:\/tmp$/m);
    // command + args.
    const c = await runCtr(env, pod, ctrConfig(env, 'cmd', { command: ['sh', '-c'], args: ['echo cmd:$PATH'] }));
    await waitExited(env, c);
    assert.match(await waitForLog(log('cmd'), /cmd:/), /stdout F cmd:\/usr\/local\/sbin:/m);
    // CRI env overrides the image's.
    const e = await runCtr(env, pod, ctrConfig(env, 'env', { command: ['sh', '-c', 'echo env:$PATH'], envs: [{ key: 'PATH', value: '/bin' }] }));
    await waitExited(env, e);
    assert.match(await waitForLog(log('env'), /env:/), /stdout F env:\/bin$/m);
    // Nothing given: the image Cmd (sh) runs and exits at once on empty stdin.
    const d = await runCtr(env, pod, ctrConfig(env, 'dflt'));
    assert.equal((await waitExited(env, d)).exit_code, 0);
  });

  it('a CRI device appears at its container path', async () => {
    const id = await run({}, { devices: [{ container_path: '/dev/mynull', host_path: '/dev/null', permissions: 'rwm' }] });
    assert.equal((await sh(id, 'echo x > /dev/mynull && ls -l /dev/mynull')).stdout.slice(0, 1), 'c');
  });

  it('ro and rw bind mounts, through a symlinked host path', async () => {
    const rwDir = path.join(env.tmp, 'rw');
    const roDir = path.join(env.tmp, 'ro');
    await mkdir(rwDir);
    await mkdir(roDir);
    await writeFile(path.join(roDir, 'data'), 'from-host\n');
    await symlink(roDir, path.join(env.tmp, 'ro-link'));
    const id = await run({}, {
      mounts: [
        { container_path: '/rw', host_path: rwDir },
        { container_path: '/ro', host_path: path.join(env.tmp, 'ro-link'), readonly: true },
      ],
    });
    assert.equal((await sh(id, 'echo written > /rw/out && cat /ro/data')).stdout, 'from-host\n');
    assert.equal(await readFile(path.join(rwDir, 'out'), 'utf8'), 'written\n');
    const r = await sh(id, 'echo x > /ro/data');
    assert.match(r.stderr, /Read-only file system/);
    const st = (await env.d.client.runtime('ContainerStatus', { container_id: id })).status!;
    assert.deepEqual(st.mounts.map((m) => [m.container_path, m.host_path, m.readonly]), [['/rw', rwDir, false], ['/ro', roDir, true]]);
  });

  it('recursive read-only makes submounts read-only too', async () => {
    const dir = path.join(env.tmp, 'rro');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await sh0('mount', ['-t', 'tmpfs', 'tmpfs', path.join(dir, 'sub')]);
    try {
      const plain = await run({}, { mounts: [{ container_path: '/ro', host_path: dir, readonly: true }] });
      assert.equal((await sh(plain, 'echo x > /ro/sub/f && echo wrote')).stdout, 'wrote\n', 'plain ro leaves the submount writable');
      const rro = await run({}, { mounts: [{ container_path: '/ro', host_path: dir, readonly: true, recursive_read_only: true }] });
      assert.match((await sh(rro, 'echo x > /ro/sub/g')).stderr, /Read-only file system/);
    } finally {
      await sh0('umount', ['-l', path.join(dir, 'sub')]).catch(() => undefined);
    }
  });

  it('only io.kubernetes.* and the handler\'s allowed annotations reach the spec; the pod\'s own reach neither pause nor containers', async () => {
    const podAnnotations = { 'run.oci.keep_original_groups': '1', 'run.oci.berth-e2e-allowed': 'pod', 'org.systemd.property.CPUWeight': '1' };
    const p = await runPod(env, 'ann', {
      annotations: podAnnotations,
      linux: { ...podConfig(env, 'ann').linux, security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
    });
    const id = await runCtr(env, p, ctrConfig(env, 'ann', {
      command: ['sleep', '1000'],
      annotations: { 'run.oci.keep_original_groups': '1', 'run.oci.berth-e2e-allowed': 'yes', 'example.com/team': 'a', 'io.kubernetes.container.hash': 'h' },
    }));
    const spec = JSON.parse(await readFile(path.join(env.d.state, 'containers', id, 'config.json'), 'utf8')) as { annotations: Record<string, string> };
    assert.equal(spec.annotations['run.oci.berth-e2e-allowed'], 'yes', 'allowed for the handler');
    assert.equal(spec.annotations['io.kubernetes.container.hash'], 'h');
    assert.equal(spec.annotations['io.kubernetes.cri.sandbox-id'], p.id);
    for (const k of ['run.oci.keep_original_groups', 'example.com/team', 'org.systemd.property.CPUWeight']) assert.ok(!(k in spec.annotations), k);
    const pause = JSON.parse(await readFile(path.join(env.d.state, 'sandboxes', p.id, 'pause', 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    for (const k of Object.keys(podAnnotations)) assert.ok(!(k in (pause.annotations ?? {})), `pause: ${k}`);
    // The CRI still reports every annotation the container was made with.
    const st = (await env.d.client.runtime('ContainerStatus', { container_id: id })).status!;
    assert.equal(st.annotations['run.oci.keep_original_groups'], '1');
  });

  it('the pod hostname, hosts and resolv.conf are mounted; ExecSync timeout kills and says so', async () => {
    const id = await run();
    assert.equal((await sh(id, 'hostname')).stdout.trim(), 'sec');
    assert.equal((await sh(id, 'test -s /etc/resolv.conf && grep -c localhost /etc/hosts')).code, 0);
    const t0 = Date.now();
    await assert.rejects(env.d.client.runtime('ExecSync', { container_id: id, cmd: ['sleep', '30'], timeout: 1 }), (e: Error) => /timed out/.test(e.message));
    assert.ok(Date.now() - t0 < 5000);
    assert.equal((await sh(id, 'ps -o args | grep -c "^sleep 30"')).stdout.trim(), '0', 'the timed-out process was killed');
    // ...and reaped: a zombie left under the container's init (which need not reap) still shows
    // in pgrep, which is how critest checks it.
    assert.equal((await sh(id, 'cat /proc/[0-9]*/stat 2>/dev/null | grep -c "(sleep) Z"')).stdout.trim(), '0', 'no zombie left behind');
  });
});
