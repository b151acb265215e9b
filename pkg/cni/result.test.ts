import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResult, podIps } from './result.js';

const v1 = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0', mac: '00:11' }, { name: 'veth1', mac: '00:22' }, { name: 'eth0', mac: '00:33', sandbox: '/run/netns/x' }],
  ips: [{ address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 }, { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 }],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: { nameservers: ['10.96.0.10'] },
};

test('parses a 1.0.0 result; IPv4 first, prefix removed', () => {
  const r = parseResult(v1, 'x');
  assert.equal(r.cniVersion, '1.0.0');
  assert.equal(r.interfaces[2]!.sandbox, '/run/netns/x');
  assert.deepEqual(podIps(r), ['10.88.0.5', 'fd00::5']);
  assert.deepEqual(r.dns.nameservers, ['10.96.0.10']);
  assert.equal(r.raw, v1);
});

test('parses 0.4.0 and 0.3.1 results (ips carry "version")', () => {
  for (const cniVersion of ['0.4.0', '0.3.1']) {
    const r = parseResult({
      cniVersion,
      interfaces: [{ name: 'eth0', sandbox: '/x' }],
      ips: [{ version: '4', address: '10.1.2.3/24', gateway: '10.1.2.1', interface: 0 }],
    }, 'x');
    assert.equal(r.cniVersion, cniVersion);
    assert.deepEqual(podIps(r), ['10.1.2.3']);
    assert.equal(r.ips[0]!.gateway, '10.1.2.1');
  }
});

test('parses a 0.2.0 result (ip4/ip6); takes the config version when the result has none', () => {
  const r = parseResult({ ip4: { ip: '10.0.0.2/8', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] }, ip6: { ip: 'fd::2/64' } }, '0.2.0');
  assert.equal(r.cniVersion, '0.2.0');
  assert.deepEqual(podIps(r), ['10.0.0.2', 'fd::2']);
  assert.equal(r.routes.length, 1);
});

test('puts addresses on the sandbox interface before others', () => {
  const r = parseResult({
    cniVersion: '1.0.0',
    interfaces: [{ name: 'net1' }, { name: 'eth0' }],
    ips: [{ address: '192.168.0.2/24', interface: 0 }, { address: '10.0.0.2/24', interface: 1 }],
  }, 'x');
  assert.deepEqual(podIps(r), ['10.0.0.2', '192.168.0.2']);
});

test('refuses malformed results', () => {
  assert.throws(() => parseResult('nope', '1.0.0'), /not a JSON object/);
  assert.throws(() => parseResult({ ips: [{ gateway: '1.2.3.4' }] }, '1.0.0'), /without "address"/);
});
