import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRunSpec, CLI_LABEL, parseEnv, parsePublish, parseUser, parseVolume } from './runspec.js';

test('port mappings, volumes, env and users from docker-style flags', () => {
  assert.deepEqual(parsePublish('8080:80'), { protocol: 'TCP', host_port: 8080, container_port: 80, host_ip: '' });
  assert.deepEqual(parsePublish('127.0.0.1:53:5353/udp'), { protocol: 'UDP', host_port: 53, container_port: 5353, host_ip: '127.0.0.1' });
  assert.throws(() => parsePublish('80'), /expected \[IP:\]HOST_PORT:CONTAINER_PORT/);
  assert.throws(() => parsePublish('70000:80'), /expected/);
  assert.deepEqual(parseVolume('data:/data:ro', '/srv'), { host_path: '/srv/data', container_path: '/data', readonly: true });
  assert.deepEqual(parseVolume('/a:/b'), { host_path: '/a', container_path: '/b', readonly: false });
  assert.throws(() => parseVolume('/a:b'), /must be absolute/);
  assert.throws(() => parseVolume('/a:/b:rx'), /expected HOST_PATH/);
  assert.deepEqual(parseEnv('A=b=c'), { key: 'A', value: 'b=c' });
  assert.deepEqual(parseEnv('HOME', { HOME: '/root' }), { key: 'HOME', value: '/root' });
  assert.deepEqual(parseUser('1000:50'), { run_as_user: { value: '1000' }, run_as_group: { value: '50' } });
  assert.deepEqual(parseUser('nobody'), { run_as_username: 'nobody' });
  assert.throws(() => parseUser('1:staff'), /group must be numeric/);
});

test('a run spec: one name for pod and container, pod-shared namespaces, logs under the pod log root', () => {
  process.env.BERTH_POD_LOG_DIR = '/tmp/logs';
  const s = buildRunSpec({ name: 'web', publish: ['8080:80'], env: ['X=1'], tty: true, interactive: true, privileged: true, user: '1000', workdir: '/srv' }, 'sha256:abc', ['nginx', '-g'], 'u1');
  delete process.env.BERTH_POD_LOG_DIR;
  assert.equal(s.name, 'web');
  assert.deepEqual(s.pod.metadata, { name: 'web', namespace: 'default', uid: 'u1', attempt: 0 });
  assert.equal(s.pod.log_directory, '/tmp/logs/default_web_u1');
  assert.equal(s.pod.port_mappings![0]!.host_port, 8080);
  assert.equal(s.pod.labels![CLI_LABEL], 'run');
  assert.equal(s.pod.linux!.security_context!.privileged, true);
  const c = s.container;
  assert.deepEqual(c.image, { image: 'sha256:abc' });
  assert.deepEqual(c.command, []);
  assert.deepEqual(c.args, ['nginx', '-g']);
  assert.equal(c.log_path, 'web.log');
  assert.equal(c.working_dir, '/srv');
  assert.deepEqual([c.tty, c.stdin, c.stdin_once], [true, true, true]);
  assert.deepEqual(c.linux!.security_context!.run_as_user, { value: '1000' });
  assert.match(buildRunSpec({}, 'i', []).name, /^berth-[0-9a-f]{8}$/);
  assert.throws(() => buildRunSpec({ name: 'bad name' }, 'i', []), /--name bad name/);
  assert.deepEqual(buildRunSpec({ entrypoint: '/bin/sh' }, 'i', ['-c', 'x']).container.command, ['/bin/sh']);
});
