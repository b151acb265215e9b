// The dashboard's views shaped from the services' lists: what each page shows, restarts as
// kubelet counts them, image users, and nothing secret (env, command lines, annotations).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerViews, imageViews, podViews, restartCount } from './data.js';
import { container, image, sandbox, sec } from './fakes.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('dashboard data shaping', () => {
  it('counts restarts as the newest attempt of each container name', () => {
    const s = A;
    assert.equal(restartCount([]), 0);
    assert.equal(restartCount([container('1', s, { name: 'web', attempt: 0 })]), 0);
    assert.equal(restartCount([
      container('1', s, { name: 'web', attempt: 2 }), container('2', s, { name: 'web', attempt: 3 }),
      container('3', s, { name: 'side', attempt: 1 }),
    ]), 4);
  });

  it('shows pods newest first with state, IPs, host network, containers and restarts', () => {
    const pods = [
      sandbox(A, { createdAt: sec(100), additionalIps: ['fd00::2'] }),
      sandbox(B, { createdAt: sec(200), state: 'SANDBOX_NOTREADY', netnsPath: undefined, ip: undefined, runtimeHandler: 'crun' }),
    ];
    const ctrs = [
      container('c1'.padEnd(64, '0'), A, { name: 'web', attempt: 1, state: 'CONTAINER_EXITED' }),
      container('c2'.padEnd(64, '0'), A, { name: 'web', attempt: 2 }),
    ];
    const v = podViews(pods, ctrs);
    assert.deepEqual(v.map((p) => p.id), [B, A]);
    assert.equal(v[0]!.state, 'notready');
    assert.equal(v[0]!.hostNetwork, true);
    assert.equal(v[0]!.ip, '');
    assert.equal(v[0]!.handler, 'crun');
    assert.deepEqual(v[0]!.containers, []);
    const a = v[1]!;
    assert.equal(a.state, 'ready');
    assert.equal(a.createdAt, 100_000);
    assert.equal(a.ip, '10.88.0.2');
    assert.deepEqual(a.additionalIps, ['fd00::2']);
    assert.deepEqual(a.containers.map((c) => `${c.name}:${c.state}`), ['web:exited', 'web:running']);
    assert.equal(a.restarts, 2);
  });

  it('shows containers with their pod, image, times in ms and the exit code only once exited', () => {
    const pods = [sandbox(A, { name: 'api', namespace: 'prod' })];
    const running = container('1'.repeat(64), A, { createdAt: sec(10), startedAt: sec(11) });
    const exited = container('2'.repeat(64), A, {
      createdAt: sec(20), startedAt: sec(21), finishedAt: sec(25), state: 'CONTAINER_EXITED', exitCode: 137, reason: 'OOMKilled', message: 'killed', pid: 99,
    });
    const orphan = container('3'.repeat(64), B, { createdAt: sec(5), state: 'CONTAINER_CREATED', logPath: '' });
    const [e, r, o] = containerViews([running, exited, orphan], pods);
    assert.equal(e!.id, exited.id);
    assert.equal(e!.exitCode, 137);
    assert.equal(e!.reason, 'OOMKilled');
    assert.equal(e!.message, 'killed');
    assert.equal(e!.finishedAt, 25_000);
    assert.equal(e!.pid, 0, 'no pid once exited');
    assert.equal(e!.state, 'exited');
    assert.equal(r!.exitCode, null, 'a running container has no exit code yet');
    assert.equal(r!.podName, 'api');
    assert.equal(r!.podNamespace, 'prod');
    assert.equal(r!.image, 'docker.io/library/busybox:latest');
    assert.equal(r!.startedAt, 11_000);
    assert.equal(r!.pid, 4242);
    assert.equal(r!.hasLog, true);
    assert.equal(o!.podName, '', 'a container whose pod is gone keeps its row');
    assert.equal(o!.hasLog, false);
  });

  it('shows images by tag with size and the containers using them', () => {
    const pods = [sandbox(A, { name: 'api' })];
    const ctrs = [container('1'.repeat(64), A, { imageId: 'sha256:bbb', name: 'web' })];
    const v = imageViews([image('sha256:bbb', ['z.io/b:1']), image('sha256:aaa', ['a.io/a:1', 'a.io/a:latest'], 5e6), image('sha256:ccc', [])], ctrs, pods);
    assert.deepEqual(v.map((i) => i.id), ['sha256:aaa', 'sha256:ccc', 'sha256:bbb']);
    assert.deepEqual(v[0]!.tags, ['a.io/a:1', 'a.io/a:latest']);
    assert.equal(v[0]!.size, 5e6);
    assert.deepEqual(v[0]!.usedBy, []);
    assert.deepEqual(v[2]!.usedBy, [{ id: '1'.repeat(64), name: 'web', podName: 'api', state: 'running' }]);
  });

  it('never carries env values, env names, command lines or annotations', () => {
    const pods = [sandbox(A)];
    const ctrs = [container('1'.repeat(64), A)];
    const all = JSON.stringify([podViews(pods, ctrs), containerViews(ctrs, pods), imageViews([image('sha256:aaa', ['x'])], ctrs, pods)]);
    for (const secret of ['SECRET-ENV', 'DB_PASSWORD', 'SECRET-ARG', 'SECRET-ANNOTATION']) assert.ok(!all.includes(secret), secret);
  });

  it('shapes 200 pods with 3 containers each in one pass', () => {
    const pods = Array.from({ length: 200 }, (_, i) => sandbox(i.toString(16).padStart(64, '0'), { createdAt: sec(i) }));
    const ctrs = pods.flatMap((p, i) => [0, 1, 2].map((k) => container(`${k}${i.toString(16)}`.padEnd(64, 'f'), p.id, { name: `c${k}` })));
    const v = podViews(pods, ctrs);
    assert.equal(v.length, 200);
    assert.ok(v.every((p) => p.containers.length === 3));
    assert.equal(containerViews(ctrs, pods).length, 600);
  });
});
