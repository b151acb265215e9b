import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHosts, renderResolvConf } from './files.js';

test('resolv.conf from dns_config: search, nameservers, options', () => {
  assert.equal(
    renderResolvConf({ servers: ['10.96.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'edns0'] }, 'host'),
    'search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5 edns0\n',
  );
  assert.equal(renderResolvConf({ servers: ['1.1.1.1'], searches: [], options: [] }, 'host'), 'nameserver 1.1.1.1\n');
});

test("resolv.conf is the host's when dns_config is absent or empty", () => {
  assert.equal(renderResolvConf(undefined, 'nameserver 9.9.9.9\n'), 'nameserver 9.9.9.9\n');
  assert.equal(renderResolvConf({ servers: [], searches: [], options: [] }, 'nameserver 9.9.9.9\n'), 'nameserver 9.9.9.9\n');
});

test('hosts: localhost entries then each pod IP with the hostname', () => {
  const h = renderHosts('web-0', ['10.88.0.7', 'fd00::7']);
  const lines = h.trim().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.equal(lines[1], '::1\tlocalhost ip6-localhost ip6-loopback');
  assert.deepEqual(lines.slice(-2), ['10.88.0.7\tweb-0', 'fd00::7\tweb-0']);
  assert.ok(!renderHosts('x', []).includes('\tx\n'));
});
