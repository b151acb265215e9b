import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_CAPS, capsFromMask, parseProcStatusCaps, resolveCaps, CAP_NAMES } from './caps.js';
import { DEFAULT_PROFILE_PATH, compileProfile, type SeccompProfileFile } from './seccomp.js';
import { buildSpec, clampOomScoreAdj, mergeEnv, processArgs, DEFAULT_MASKED_PATHS, type SpecInput } from './spec.js';
import { resolveUser } from './user.js';
import { allowedAnnotations, globMatcher } from './annotations.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { ContainerConfigInput, SecurityProfileInput } from './types.js';

const ALL_BUT_SYS_RESOURCE = capsFromMask('000001fffeffffff');
const daemonCaps = { bounding: ALL_BUT_SYS_RESOURCE, sysResource: false, oomScoreAdj: -500 };

function config(over: Partial<ContainerConfigInput> = {}): ContainerConfigInput {
  return {
    name: 'c', attempt: 0, image: 'busybox', command: [], args: [], workingDir: '', envs: [], mounts: [], devices: [],
    labels: {}, annotations: {}, logPath: 'c.log', stdin: false, stdinOnce: false, tty: false,
    security: {
      capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' }, readonlyRootfs: false,
      supplementalGroups: [], supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [],
    },
    ...over,
  };
}

function input(c: ContainerConfigInput, over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'abc', config: c, imageName: 'busybox:latest',
    image: { entrypoint: ['/bin/ep'], cmd: ['cmd1'], env: ['PATH=/bin', 'FOO=image'], workingDir: '/w', user: '' },
    sandbox: {
      id: 'sb', hostname: 'pod', netnsPath: '/run/ns/net', ipcnsPath: '/run/ns/ipc', utsnsPath: '/run/ns/uts',
      hostsPath: '/sb/hosts', resolvConfPath: '/sb/resolv.conf',
      hostnamePath: '/sb/hostname', shmPath: '/sb/shm',
    },
    cgroupsPath: 'kubepods-besteffort-pod1.slice:berth:abc',
    rootfs: '/b/rootfs', user: { uid: 0, gid: 0, additionalGids: [0] }, devices: [],
    host: { caps: daemonCaps, apparmorEnabled: false, apparmorProfiles: [], cgroupV2: false, hostDevices: [] },
    allowedAnnotations: [],
    ...over,
  };
}

describe('container spec: process', () => {
  it('command replaces Entrypoint, args replace Cmd', () => {
    const img = { entrypoint: ['/ep'], cmd: ['c1', 'c2'], env: [], workingDir: '', user: '' };
    assert.deepEqual(processArgs([], [], img), ['/ep', 'c1', 'c2']);
    assert.deepEqual(processArgs([], ['a'], img), ['/ep', 'a']);
    assert.deepEqual(processArgs(['/x'], [], img), ['/x']);
    assert.deepEqual(processArgs(['/x'], ['y'], img), ['/x', 'y']);
    assert.throws(() => processArgs([], [], { ...img, entrypoint: [], cmd: [] }), /no command/);
  });
  it('merges env: image then CRI, same key replaced, HOSTNAME set', () => {
    const env = mergeEnv(['PATH=/bin', 'FOO=image'], [{ key: 'FOO', value: 'cri' }, { key: 'BAR', value: 'x=y' }], 'pod');
    assert.ok(env.includes('PATH=/bin'));
    assert.ok(env.includes('FOO=cri'));
    assert.ok(!env.includes('FOO=image'));
    assert.ok(env.includes('BAR=x=y'));
    assert.ok(env.includes('HOSTNAME=pod'));
  });
  it('working dir: CRI, else image, else /', () => {
    assert.equal(buildSpec(input(config({ workingDir: '/cri' }))).process.cwd, '/cri');
    assert.equal(buildSpec(input(config())).process.cwd, '/w');
  });
});

describe('container spec: user', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nberthuser:x:1000:1000::/home/berthuser:/bin/sh\n';
  const group = 'root:x:0:\nberthuser:x:1000:\nwheel:x:10:berthuser\naudio:x:29:other\n';
  it('run_as_user wins, gid from passwd, groups from /etc/group plus CRI', () => {
    const u = resolveUser({ runAsUser: 1000, imageUser: 'root', supplementalGroups: [55] }, passwd, group);
    assert.deepEqual(u, { uid: 1000, gid: 1000, additionalGids: [1000, 10, 55], home: '/home/berthuser' });
  });
  it('Strict supplemental groups policy leaves out the image\'s /etc/group memberships', () => {
    const strict = resolveUser({ runAsUser: 1000, imageUser: '', supplementalGroups: [55], supplementalGroupsPolicy: 'Strict' }, passwd, group);
    assert.deepEqual(strict.additionalGids, [1000, 55]);
    const merge = resolveUser({ runAsUser: 1000, imageUser: '', supplementalGroups: [55], supplementalGroupsPolicy: 'Merge' }, passwd, group);
    assert.deepEqual(merge.additionalGids, [1000, 10, 55]);
  });
  it('numeric uid unknown to passwd is fine, gid 0', () => {
    assert.deepEqual(resolveUser({ runAsUser: 4242, imageUser: '', supplementalGroups: [] }, passwd, group).gid, 0);
  });
  it('image USER name:group and uid:gid', () => {
    assert.equal(resolveUser({ imageUser: 'berthuser:wheel', supplementalGroups: [] }, passwd, group).gid, 10);
    const u = resolveUser({ imageUser: '7:8', supplementalGroups: [] }, passwd, group);
    assert.equal(u.uid, 7);
    assert.equal(u.gid, 8);
  });
  it('run_as_username and run_as_group', () => {
    const u = resolveUser({ runAsUsername: 'berthuser', runAsGroup: 29, imageUser: '', supplementalGroups: [] }, passwd, group);
    assert.equal(u.uid, 1000);
    assert.equal(u.gid, 29);
  });
  it('run_as_group without run_as_user or run_as_username is refused, as the CRI asks', () => {
    assert.throws(
      () => resolveUser({ runAsGroup: 0, imageUser: 'berthuser', supplementalGroups: [] }, passwd, group),
      (err: Error) => err instanceof InvalidArgumentError && /run_as_group .*without run_as_user/.test(err.message),
    );
  });
  it('unknown user name is a clear error', () => {
    assert.throws(() => resolveUser({ imageUser: 'nobody2', supplementalGroups: [] }, passwd, group), /user "nobody2" not found/);
  });
});

describe('container spec: capabilities', () => {
  it('parses the daemon caps and CAP_SYS_RESOURCE from /proc/self/status', () => {
    const st = 'Name:\tnode\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n';
    const c = parseProcStatusCaps(st, 0);
    assert.equal(c.sysResource, false);
    assert.ok(!c.bounding.includes('CAP_SYS_RESOURCE'));
    assert.equal(c.bounding.length, CAP_NAMES.length - 1);
  });
  it('default set, add and drop, ALL', () => {
    assert.deepEqual(new Set(resolveCaps([], [], false, ALL_BUT_SYS_RESOURCE)), new Set(DEFAULT_CAPS));
    const c = resolveCaps(['NET_ADMIN', 'cap_sys_time'], ['CHOWN'], false, ALL_BUT_SYS_RESOURCE);
    assert.ok(c.includes('CAP_NET_ADMIN') && c.includes('CAP_SYS_TIME') && !c.includes('CAP_CHOWN'));
    assert.deepEqual(resolveCaps(['NET_BIND_SERVICE'], ['ALL'], false, ALL_BUT_SYS_RESOURCE), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(resolveCaps(['ALL'], ['KILL'], false, ALL_BUT_SYS_RESOURCE).length, ALL_BUT_SYS_RESOURCE.length - 1);
    assert.throws(() => resolveCaps(['BOGUS'], [], false, ALL_BUT_SYS_RESOURCE), /unknown capability/);
  });
  it('ambient capabilities are raised only from the container set, and made inheritable', () => {
    const sec = { ...config().security, capabilities: { add: ['NET_ADMIN'], drop: [], addAmbient: ['NET_ADMIN', 'SYS_ADMIN'] } };
    const c = buildSpec(input(config({ security: sec }))).process.capabilities!;
    assert.deepEqual(c.ambient, ['CAP_NET_ADMIN']);
    assert.deepEqual(c.inheritable, ['CAP_NET_ADMIN']);
    assert.equal(buildSpec(input(config())).process.capabilities!.ambient, undefined);
  });
  it('privileged gets the daemon set, not every cap the kernel knows', () => {
    const s = buildSpec(input(config({ security: { ...config().security, privileged: true } })));
    assert.deepEqual(s.process.capabilities!.bounding, ALL_BUT_SYS_RESOURCE);
    assert.equal(s.linux.maskedPaths, undefined);
    assert.ok(s.mounts.find((m) => m.destination === '/sys')!.options!.every((o) => o !== 'ro'));
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  });
});

describe('container spec: namespaces, mounts, paths', () => {
  it('joins pod namespaces by path, own pid and mount', () => {
    const s = buildSpec(input(config()));
    assert.deepEqual(s.linux.namespaces, [
      { type: 'mount' }, { type: 'pid' }, { type: 'network', path: '/run/ns/net' }, { type: 'ipc', path: '/run/ns/ipc' },
      { type: 'uts', path: '/run/ns/uts' },
    ]);
    const host = buildSpec(input(config(), { pidNamespace: 'host' }));
    assert.ok(!host.linux.namespaces.some((n) => n.type === 'pid'));
    const pod = buildSpec(input(config(), { pidNamespace: '/proc/42/ns/pid' }));
    assert.deepEqual(pod.linux.namespaces[1], { type: 'pid', path: '/proc/42/ns/pid' });
    assert.equal(s.linux.cgroupsPath, 'kubepods-besteffort-pod1.slice:berth:abc', 'as pkg/cgroups named it');
  });
  it('under the systemd driver crun keeps the process and limits on the scope, whatever the container\'s annotations say', () => {
    const own = config({ annotations: { 'run.oci.systemd.subgroup': 'mine', keep: 'me' } });
    const s = buildSpec(input(own, { allowedAnnotations: ['*'] }));
    assert.equal(s.annotations['run.oci.systemd.subgroup'], '', 'set after the filter, even when the handler allows every annotation');
    assert.equal(s.annotations.keep, 'me');
    const fs = buildSpec(input(config(), { cgroupsPath: '/kubepods/besteffort/pod1/abc' }));
    assert.ok(!('run.oci.systemd.subgroup' in fs.annotations), 'cgroupfs: nothing to say');
  });
  it('annotations: io.kubernetes.* and the handler\'s allowed globs reach the spec, run.oci.* and the rest do not', () => {
    const annotations = {
      'io.kubernetes.container.hash': 'h', 'io.kubernetes.cri.container-type': 'sandbox', 'run.oci.keep_original_groups': '1',
      'run.oci.hooks.stdout': '/tmp/x', 'org.systemd.property.CPUWeight': '1', 'org.criu.config': '/x', 'example.com/team': 'a',
    };
    const fs = { cgroupsPath: '/kubepods/besteffort/pod1/abc' };
    const none = buildSpec(input(config({ annotations }), fs)).annotations;
    assert.deepEqual(none, {
      'io.kubernetes.container.hash': 'h', 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.container-name': 'c',
      'io.kubernetes.cri.sandbox-id': 'sb', 'io.kubernetes.cri.image-name': 'busybox:latest',
    }, 'berth\'s io.kubernetes.cri.* win over the container\'s');
    const some = buildSpec(input(config({ annotations }), { ...fs, allowedAnnotations: ['run.oci.keep_original_groups', 'example.com/*'] })).annotations;
    assert.equal(some['run.oci.keep_original_groups'], '1');
    assert.equal(some['example.com/team'], 'a');
    assert.ok(!('run.oci.hooks.stdout' in some) && !('org.systemd.property.CPUWeight' in some) && !('org.criu.config' in some));
    const prefix = buildSpec(input(config({ annotations }), { ...fs, allowedAnnotations: ['run.oci.*'] })).annotations;
    assert.deepEqual(Object.keys(prefix).filter((k) => k.startsWith('run.oci.')).sort(), ['run.oci.hooks.stdout', 'run.oci.keep_original_groups']);
  });
  it('annotation globs: * is any run of characters, everything else literal', () => {
    assert.ok(globMatcher('run.oci.*')('run.oci.a.b/c'));
    assert.ok(!globMatcher('run.oci.*')('run-oci.a'), 'a dot is a dot');
    assert.ok(globMatcher('*.example.com/*')('a.b.example.com/x'));
    assert.ok(!globMatcher('run.oci.x')('run.oci.xy'));
    assert.ok(globMatcher('a*b*c')('abc') && !globMatcher('a*b*c')('acb'));
    assert.deepEqual(allowedAnnotations({ 'io.kubernetes.x': '1', y: '2' }, []), { 'io.kubernetes.x': '1' });
  });
  it('default mounts, pod files, CRI mounts with ro and propagation', () => {
    const c = config({
      mounts: [
        { containerPath: '/data/sub', hostPath: '/h/sub', readonly: false, propagation: 'PRIVATE', recursiveReadOnly: false, selinuxRelabel: false },
        { containerPath: '/data', hostPath: '/h/data', readonly: true, propagation: 'HOST_TO_CONTAINER', recursiveReadOnly: true, selinuxRelabel: false },
      ],
    });
    const s = buildSpec(input(c));
    const dests = s.mounts.map((m) => m.destination);
    assert.deepEqual(dests, ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup',
      '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/data', '/data/sub']);
    assert.deepEqual(s.mounts[10]!.options, ['rbind', 'rslave', 'rro']);
    assert.deepEqual(s.mounts[11]!.options, ['rbind', 'rprivate']);
    assert.equal(s.mounts[3]!.source, '/sb/shm');
    assert.ok(s.mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
    assert.equal(s.linux.rootfsPropagation, 'rslave');
    assert.deepEqual(s.linux.maskedPaths, DEFAULT_MASKED_PATHS);
  });
  it('readonly rootfs makes the pod files read-only too; CRI masked paths replace defaults', () => {
    const s = buildSpec(input(config({ security: { ...config().security, readonlyRootfs: true, maskedPaths: ['/proc/x'] } })));
    assert.equal(s.root.readonly, true);
    assert.ok(s.mounts.find((m) => m.destination === '/etc/hosts')!.options!.includes('ro'));
    assert.deepEqual(s.linux.maskedPaths, ['/proc/x']);
  });
});

describe('container spec: seccomp, apparmor, resources', () => {
  const profile = JSON.parse(readFileSync(DEFAULT_PROFILE_PATH, 'utf8')) as SeccompProfileFile;
  const names = (caps: string[]): Set<string> =>
    new Set(compileProfile(profile, caps, 'amd64').syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
  it('RuntimeDefault: EPERM by default, mount/unshare only with CAP_SYS_ADMIN, clone3 ENOSYS without', () => {
    const base = compileProfile(profile, [...DEFAULT_CAPS], 'amd64');
    assert.equal(base.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(base.architectures.includes('SCMP_ARCH_X86_64'));
    const def = names([...DEFAULT_CAPS]);
    assert.ok(def.has('read') && def.has('chroot') && def.has('arch_prctl'));
    assert.ok(!def.has('mount') && !def.has('unshare') && !def.has('keyctl') && !def.has('ptrace'));
    assert.ok(base.syscalls.some((s) => s.names.includes('clone3') && s.errnoRet === 38));
    const admin = names([...DEFAULT_CAPS, 'CAP_SYS_ADMIN']);
    assert.ok(admin.has('mount') && admin.has('unshare') && admin.has('clone'));
  });
  it('seccomp is set unless privileged', () => {
    assert.ok(buildSpec(input(config(), { seccompProfile: profile })).linux.seccomp);
    const p = buildSpec(input(config({ security: { ...config().security, privileged: true } }), { seccompProfile: profile }));
    assert.equal(p.linux.seccomp, undefined);
  });
  it('AppArmor: Localhost must be loaded (and AppArmor on); RuntimeDefault or nothing is berth-default where it is loaded', () => {
    const sec = (apparmor?: SecurityProfileInput, privileged = false) => config({ security: { ...config().security, apparmor, privileged } });
    const c = sec({ type: 'Localhost', localhostRef: 'localhost/p' });
    assert.throws(() => buildSpec(input(c)), /AppArmor profile "p" requested, but AppArmor is not enabled on this host/);
    assert.equal(buildSpec(input(sec({ type: 'RuntimeDefault' }))).process.apparmorProfile, undefined, 'no AppArmor: the default is none');
    const aaHost = { caps: daemonCaps, apparmorEnabled: true, apparmorProfiles: ['berth-default', 'mine'], cgroupV2: false, hostDevices: [] };
    assert.equal(buildSpec(input(c, { host: { ...aaHost, apparmorProfiles: ['p'] } })).process.apparmorProfile, 'p', 'localhost/ prefix dropped');
    assert.equal(buildSpec(input(sec({ type: 'RuntimeDefault' }), { host: aaHost })).process.apparmorProfile, 'berth-default');
    assert.equal(buildSpec(input(sec(), { host: aaHost })).process.apparmorProfile, 'berth-default', 'none asked: the runtime default');
    assert.equal(buildSpec(input(sec(undefined, true), { host: aaHost })).process.apparmorProfile, undefined, 'privileged: unconfined by default');
    assert.equal(buildSpec(input(sec({ type: 'Unconfined' }), { host: aaHost })).process.apparmorProfile, undefined);
    assert.equal(buildSpec(input(sec(), { host: { ...aaHost, apparmorProfiles: [] } })).process.apparmorProfile, undefined, 'default not loaded: unconfined');
    assert.throws(() => buildSpec(input(c, { host: aaHost })), /"p" is not loaded on this host/);
    assert.throws(() => buildSpec(input(sec({ type: 'Localhost' }), { host: aaHost })), /needs localhost_ref/);
  });
  it('resources and oom_score_adj clamped to the daemon own value without CAP_SYS_RESOURCE', () => {
    const c = config({
      resources: { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, memoryLimitInBytes: 33554432, oomScoreAdj: -999,
        cpusetCpus: '0', hugepageLimits: [{ pageSize: '2MB', limit: 0 }], unified: {} },
    });
    const s = buildSpec(input(c));
    assert.deepEqual(s.linux.resources.cpu, { shares: 512, quota: 50000, period: 100000, cpus: '0' });
    assert.deepEqual(s.linux.resources.memory, { limit: 33554432 });
    assert.equal(s.process.oomScoreAdj, -500);
    assert.equal(buildSpec(input(config())).process.oomScoreAdj, 0, 'not inherited from the daemon');
    assert.equal(clampOomScoreAdj(-999, { ...daemonCaps, sysResource: true }), -999);
    assert.equal(clampOomScoreAdj(2000, daemonCaps), 1000);
    const u = config({ resources: { hugepageLimits: [], unified: { 'memory.high': '1' } } });
    assert.throws(() => buildSpec(input(u)), /cgroup v2/);
  });
});

describe('container spec: pod user namespace', () => {
  it('joins the pinned user namespace and repeats its mappings (runc 1.1 needs them)', () => {
    const base = input(config());
    const m = [{ containerId: 0, hostId: 1000, length: 100000 }];
    const spec = buildSpec({ ...base, sandbox: { ...base.sandbox, usernsPath: '/run/ns/user', uidMappings: m, gidMappings: [{ containerId: 0, hostId: 2000, length: 5 }] } });
    assert.deepEqual(spec.linux.namespaces.find((n) => n.type === 'user'), { type: 'user', path: '/run/ns/user' });
    assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: 1000, size: 100000 }]);
    assert.deepEqual(spec.linux.gidMappings, [{ containerID: 0, hostID: 2000, size: 5 }]);
  });
  it('on the host network: the host\'s /sys bound recursively read-only instead of a sysfs; the pod network keeps its sysfs', () => {
    const base = input(config());
    const m = [{ containerId: 0, hostId: 1000, length: 100000 }];
    const userns = { usernsPath: '/run/ns/user', uidMappings: m, gidMappings: m };
    const hostNet = buildSpec({ ...base, sandbox: { ...base.sandbox, ...userns, netnsPath: undefined, utsnsPath: undefined } });
    assert.equal(hostNet.linux.namespaces.some((n) => n.type === 'network'), false);
    assert.deepEqual(hostNet.mounts.find((x) => x.destination === '/sys'), { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rro', 'nosuid', 'nodev', 'noexec'] });
    assert.equal(hostNet.mounts.find((x) => x.destination === '/sys/fs/cgroup')?.type, 'cgroup');
    const podNet = buildSpec({ ...base, sandbox: { ...base.sandbox, ...userns } });
    assert.equal(podNet.mounts.find((x) => x.destination === '/sys')?.type, 'sysfs');
    const noUserns = buildSpec({ ...base, sandbox: { ...base.sandbox, netnsPath: undefined } });
    assert.equal(noUserns.mounts.find((x) => x.destination === '/sys')?.type, 'sysfs', 'host network without a user namespace');
  });
  it('no user namespace and no mappings for a pod in the host user namespace', () => {
    const spec = buildSpec(input(config()));
    assert.equal(spec.linux.namespaces.some((n) => n.type === 'user'), false);
    assert.equal(spec.linux.uidMappings, undefined);
    assert.equal(spec.linux.gidMappings, undefined);
  });
});
