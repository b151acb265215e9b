// CDI names and spec parsing: every cdiVersion's fields, the version rules, strictness, JSON and YAML.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { devicesFromAnnotations, parseKind, parseQualifiedName } from './names.js';
import { parseSpec } from './parse.js';
import { minimumVersion } from './version.js';

const spec = (version: string, extra: Record<string, unknown> = {}, device: Record<string, unknown> = {}) => JSON.stringify({
  cdiVersion: version, kind: 'vendor.com/gpu',
  devices: [{ name: 'gpu0', containerEdits: { deviceNodes: [{ path: '/dev/gpu0' }] }, ...device }],
  ...extra,
});
const bad = (text: string, re: RegExp, format: 'json' | 'yaml' = 'json') => assert.throws(() => parseSpec(text, format), re);

describe('cdi: names', () => {
  it('parses qualified device names and refuses malformed ones, naming the part', () => {
    assert.deepEqual(parseQualifiedName('vendor.com/gpu=0'), { vendor: 'vendor.com', class: 'gpu', name: '0' });
    assert.deepEqual(parseQualifiedName('nvidia.com/gpu=GPU-1a2b:mig_3.4'), { vendor: 'nvidia.com', class: 'gpu', name: 'GPU-1a2b:mig_3.4' });
    assert.deepEqual(parseQualifiedName('foo.bar.baz/foo-bar123.B_az=x'), { vendor: 'foo.bar.baz', class: 'foo-bar123.B_az', name: 'x' });
    for (const [name, re] of [
      ['gpu0', /not a qualified/], ['vendor.com/gpu', /not a qualified/], ['vendor.com/gpu=', /not a qualified/], ['=x', /not a qualified/],
      ['/dev/gpu=0', /vendor/], ['vendor.com=0', /not "vendor\/class"/], ['vendor.com/gpu/x=0', /class/],
      ['1vendor.com/gpu=0', /should start with a letter/], ['vendor.com/gpu-=0', /should end with a letter or digit/],
      ['vendor.com/gpu=-0', /should start with a letter or digit/], ['vendor.com/gpu=a b', /character/], ['vendor.com/gpu=a:', /end/],
    ] as const) {
      assert.throws(() => parseQualifiedName(name), re, name);
    }
    assert.throws(() => parseKind('vendor.com/'), /not "vendor\/class"/);
  });

  it('collects devices from cdi.k8s.io annotations in key order and refuses a bad name', () => {
    assert.deepEqual(devicesFromAnnotations({
      'cdi.k8s.io/zz_plugin': 'vendor.com/net=b', 'other.io/x': 'ignored', 'cdi.k8s.io/aa_plugin': 'vendor.com/gpu=0,vendor.com/gpu=1',
    }), ['vendor.com/gpu=0', 'vendor.com/gpu=1', 'vendor.com/net=b']);
    assert.deepEqual(devicesFromAnnotations({}), []);
    assert.throws(() => devicesFromAnnotations({ 'cdi.k8s.io/p': 'vendor.com/gpu=0,gpu1' }), /annotation cdi\.k8s\.io\/p: "gpu1" is not a qualified/);
  });
});

describe('cdi: spec parsing by version', () => {
  it('0.3.0: device nodes, env, mounts, hooks, spec-level edits', () => {
    const s = parseSpec(JSON.stringify({
      cdiVersion: '0.3.0', kind: 'vendor.com/gpu',
      containerEdits: { env: ['VENDOR_LIB=1'], hooks: [{ hookName: 'createContainer', path: '/usr/bin/hook', args: ['hook', 'x'], env: ['A=b'], timeout: 5 }] },
      devices: [{
        name: 'gpu0', containerEdits: {
          deviceNodes: [{ path: '/dev/gpu0', type: 'c', major: 195, minor: 0, fileMode: 438, permissions: 'rw', uid: 1000, gid: 44 }],
          mounts: [{ hostPath: '/usr/lib/libgpu.so', containerPath: '/usr/lib/libgpu.so', options: ['ro', 'bind'] }],
        },
      }],
    }), 'json');
    assert.equal(s.devices[0]!.containerEdits.deviceNodes![0]!.major, 195);
    assert.deepEqual(s.containerEdits!.hooks![0], { hookName: 'createContainer', path: '/usr/bin/hook', args: ['hook', 'x'], env: ['A=b'], timeout: 5 });
    assert.equal(minimumVersion(s), '0.3.0');
  });

  it('0.4.0: mount type', () => {
    const withType = (v: string) => spec(v, {}, { containerEdits: { mounts: [{ hostPath: '/a', containerPath: '/b', type: 'bind' }] } });
    assert.equal(parseSpec(withType('0.4.0'), 'json').devices[0]!.containerEdits.mounts![0]!.type, 'bind');
    bad(withType('0.3.0'), /need at least 0\.4\.0, it declares 0\.3\.0/);
  });

  it('0.5.0: hostPath of device nodes and device names starting with a digit', () => {
    const host = spec('0.5.0', {}, { containerEdits: { deviceNodes: [{ path: '/dev/gpu', hostPath: '/dev/nvidia0' }] } });
    assert.equal(parseSpec(host, 'json').devices[0]!.containerEdits.deviceNodes![0]!.hostPath, '/dev/nvidia0');
    bad(host.replace('0.5.0', '0.4.0'), /at least 0\.5\.0/);
    assert.equal(parseSpec(spec('0.5.0', {}, { name: '0' }), 'json').devices[0]!.name, '0');
    bad(spec('0.4.0', {}, { name: '0' }), /at least 0\.5\.0/);
  });

  it('0.6.0: annotations on the spec and devices, dots in the class', () => {
    const ann = spec('0.6.0', { annotations: { 'vendor.com/driver': '550' } }, { annotations: { uuid: 'GPU-1' } });
    const s = parseSpec(ann, 'json');
    assert.deepEqual([s.annotations, s.devices[0]!.annotations], [{ 'vendor.com/driver': '550' }, { uuid: 'GPU-1' }]);
    bad(ann.replace('0.6.0', '0.5.0'), /at least 0\.6\.0/);
    bad(spec('0.5.0').replace('vendor.com/gpu', 'vendor.com/gpu.a100'), /at least 0\.6\.0/);
    bad(spec('0.6.0', { annotations: { a: 1 } }), /annotations\.a: not a string/);
  });

  it('0.7.0: intelRdt and additionalGids', () => {
    const rdt = spec('0.7.0', { containerEdits: { intelRdt: { closID: 'clos1', l3CacheSchema: 'L3:0=ff', memBwSchema: 'MB:0=50', enableCMT: true } } },
      { containerEdits: { deviceNodes: [{ path: '/dev/gpu0' }], additionalGids: [44, 0] } });
    const s = parseSpec(rdt, 'json');
    assert.deepEqual(s.containerEdits!.intelRdt, { closID: 'clos1', l3CacheSchema: 'L3:0=ff', memBwSchema: 'MB:0=50', enableCMT: true });
    assert.deepEqual(s.devices[0]!.containerEdits.additionalGids, [44, 0]);
    bad(rdt.replace('0.7.0', '0.6.0'), /at least 0\.7\.0/);
    bad(spec('0.7.0', { containerEdits: { intelRdt: { closID: '../x' } } }), /closID: "\.\.\/x" is not a valid CLOS name/);
    bad(spec('0.7.0', {}, { containerEdits: { additionalGids: [-1] } }), /additionalGids\[0\]: not a uint32/);
  });

  it('0.8.0 and 1.0.0 add no field; 1.1.0: netDevices, schemata, enableMonitoring; enableCMT dropped', () => {
    assert.equal(parseSpec(spec('0.8.0'), 'json').cdiVersion, '0.8.0');
    assert.equal(parseSpec(spec('v1.0.0'), 'json').cdiVersion, 'v1.0.0');
    const net = spec('1.1.0', {}, { containerEdits: { netDevices: [{ hostInterfaceName: 'eth1', name: 'net1' }] } });
    assert.deepEqual(parseSpec(net, 'json').devices[0]!.containerEdits.netDevices, [{ hostInterfaceName: 'eth1', name: 'net1' }]);
    bad(net.replace('1.1.0', '1.0.0'), /at least 1\.1\.0/);
    const mon = spec('1.1.0', { containerEdits: { intelRdt: { schemata: ['L3:0=f'], enableMonitoring: true } } });
    assert.deepEqual(parseSpec(mon, 'json').containerEdits!.intelRdt, { schemata: ['L3:0=f'], enableMonitoring: true });
    bad(mon.replace('1.1.0', '0.8.0'), /at least 1\.1\.0/);
    bad(spec('1.1.0', { containerEdits: { intelRdt: { enableMBM: true } } }), /enableCMT and enableMBM are not in cdiVersion 1\.1\.0/);
    bad(spec('1.1.0', {}, { containerEdits: { netDevices: [{ hostInterfaceName: 'a', name: 'x' }, { hostInterfaceName: 'b', name: 'x' }] } }), /"x" is listed twice/);
    bad(spec('2.0.0'), /"2\.0\.0" is not a CDI release/);
  });

  it('refuses unknown fields, wrong types and incomplete specs, naming the field', () => {
    bad(spec('0.3.0', { extra: 1 }), /^Error: extra: unknown field$/);
    bad(spec('0.3.0', {}, { containerEdits: { deviceNodes: [{ path: '/dev/x', majr: 1 }] } }), /devices\[0\]\.containerEdits\.deviceNodes\[0\]\.majr: unknown field/);
    bad(spec('0.3.0', {}, { containerEdits: { deviceNodes: [{ path: '/dev/x', major: '1' }] } }), /deviceNodes\[0\]\.major: not an integer/);
    bad(spec('0.3.0', {}, { containerEdits: { deviceNodes: [{ path: '/dev/x', type: 'x' }] } }), /type: "x" is not b, c, u or p/);
    bad(spec('0.3.0', {}, { containerEdits: { deviceNodes: [{ path: '/dev/x', permissions: 'rx' }] } }), /permissions: "rx"/);
    bad(spec('0.3.0', {}, { containerEdits: { deviceNodes: [{ type: 'c' }] } }), /deviceNodes\[0\]\.path: required/);
    bad(spec('0.3.0', {}, { containerEdits: { env: ['=x'] } }), /env\[0\]: "=x" is not NAME=value/);
    bad(spec('0.3.0', {}, { containerEdits: { mounts: [{ hostPath: '/a' }] } }), /mounts\[0\]\.containerPath: required/);
    bad(spec('0.3.0', {}, { containerEdits: { hooks: [{ hookName: 'preStart', path: '/h' }] } }), /hookName: "preStart" is not one of/);
    bad(spec('0.3.0', {}, { containerEdits: { hooks: [{ hookName: 'poststop', path: '/h', timeout: 0 }] } }), /timeout: not an integer in \[1,/);
    bad(spec('0.3.0', {}, { containerEdits: {} }), /device "gpu0" edits nothing/);
    bad(JSON.stringify({ cdiVersion: '0.3.0', kind: 'vendor.com/gpu', devices: [] }), /at least one device/);
    bad(JSON.stringify({ cdiVersion: '0.3.0', kind: 'gpu', devices: [] }), /kind: kind "gpu" is not "vendor\/class"/);
    bad(JSON.stringify({ kind: 'vendor.com/gpu', devices: [] }), /cdiVersion: required/);
    const twice = JSON.parse(spec('0.3.0')) as { devices: unknown[] };
    twice.devices.push(twice.devices[0]);
    bad(JSON.stringify(twice), /"gpu0" is defined twice/);
    bad('{"cdiVersion": ', /not valid JSON/);
    bad('[1, 2]', /spec: not an object/);
  });

  it('reads YAML as the CDI library does (YAML 1.1: 0666 is octal), duplicate keys refused', () => {
    const s = parseSpec([
      '---', 'cdiVersion: "0.5.0"', 'kind: vendor.com/gpu', 'devices:', '- name: gpu0', '  containerEdits:',
      '    deviceNodes:', '    - path: /dev/gpu0', '      hostPath: /dev/null', '      fileMode: 0666',
      '    env: ["GPU=0"]',
    ].join('\n'), 'yaml');
    assert.equal(s.devices[0]!.containerEdits.deviceNodes![0]!.fileMode, 0o666);
    assert.deepEqual(s.devices[0]!.containerEdits.env, ['GPU=0']);
    bad('cdiVersion: 0.3.0\ncdiVersion: 0.4.0\n', /not valid YAML/, 'yaml');
    bad('cdiVersion: [\n', /not valid YAML/, 'yaml');
  });
});
