// The compare bench refuses a containerd it cannot run before it starts anything: it once
// started its registry and temp tree first, then threw, and left both behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import { benchCompare } from '../bench/compare.js';
import { listProcesses } from '../pkg/process/procs.js';

const benchDirs = async () => (await readdir(os.tmpdir())).filter((n) => n.startsWith('berth-cmp-')).sort();
const registries = async () => (await listProcesses()).filter((p) => p.argv[0]?.endsWith('docker-registry')).map((p) => p.pid).sort();

describe('bench compare', () => {
  it('a CONTAINERD_BIN that cannot run is refused, naming it, with nothing started', async () => {
    const dirs = await benchDirs();
    const regs = await registries();
    const saved = process.env.CONTAINERD_BIN;
    process.env.CONTAINERD_BIN = '/nonexistent/containerd';
    try {
      await assert.rejects(benchCompare({ rounds: 1, json: false, workload: { n: 1, pods: 1, pollSeconds: 1 } }), /\/nonexistent\/containerd --version failed.*CONTAINERD_BIN= \(empty\)/);
    } finally {
      if (saved === undefined) delete process.env.CONTAINERD_BIN;
      else process.env.CONTAINERD_BIN = saved;
    }
    assert.deepEqual(await benchDirs(), dirs);
    assert.deepEqual(await registries(), regs);
  });
});
