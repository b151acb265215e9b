import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { factsFromStatus, labelValue, nodeMetadata, nodePatch } from './nodeinfo.js';

const status = {
  status: { conditions: [{ type: 'RuntimeReady', status: true, reason: '', message: '' }, { type: 'NetworkReady', status: false, reason: 'x', message: '' }] },
  runtime_handlers: [
    { name: '', features: { user_namespaces: false, recursive_read_only_mounts: true } },
    { name: 'runc', features: { user_namespaces: false, recursive_read_only_mounts: true } },
    { name: 'crun', features: { user_namespaces: true, recursive_read_only_mounts: false } },
  ],
  info: { features: JSON.stringify({ cgroupVersion: 'hybrid', cdi: false }) },
  features: null,
};

describe('node facts and labels', () => {
  const facts = factsFromStatus({ version: '0.1.0', runtime_name: 'berth', runtime_version: '0.1.0', runtime_api_version: 'v1' }, status as never);

  it('reads handlers (without the default\'s empty name), readiness, cgroup version and CDI from verbose Status', () => {
    assert.deepEqual(facts, {
      version: '0.1.0', ready: true, cgroupVersion: 'hybrid', cdi: false,
      handlers: [{ name: 'runc', userNamespaces: false, recursiveReadOnlyMounts: true }, { name: 'crun', userNamespaces: true, recursiveReadOnlyMounts: false }],
    });
  });

  it('labels and annotates under berth.io/', () => {
    const m = nodeMetadata(facts);
    assert.deepEqual(m.labels, { 'berth.io/runtime': 'ready', 'berth.io/version': '0.1.0', 'berth.io/cgroup': 'hybrid', 'berth.io/user-namespaces': 'true', 'berth.io/cdi': 'false' });
    assert.equal(m.annotations['berth.io/handlers'], 'runc,crun');
    assert.deepEqual(JSON.parse(m.annotations['berth.io/features']!).handlers.crun, { userNamespaces: true, recursiveReadOnlyMounts: false });
    assert.equal(nodeMetadata({ ...facts, ready: false }).labels['berth.io/runtime'], undefined, 'no ready label while berth cannot run containers');
  });

  it('makes label values valid', () => {
    assert.equal(labelValue('1.2.3+build/7'), '1.2.3_build_7');
    assert.equal(labelValue('-x-'), 'x');
    assert.equal(labelValue('a'.repeat(70)).length, 63);
  });

  it('patches only berth.io/ keys: sets what differs, removes stale ones, leaves others alone', () => {
    const want = nodeMetadata(facts);
    const current = {
      labels: { 'kubernetes.io/os': 'linux', 'berth.io/version': '0.0.9', 'berth.io/old': 'x', ...Object.fromEntries(Object.entries(want.labels).filter(([k]) => k !== 'berth.io/version')) },
      annotations: { ...want.annotations, 'other.io/a': 'b' },
    };
    assert.deepEqual(nodePatch(current, want), { metadata: { labels: { 'berth.io/version': '0.1.0', 'berth.io/old': null } } });
    assert.equal(nodePatch({ labels: want.labels, annotations: want.annotations }, want), undefined);
    const removal = nodePatch(current, { labels: {}, annotations: {} })!;
    assert.ok(Object.values(removal.metadata.labels!).every((v) => v === null));
    assert.ok(!('kubernetes.io/os' in removal.metadata.labels!) && !('other.io/a' in removal.metadata.annotations!));
  });
});
