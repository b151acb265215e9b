import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerInfo } from '../container/types.js';
import type { SandboxInfo } from '../sandbox/types.js';
import { containerMetrics, DESCRIPTORS, podMetrics } from './cadvisor.js';

const ctr = { id: 'c'.repeat(64), name: 'web', image: 'busybox', imageRef: 'docker.io/library/busybox@sha256:1', startedAt: 1_700_000_000_500_000_000n } as ContainerInfo;
const sb = { id: 's'.repeat(64), name: 'pod', namespace: 'ns' } as SandboxInfo;

describe('stats: cAdvisor metrics', () => {
  const byName = new Map(DESCRIPTORS.map((d) => [d.name, d]));

  it('gives every sample a described name, its kind and as many label values as label keys', () => {
    const samples = [
      ...containerMetrics({
        container: ctr,
        cgroup: {
          timestamp: 5n, cpu: { usageCoreNanoSeconds: 2_999_999_999n },
          memory: { usageBytes: 10n, workingSetBytes: 8n, rssBytes: 6n, pageFaults: 4n, majorPageFaults: 1n, limitBytes: 100n },
          processes: 3n,
        },
        writableLayer: { timestamp: 4n, bytes: 4096n, inodes: 2n, mountpoint: '/var/lib/berth/containers' },
      }, sb),
      ...podMetrics({
        sandbox: sb, containers: [],
        network: { timestamp: 6n, interfaces: [{ name: 'eth0', rxBytes: 1n, rxPackets: 2n, rxErrors: 0n, rxDropped: 0n, txBytes: 3n, txPackets: 4n, txErrors: 0n, txDropped: 0n }] },
      }),
    ];
    assert.ok(samples.length >= 19);
    for (const s of samples) {
      const d = byName.get(s.name);
      assert.ok(d, `${s.name} is described`);
      assert.equal(s.kind, d.kind);
      assert.equal(s.labelValues.length, d.labelKeys.length, s.name);
    }
    const get = (n: string) => samples.find((s) => s.name === n)!;
    assert.equal(get('container_cpu_usage_seconds_total').value, 2n, 'whole seconds (CRI values are integers)');
    assert.deepEqual(get('container_memory_working_set_bytes').labelValues, ['web', ctr.id, ctr.imageRef, 'web', 'ns', 'pod']);
    assert.equal(get('container_start_time_seconds').value, 1_700_000_000n);
    assert.equal(get('container_fs_usage_bytes').value, 4096n);
    assert.deepEqual(get('container_network_receive_bytes_total').labelValues.slice(-1), ['eth0']);
    assert.equal(get('container_network_transmit_packets_total').value, 4n);
  });

  it('emits nothing it cannot measure', () => {
    assert.deepEqual(containerMetrics({ container: { ...ctr, startedAt: 0n } }, sb), []);
    assert.deepEqual(podMetrics({ sandbox: sb, containers: [] }), []);
  });
});
