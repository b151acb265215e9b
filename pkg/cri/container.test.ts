import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerConfig__Output } from './gen/runtime/v1/ContainerConfig.js';
import { toConfigInput, toResources } from './container.js';

/** A ContainerConfig as grpc-js hands it to a handler (defaults filled in). */
function cfg(over: Record<string, unknown> = {}, sc: Record<string, unknown> = {}): ContainerConfig__Output {
  return {
    metadata: { name: 'c', attempt: 2 }, image: { image: 'busybox', annotations: {}, user_specified_image: '', runtime_handler: '' },
    command: [], args: [], working_dir: '', envs: [{ key: 'A', value: 'b' }], mounts: [], devices: [], labels: {}, annotations: {},
    log_path: 'c/2.log', stdin: false, stdin_once: false, tty: false, windows: null, CDI_devices: [],
    linux: {
      resources: null,
      security_context: {
        capabilities: null, privileged: false, namespace_options: null, selinux_options: null, run_as_user: null,
        run_as_username: '', readonly_rootfs: false, supplemental_groups: [], apparmor_profile: '', seccomp_profile_path: '',
        no_new_privs: false, run_as_group: null, masked_paths: [], readonly_paths: [], seccomp: null, apparmor: null,
        supplemental_groups_policy: 'Merge', ...sc,
      },
    },
    ...over,
  } as unknown as ContainerConfig__Output;
}

describe('cri container conversion', () => {
  it('metadata, env, log path and defaults (pod network and IPC, own PID)', () => {
    const c = toConfigInput(cfg());
    assert.equal(c.name, 'c');
    assert.equal(c.attempt, 2);
    assert.equal(c.image, 'busybox');
    assert.deepEqual(c.envs, [{ key: 'A', value: 'b' }]);
    assert.equal(c.logPath, 'c/2.log');
    assert.deepEqual(c.security.namespaces, { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' });
    assert.equal(c.security.seccomp, undefined);
    assert.throws(() => toConfigInput(null), /config is required/);
  });
  it('env values arrive as bytes (KeyValue.value is bytes since cri-api v0.36): UTF-8 decoded, invalid bytes as U+FFFD', () => {
    const envs = [
      { key: 'UTF8', value: Buffer.from('é=1 \u{1F600}\n', 'utf8') },
      { key: 'EMPTY', value: Buffer.alloc(0) },
      { key: 'LATIN1', value: Buffer.from([0x63, 0x61, 0x66, 0xe9]) },
    ];
    assert.deepEqual(toConfigInput(cfg({ envs })).envs, [
      { key: 'UTF8', value: 'é=1 \u{1F600}\n' }, { key: 'EMPTY', value: '' }, { key: 'LATIN1', value: 'caf\uFFFD' },
    ]);
  });

  it('int64 strings become numbers; zero means unset', () => {
    const r = toResources({
      cpu_period: '100000', cpu_quota: '0', cpu_shares: '2', memory_limit_in_bytes: '33554432', oom_score_adj: '-997',
      cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [{ page_size: '2MB', limit: '0' }], unified: {}, memory_swap_limit_in_bytes: '0',
    })!;
    assert.equal(r.cpuPeriod, 100000);
    assert.equal(r.cpuQuota, undefined);
    assert.equal(r.cpuShares, 2);
    assert.equal(r.memoryLimitInBytes, 33554432);
    assert.equal(r.oomScoreAdj, -997);
    assert.equal(r.cpusetCpus, undefined);
    assert.deepEqual(r.hugepageLimits, [{ pageSize: '2MB', limit: 0 }]);
  });
  it('security context: user ids, groups, mounts with propagation, profiles new and legacy', () => {
    const c = toConfigInput(cfg({
      mounts: [{ container_path: '/d', host_path: '/h', readonly: true, selinux_relabel: false, propagation: 'PROPAGATION_BIDIRECTIONAL', uidMappings: [], gidMappings: [], recursive_read_only: false, image: null }],
    }, {
      run_as_user: { value: '1000' }, run_as_group: { value: '0' }, supplemental_groups: ['5', '6'],
      seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' }, apparmor_profile: 'localhost/prof',
      capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['ALL'], add_ambient_capabilities: [] },
    }));
    assert.equal(c.security.runAsUser, 1000);
    assert.equal(c.security.runAsGroup, 0, 'gid 0 is a value, not unset');
    assert.deepEqual(c.security.supplementalGroups, [5, 6]);
    assert.deepEqual(c.mounts[0], { containerPath: '/d', hostPath: '/h', readonly: true, propagation: 'BIDIRECTIONAL', recursiveReadOnly: false, selinuxRelabel: false });
    assert.deepEqual(c.security.seccomp, { type: 'RuntimeDefault', localhostRef: undefined });
    assert.deepEqual(c.security.apparmor, { type: 'Localhost', localhostRef: 'prof' });
    assert.deepEqual(c.security.capabilities.drop, ['ALL']);
    const legacy = toConfigInput(cfg({}, { seccomp_profile_path: 'localhost//etc/p.json' }));
    assert.deepEqual(legacy.security.seccomp, { type: 'Localhost', localhostRef: '/etc/p.json' });
    assert.equal(toConfigInput(cfg({}, { seccomp_profile_path: 'unconfined' })).security.seccomp?.type, 'Unconfined');
    assert.throws(() => toConfigInput(cfg({}, { seccomp_profile_path: 'bogus' })), /unknown security profile/);
  });
});
