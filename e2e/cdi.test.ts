// CDI devices through the daemon under runc: a spec in one of berth's CDI spec directories
// gives a device node (a char device made for the test, aliased at another path in the
// container, type and numbers read from the host), a device the cgroup rule it adds opens, a
// read-only mount, env, an additional GID
// and a createRuntime hook; a container that asks for it by CDI_devices and by a cdi.k8s.io
// annotation sees all of them. Unknown devices, bad names and broken specs are refused with
// INVALID_ARGUMENT naming them; a spec written while the daemon runs is usable at once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { ctrConfig, execText, runCtr, runPod, startCtEnv, type CtEnv } from './container-fixtures.js';

const invalid = (re: RegExp) => (e: CriError) => e.code === GrpcStatus.INVALID_ARGUMENT && re.test(e.details);

describe('CDI devices e2e', () => {
  let env: CtEnv;
  let tmp: string;
  let staticDir: string;
  let dynamicDir: string;
  let pod: { id: string; config: Parameters<typeof runCtr>[1]['config'] };

  before(async () => {
    tmp = await mkdtemp('/tmp/berth-cdi-e2e-');
    staticDir = path.join(tmp, 'etc-cdi');
    dynamicDir = path.join(tmp, 'run-cdi');
    await mkdir(staticDir);
    await mkdir(dynamicDir);
    await mkdir(path.join(tmp, 'vendor'));
    await writeFile(path.join(tmp, 'vendor', 'hello'), 'from the vendor\n');
    // A char device like /dev/zero (1:5) under a name only this test knows.
    execFileSync('mknod', [path.join(tmp, 'zero-node'), 'c', '1', '5']);
    await writeFile(path.join(staticDir, 'berth-test.yaml'), [
      'cdiVersion: "0.7.0"',
      'kind: berth.test/dev',
      'containerEdits:',
      '  env: ["BERTH_TEST_VENDOR=1"]',
      '  hooks:',
      '  - hookName: createRuntime',
      '    path: /bin/sh',
      `    args: ["sh", "-c", "cat > ${tmp}/hook-state.json"]`,
      'devices:',
      '- name: zero0',
      '  containerEdits:',
      '    env: ["BERTH_TEST_DEVICE=zero0"]',
      '    deviceNodes:',
      `    - path: /dev/berth-zero`,
      `      hostPath: ${tmp}/zero-node`,
      '      permissions: rw',
      '    mounts:',
      `    - hostPath: ${tmp}/vendor`,
      '      containerPath: /opt/vendor',
      '      options: ["ro", "nosuid", "nodev", "bind"]',
      '    additionalGids: [4242]',
      '- name: extra',
      '  containerEdits:',
      '    env: ["BERTH_TEST_EXTRA=yes"]',
      // /dev/kmsg (1:11) is not among the devices every container may open (runc 1.1 allows
      // /dev/net/tun to every container, so tun cannot show a refusal); opened write-only it needs
      // no capability, so only the device cgroup rule this spec adds lets the container open it.
      '- name: kmsg',
      '  containerEdits:',
      '    deviceNodes: [{path: /dev/berth-kmsg, hostPath: /dev/kmsg}]',
      '- name: kmsg-no-access',
      '  containerEdits:',
      '    deviceNodes: [{path: /dev/berth-kmsg, hostPath: /dev/kmsg, permissions: none}]',
    ].join('\n'));
    await writeFile(path.join(staticDir, 'broken.json'), '{"cdiVersion": "0.3.0", "kind": "berth.test/broken", "devices": [{"name": "b"}]}');
    env = await startCtEnv({ extraToml: `[cdi]\nspec_dirs = ["${staticDir}", "${dynamicDir}"]\n` });
    pod = await runPod(env, 'cdi');
  });
  after(async () => {
    await env?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('a container asking for a CDI device by name and by annotation sees its node, mount, env, group and hook', async () => {
    const id = await runCtr(env, pod, ctrConfig(env, 'gpu', {
      command: ['sleep', '3600'],
      CDI_devices: [{ name: 'berth.test/dev=zero0' }],
      annotations: { 'cdi.k8s.io/berth-test_extra': 'berth.test/dev=extra' },
    }));
    const out = await execText(env, id, ['sh', '-c', [
      'stat -c "%F %t:%T" /dev/berth-zero', 'head -c 4 /dev/berth-zero | od -An -tx1', 'cat /opt/vendor/hello',
      'touch /opt/vendor/x 2>/dev/null && echo writable || echo read-only', 'echo $BERTH_TEST_VENDOR $BERTH_TEST_DEVICE $BERTH_TEST_EXTRA', 'id -G',
    ].join('; ')]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split('\n').map((l) => l.trim());
    assert.equal(lines[0], 'character special file 1:5', 'the node, its type and numbers from the host');
    assert.equal(lines[1], '00 00 00 00', 'readable: the device cgroup allows it');
    assert.equal(lines[2], 'from the vendor');
    assert.equal(lines[3], 'read-only');
    assert.equal(lines[4], '1 zero0 yes', 'spec env, device env, the annotation\'s device env');
    assert.ok(lines[5]!.split(' ').includes('4242'), `additional gid in ${lines[5]}`);
    const state = JSON.parse(await readFile(path.join(tmp, 'hook-state.json'), 'utf8')) as { id: string; pid: number };
    assert.equal(state.id, id, 'the createRuntime hook ran with the container state on stdin');
    const open = 'exec 3>/dev/berth-kmsg && echo opened';
    const kmsg = await runCtr(env, pod, ctrConfig(env, 'kmsg', { command: ['sleep', '3600'], CDI_devices: [{ name: 'berth.test/dev=kmsg' }] }));
    assert.equal((await execText(env, kmsg, ['sh', '-c', open])).stdout.trim(), 'opened', 'rwm by default');
    const denied = await runCtr(env, pod, ctrConfig(env, 'kmsg-denied', { command: ['sleep', '3600'], CDI_devices: [{ name: 'berth.test/dev=kmsg-no-access' }] }));
    const r = await execText(env, denied, ['sh', '-c', open]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not permitted/i, 'the node is there, the cgroup refuses it');
    const verbose = await env.d.client.runtime('ContainerStatus', { container_id: id, verbose: true });
    const spec = (JSON.parse(verbose.info.info!) as { runtimeSpec: { hooks: Record<string, { path: string }[]> } }).runtimeSpec;
    assert.equal(spec.hooks.createRuntime![0]!.path, '/bin/sh');
  });

  it('refuses an unknown device, a malformed name and a device of a broken spec, naming them', async () => {
    const create = (extra: Parameters<typeof ctrConfig>[2]) =>
      env.d.client.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: ctrConfig(env, `bad-${Math.random()}`, { command: ['true'], ...extra }), sandbox_config: pod.config });
    await assert.rejects(create({ CDI_devices: [{ name: 'berth.test/dev=nope' }] }), invalid(/unknown CDI device "berth\.test\/dev=nope"/));
    await assert.rejects(create({ CDI_devices: [{ name: 'zero0' }] }), invalid(/CDI device "zero0" is not a qualified CDI device name/));
    await assert.rejects(create({ annotations: { 'cdi.k8s.io/x': 'berth.test/dev=zero0,nope' } }), invalid(/annotation cdi\.k8s\.io\/x: "nope"/));
    await assert.rejects(create({ CDI_devices: [{ name: 'berth.test/broken=b' }] }), invalid(/broken\.json: devices\[0\]\.containerEdits: required/));
    const listed = (await env.d.client.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers;
    assert.ok(listed.every((c) => !c.metadata!.name.startsWith('bad-')), 'nothing left behind');
  });

  it('uses a spec written into a spec directory while the daemon runs, and reports the devices in Status', async () => {
    await writeFile(path.join(dynamicDir, 'late.json'), JSON.stringify({
      cdiVersion: '0.6.0', kind: 'berth.test/late', devices: [{ name: 'l0', containerEdits: { env: ['BERTH_TEST_LATE=1'] } }],
    }));
    // No wait, no restart: the watch marks the cache stale, and a name it lacks is looked for again.
    const id = await runCtr(env, pod, ctrConfig(env, 'late', { command: ['sleep', '3600'], CDI_devices: [{ name: 'berth.test/late=l0' }] }));
    assert.equal((await execText(env, id, ['sh', '-c', 'echo $BERTH_TEST_LATE'])).stdout.trim(), '1');
    const st = await env.d.client.runtime('Status', { verbose: true });
    const cdi = JSON.parse(st.info.cdi!) as { devices: string[]; errors: Record<string, string> };
    assert.deepEqual(cdi.devices, ['berth.test/dev=extra', 'berth.test/dev=kmsg', 'berth.test/dev=kmsg-no-access', 'berth.test/dev=zero0', 'berth.test/late=l0']);
    assert.ok(Object.keys(cdi.errors).some((f) => f.endsWith('broken.json')));
    assert.equal((JSON.parse(st.info.config!) as { enableCDI: boolean }).enableCDI, true);
    assert.equal((JSON.parse(st.info.features!) as { cdi: boolean }).cdi, true, 'the node feature berth agent reads');
  });
});
