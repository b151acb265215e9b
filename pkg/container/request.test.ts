import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors/errors.js';
import { MAX_PROCESS_BYTES, checkResources, validateContainerConfig } from './request.js';
import type { ContainerConfigInput, SecurityInput } from './types.js';

function cfg(over: Partial<ContainerConfigInput> = {}, sec: Partial<SecurityInput> = {}): ContainerConfigInput {
  return {
    name: 'c', attempt: 0, image: 'busybox', command: ['sh'], args: ['-c', 'true'], workingDir: '', envs: [{ key: 'A', value: 'b' }],
    mounts: [{ containerPath: '/data', hostPath: '/var/lib/data', readonly: false, propagation: 'PRIVATE', recursiveReadOnly: false, selinuxRelabel: false }],
    devices: [], labels: {}, annotations: {}, logPath: 'c/0.log', stdin: false, stdinOnce: false, tty: false,
    security: {
      capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' }, readonlyRootfs: false, supplementalGroups: [],
      supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [], ...sec,
    },
    ...over,
  };
}

const refuses = (c: ContainerConfigInput, re: RegExp): void => {
  assert.throws(() => validateContainerConfig(c), (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message), re.source);
};

describe('CreateContainer request validation', () => {
  it('accepts what kubelet sends', () => {
    validateContainerConfig(cfg());
    validateContainerConfig(cfg({ logPath: '' }, { capabilities: { add: ['ALL', 'net_admin', 'CAP_SYS_TIME'], drop: ['all'], addAmbient: ['NET_BIND_SERVICE'] } }));
    validateContainerConfig(cfg({ workingDir: '/app', devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwm' }] }));
    validateContainerConfig(cfg({}, { namespaces: { network: 'POD', pid: 'TARGET', ipc: 'POD', targetId: 'abc' }, runAsUser: 0, runAsGroup: 4294967294 }));
    validateContainerConfig(cfg({}, { seccomp: { type: 'Localhost', localhostRef: 'localhost//var/lib/kubelet/seccomp/p.json' } }));
  });

  it('names and images', () => {
    refuses(cfg({ name: '' }), /^config\.metadata\.name is required$/);
    refuses(cfg({ name: 'a\nb' }), /config\.metadata\.name "a\\nb" contains "\\n"/);
    refuses(cfg({ image: '' }), /config\.image\.image is required/);
  });

  it('unknown capability names are INVALID_ARGUMENT naming the list and index', () => {
    refuses(cfg({}, { capabilities: { add: ['NET_ADMIN', 'CAP_FLY'], drop: [], addAmbient: [] } }), /capabilities\.add_capabilities\[1\]: unknown capability "CAP_FLY"/);
    refuses(cfg({}, { capabilities: { add: [], drop: ['bogus'], addAmbient: [] } }), /drop_capabilities\[0\]: unknown capability "bogus"/);
    refuses(cfg({}, { capabilities: { add: [], drop: [], addAmbient: ['ALL'] } }), /add_ambient_capabilities\[0\]: unknown capability "ALL"/);
  });

  it('command, args and env: 1 MiB in all, env keys without "="', () => {
    refuses(cfg({ args: Array(9).fill('x'.repeat(120 * 1024)) }), new RegExp(`hold \\d+ bytes, over the limit of ${MAX_PROCESS_BYTES}`));
    refuses(cfg({ envs: [{ key: 'A=B', value: 'c' }] }), /config\.envs\[0\]\.key "A=B" is not a variable name/);
    refuses(cfg({ envs: [{ key: '', value: 'c' }] }), /config\.envs\[0\]\.key "" is not a variable name/);
    refuses(cfg({ workingDir: 'rel' }), /config\.working_dir "rel" is not an absolute path/);
  });

  it('paths taken as given are refused: relative host_path, ".." anywhere, log_path climbing out', () => {
    const mount = (hostPath: string, containerPath = '/x') => [{ containerPath, hostPath, readonly: false, propagation: 'PRIVATE' as const, recursiveReadOnly: false, selinuxRelabel: false }];
    refuses(cfg({ mounts: mount('../../etc/x') }), /config\.mounts\[0\]\.host_path "\.\.\/\.\.\/etc\/x" is not an absolute path/);
    refuses(cfg({ mounts: mount('/var/../etc') }), /config\.mounts\[0\]\.host_path .* contains a "\.\." component/);
    refuses(cfg({ mounts: mount('') }), /config\.mounts\[0\]\.host_path is required/);
    refuses(cfg({ mounts: mount('/a', 'rel') }), /config\.mounts\[0\]\.container_path "rel" is not an absolute path/);
    refuses(cfg({ mounts: [{ ...mount('/a')[0]!, recursiveReadOnly: true }] }), /recursive read-only needs readonly/);
    refuses(cfg({ logPath: '../../../../etc/cron.d/evil' }), /config\.log_path .* contains a "\.\." component/);
    refuses(cfg({ logPath: '/etc/cron.d/evil' }), /config\.log_path "\/etc\/cron\.d\/evil" must be relative/);
    refuses(cfg({ devices: [{ hostPath: 'dev/x', containerPath: '/dev/x', permissions: 'rw' }] }), /config\.devices\[0\]\.host_path/);
    refuses(cfg({ devices: [{ hostPath: '/dev/x', containerPath: '/dev/x', permissions: 'rwx' }] }), /permissions "rwx" may hold only r, w and m/);
    refuses(cfg({}, { maskedPaths: ['proc/kcore'] }), /masked_paths\[0\]/);
    refuses(cfg({}, { seccomp: { type: 'Localhost', localhostRef: 'profiles/p.json' } }), /seccomp\.localhost_ref "profiles\/p\.json" is not an absolute path/);
  });

  it('image volumes: an image, no host path, read-only, a relative sub path without ".."', () => {
    const vol = (over: Record<string, unknown> = {}) => [{ containerPath: '/v', hostPath: '', readonly: true, propagation: 'PRIVATE' as const, recursiveReadOnly: false, selinuxRelabel: false, image: 'sha256:abc', ...over }];
    validateContainerConfig(cfg({ mounts: vol() }));
    validateContainerConfig(cfg({ mounts: vol({ imageSubPath: 'usr/share', recursiveReadOnly: true }) }));
    refuses(cfg({ mounts: vol({ image: '' }) }), /config\.mounts\[0\]\.image\.image is required/);
    refuses(cfg({ mounts: vol({ hostPath: '/srv' }) }), /config\.mounts\[0\]\.host_path "\/srv" must be empty: the mount is image volume "sha256:abc"/);
    refuses(cfg({ mounts: vol({ readonly: false }) }), /config\.mounts\[0\]\.readonly must be true: image volume "sha256:abc" is read-only/);
    refuses(cfg({ mounts: vol({ imageSubPath: '/etc' }) }), /config\.mounts\[0\]\.image_sub_path "\/etc" must be relative/);
    refuses(cfg({ mounts: vol({ imageSubPath: 'a/../../b' }) }), /config\.mounts\[0\]\.image_sub_path .* contains a "\.\." component/);
  });

  it('labels and annotations: 256 KiB each', () => {
    refuses(cfg({ annotations: { a: 'x'.repeat(300 * 1024) } }), /config\.annotations hold 307201 bytes, over the limit of 262144/);
    refuses(cfg({ labels: { a: 'x'.repeat(256 * 1024) } }), /config\.labels hold/);
  });

  it('ids, TARGET without a target and negative resources', () => {
    refuses(cfg({}, { runAsUser: -1 }), /run_as_user -1 is not a valid user or group id/);
    refuses(cfg({}, { runAsGroup: 2 ** 32 }), /run_as_group/);
    refuses(cfg({}, { supplementalGroups: [1, 1.5] }), /supplemental_groups\[1\]/);
    refuses(cfg({}, { namespaces: { network: 'POD', pid: 'TARGET', ipc: 'POD', targetId: '' } }), /target_id is required with pid mode TARGET/);
    refuses(cfg({ resources: { memoryLimitInBytes: -5, hugepageLimits: [], unified: {} } }), /config\.linux\.resources\.memory_limit_in_bytes -5 is negative/);
    refuses(cfg({ resources: { cpuQuota: -2, hugepageLimits: [], unified: {} } }), /cpu_quota -2 is below -1/);
    checkResources('linux', { cpuQuota: -1, memorySwapLimitInBytes: -1, hugepageLimits: [], unified: {} });
  });
});
