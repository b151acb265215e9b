import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../errors/errors.js';
import { LIMITS, RequestGuard, checkValue, ruleFor } from './guard.js';

const guard = new RequestGuard();
const rt = (m: string) => guard.requestType('runtime.v1.RuntimeService', m);
const img = (m: string) => guard.requestType('runtime.v1.ImageService', m);

function refuses(fn: () => void, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof InvalidArgumentError && re.test(err.message));
}

describe('request guard', () => {
  it('passes ordinary requests of every shape', () => {
    guard.check(rt('PodSandboxStatus'), { pod_sandbox_id: 'ab12', verbose: true });
    guard.check(rt('ListContainers'), { filter: { id: '', state: { state: 'CONTAINER_RUNNING' }, label_selector: { a: 'b' } } });
    guard.check(rt('CreateContainer'), {
      pod_sandbox_id: 'f'.repeat(64),
      config: {
        metadata: { name: 'c', attempt: 1 }, command: ['sh', '-c', 'x'.repeat(100_000)],
        envs: [{ key: 'A', value: Buffer.from('b') }], annotations: { big: 'y'.repeat(200_000), nul: 'a\0b' },
        mounts: [{ host_path: '/var/lib/x', container_path: '/x', propagation: 'PROPAGATION_PRIVATE' }],
        linux: { security_context: { namespace_options: { pid: 'TARGET', target_id: 'abc' } } },
      },
    });
    guard.check(img('PullImage'), { image: { image: 'busybox' }, auth: { registry_token: 't'.repeat(20_000) } });
  });

  it('refuses an id longer than 64 characters without echoing it', () => {
    try {
      guard.check(rt('PodSandboxStatus'), { pod_sandbox_id: 'a'.repeat(87_600) });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /^pod_sandbox_id is 87600 characters long, over the limit of 64/);
      assert.ok(err.message.length < 200, err.message);
    }
  });

  it('refuses ids that are not hex, in every id field', () => {
    refuses(() => guard.check(rt('StopContainer'), { container_id: 'a b' }), /container_id "a b" is not an id/);
    refuses(() => guard.check(rt('ListPodSandbox'), { filter: { id: '../x' } }), /filter\.id/);
    refuses(() => guard.check(rt('ContainerStatus'), { container_id: 'x\n' }), /container_id "x\\n" is not an id/);
    guard.check(rt('StopContainer'), { container_id: 'nope' }); // an unknown id, answered by the handler
    refuses(() => guard.check(rt('CreateContainer'), { config: { linux: { security_context: { namespace_options: { target_id: 'x y' } } } } }),
      /config\.linux\.security_context\.namespace_options\.target_id/);
  });

  it('refuses NUL bytes in strings, repeated strings, map keys and env bytes, naming the field', () => {
    refuses(() => guard.check(rt('RunPodSandbox'), { config: { metadata: { name: 'a\0b' } } }), /^config\.metadata\.name contains a NUL byte/);
    refuses(() => guard.check(rt('CreateContainer'), { config: { args: ['ok', 'b\0'] } }), /config\.args\[1\] contains a NUL/);
    refuses(() => guard.check(rt('CreateContainer'), { config: { labels: { 'k\0': 'v' } } }), /config\.labels key "k\\u0000" contains a NUL/);
    refuses(() => guard.check(rt('CreateContainer'), { config: { envs: [{ key: 'A', value: Buffer.from('x\0y') }] } }), /config\.envs\[0\]\.value contains a NUL/);
  });

  it('refuses path components over NAME_MAX and paths over PATH_MAX', () => {
    refuses(() => guard.check(rt('CreateContainer'), { config: { mounts: [{ host_path: `/x/${'a'.repeat(256)}` }] } }),
      /config\.mounts\[0\]\.host_path has a path component of 256 bytes/);
    refuses(() => guard.check(rt('RunPodSandbox'), { config: { log_directory: '/a'.repeat(2100) } }), /config\.log_directory is 4200 characters long, over the limit of 4095/);
  });

  it('bounds every other string, list and map', () => {
    refuses(() => guard.check(img('PullImage'), { image: { image: 'x'.repeat(5000) } }), /image\.image is 5000 characters/);
    refuses(() => guard.check(rt('ExecSync'), { cmd: ['x'.repeat(LIMITS.arg + 1)] }), /cmd\[0\] is 131073 characters/);
    refuses(() => guard.check(rt('ExecSync'), { cmd: Array(LIMITS.entries + 1).fill('a') }), /cmd has 10001 entries/);
    const many = Object.fromEntries(Array.from({ length: LIMITS.entries + 1 }, (_, i) => [`k${i}`, 'v']));
    refuses(() => guard.check(rt('RunPodSandbox'), { config: { annotations: many } }), /config\.annotations has 10001 entries/);
    refuses(() => guard.check(img('PullImage'), { auth: { password: 'p'.repeat(LIMITS.credential + 1) } }), /auth\.password/);
  });

  it('refuses enum numbers the schema does not know', () => {
    refuses(() => guard.check(rt('RunPodSandbox'), { config: { linux: { security_context: { namespace_options: { network: 7 } } } } }),
      /namespace_options\.network: 7 is not a NamespaceMode value/);
    refuses(() => guard.check(rt('ListContainers'), { filter: { state: { state: -1 } } }), /filter\.state\.state: -1 is not a ContainerState/);
  });

  it('rules: ids, paths, args, labels and annotations (NUL allowed only in annotation values)', () => {
    assert.deepEqual(ruleFor('container_id', 'StartContainerRequest'), { max: 64, kind: 'id', nul: true });
    assert.equal(ruleFor('host_path', 'Mount').kind, 'path');
    assert.equal(ruleFor('value', 'KeyValue').max, LIMITS.arg);
    assert.equal(ruleFor('x', 'M', 'annotations').nul, false);
    assert.equal(ruleFor('x', 'M', 'labels').nul, true);
    assert.equal(ruleFor('password', 'AuthConfig').max, LIMITS.credential);
    assert.equal(ruleFor('password', 'Other').max, LIMITS.text);
    checkValue('x', '', ruleFor('id', 'ContainerFilter'));
  });
});

describe('requests that do not decode', () => {
  it('become MalformedRequest (INVALID_ARGUMENT) instead of a throw grpc-js answers INTERNAL', async () => {
    const { criServices } = await import('./proto.js');
    const { MalformedRequest, tolerantDeserializers } = await import('./guard.js');
    const def = tolerantDeserializers(criServices().RuntimeService);
    const decode = def.PodSandboxStatus!.requestDeserialize;
    assert.deepEqual((decode(Buffer.from([0x0a, 0x02, 0x61, 0x62])) as { pod_sandbox_id: string }).pod_sandbox_id, 'ab');
    for (const bad of [Buffer.from([0x10, 0xff]), Buffer.from([0x08]), Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)])]) {
      const v = decode(bad);
      assert.ok(v instanceof MalformedRequest, `decoded ${bad.subarray(0, 8).toString('hex')}`);
      refuses(() => guard.check(rt('PodSandboxStatus'), v), /^the request is not a valid PodSandboxStatusRequest message: /);
    }
  });
});
