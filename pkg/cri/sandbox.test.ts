import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SandboxInfo } from '../sandbox/types.js';
import type { PodSandboxConfig__Output } from './gen/runtime/v1/PodSandboxConfig.js';
import { matchesFilter, toSandboxRequest, toStatus } from './sandbox.js';

const cfg = (over: Partial<PodSandboxConfig__Output> = {}): PodSandboxConfig__Output => ({
  metadata: { name: 'web', namespace: 'default', uid: 'u1', attempt: 2 }, hostname: 'web', log_directory: '/var/log/pods/x',
  dns_config: null, port_mappings: [{ protocol: 'UDP', container_port: 53, host_port: 28053, host_ip: '127.0.0.1' }],
  labels: { a: 'b' }, annotations: {}, linux: null, windows: null, ...over,
});

test('converts a RunPodSandbox config; no namespace options means pod network/IPC and a PID ns per container', () => {
  const r = toSandboxRequest(cfg(), 'crun');
  assert.equal(r.attempt, 2);
  assert.equal(r.runtimeHandler, 'crun');
  assert.deepEqual(r.namespaces, { network: 'POD', ipc: 'POD', pid: 'CONTAINER' });
  assert.deepEqual(r.portMappings, [{ protocol: 'UDP', containerPort: 53, hostPort: 28053, hostIp: '127.0.0.1' }]);
  assert.equal(r.dns, undefined);
  assert.equal(r.linux.privileged, false);
});

test('converts security context fields the container module needs', () => {
  const r = toSandboxRequest(cfg({
    linux: {
      cgroup_parent: '/kubepods/podu1', sysctls: { 'net.ipv4.ip_forward': '1' }, overhead: null, resources: null,
      security_context: {
        namespace_options: { network: 'NODE', pid: 'POD', ipc: 'NODE', target_id: '', userns_options: null },
        selinux_options: null, run_as_user: { value: '1000' }, run_as_group: { value: '3000' }, readonly_rootfs: true,
        supplemental_groups: ['4', '5'], privileged: true, seccomp_profile_path: '', apparmor: null,
        seccomp: { profile_type: 'Localhost', localhost_ref: '/p.json' }, supplemental_groups_policy: 'Merge',
      },
    },
  }), '');
  assert.deepEqual(r.namespaces, { network: 'NODE', pid: 'POD', ipc: 'NODE', usernsMode: undefined });
  assert.deepEqual(r.linux, {
    privileged: true, supplementalGroups: [4, 5], runAsUser: 1000, runAsGroup: 3000, readonlyRootfs: true,
    seccompProfile: { type: 'Localhost', localhostRef: '/p.json' }, overhead: undefined, resources: undefined,
  });
  assert.equal(r.cgroupParent, '/kubepods/podu1');
});

const info = (over: Partial<SandboxInfo> = {}): SandboxInfo => ({
  id: 'abcdef', name: 'web', namespace: 'default', uid: 'u1', attempt: 0, state: 'SANDBOX_READY', createdAt: 5n, runtimeHandler: 'runc',
  netnsPath: '/run/berth/ns/net/abcdef', pidMode: 'CONTAINER', cgroupParent: '/berth', logDirectory: '', hostsPath: '', resolvConfPath: '',
  hostnamePath: '', hostname: 'web', ip: '10.0.0.2', additionalIps: ['fd::2'], labels: { app: 'x', tier: 'y' }, annotations: {},
  sysctls: {}, portMappings: [], linux: { privileged: false, supplementalGroups: [], readonlyRootfs: false }, ...over,
});

test('status reports namespaces from what was pinned, IPs, created_at in ns', () => {
  const s = toStatus(info());
  assert.equal(s.created_at, '5');
  assert.deepEqual(s.network, { ip: '10.0.0.2', additional_ips: [{ ip: 'fd::2' }] });
  assert.deepEqual(s.linux!.namespaces!.options, { network: 'POD', ipc: 'NODE', pid: 'CONTAINER' });
});

test('filters by id prefix, state and every selector label', () => {
  const i = info();
  assert.ok(matchesFilter(i, null));
  assert.ok(matchesFilter(i, { id: 'abc', state: null, label_selector: {} }));
  assert.ok(!matchesFilter(i, { id: 'abd', state: null, label_selector: {} }));
  assert.ok(!matchesFilter(i, { id: '', state: { state: 'SANDBOX_NOTREADY' }, label_selector: {} }));
  assert.ok(matchesFilter(i, { id: '', state: { state: 'SANDBOX_READY' }, label_selector: { app: 'x', tier: 'y' } }));
  assert.ok(!matchesFilter(i, { id: '', state: null, label_selector: { app: 'x', tier: 'z' } }));
});
