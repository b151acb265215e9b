import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StatsCollector } from './collector.js';
import { OpenFiles } from './fsread.js';
import type { CgroupReader } from './types.js';

/** A reader over a directory tree that keeps its files open, as the real readers do. */
function treeReader(root: string): CgroupReader & { files: OpenFiles } {
  const files = new OpenFiles();
  return {
    version: 1, files,
    async read(cg) {
      const v = await files.read(path.join(root, cg, 'cpuacct.usage'));
      return v === undefined ? undefined : { timestamp: BigInt(Date.now()) * 1_000_000n, cpu: { usageCoreNanoSeconds: BigInt(v.trim()) } };
    },
    async pids() {
      return [];
    },
  };
}

describe('stats collector: forgetting removed objects', () => {
  it('closes the files of a removed pod, whose cgroup path holds its uid and not its sandbox id', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-col-'));
    try {
      const sandboxId = 'a'.repeat(64);
      const ctrId = 'b'.repeat(64);
      for (const cg of ['kubepods/pod-uid-1', `kubepods/pod-uid-1/${ctrId}`]) {
        await mkdir(path.join(root, cg), { recursive: true });
        await writeFile(path.join(root, cg, 'cpuacct.usage'), '5\n');
      }
      const reader = treeReader(root);
      const c = new StatsCollector(reader);
      assert.ok(await c.cgroup(`pod:${sandboxId}`, '/kubepods/pod-uid-1'));
      assert.ok(await c.cgroup(ctrId, `/kubepods/pod-uid-1/${ctrId}`));
      assert.equal(reader.files.size, 2);
      c.forget(ctrId);
      assert.equal(reader.files.size, 1, 'the container\'s file is closed');
      c.forget(`pod:${sandboxId}`);
      assert.equal(reader.files.size, 0, 'the pod\'s file is closed');
      c.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
