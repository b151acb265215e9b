// The counters only the cAdvisor metrics read: parsers on recorded kernel text, the v2 reader
// over a fake file table, and the v1 reader against a throttled cgroup on this host.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import {
  hugePageSizeName, hugePageSizes, memoryExtrasV1, memoryExtrasV2, parseCfsV1, parseCpuacctStat, parseCpuStatV2, readExtendedV2,
} from './cgroup-extended.js';
import { readerFor } from './collector.js';
import { detectLayout as detectCgroups } from '../cgroups/index.js';
import { parsePartitions } from './devices.js';

describe('stats: extended cgroup counters', () => {
  it('parses v1 cpuacct.stat ticks and cpu.stat CFS counters', () => {
    assert.deepEqual(parseCpuacctStat('user 250\nsystem 75\n'), { cpuUserNs: 2_500_000_000n, cpuSystemNs: 750_000_000n });
    assert.deepEqual(parseCfsV1('nr_periods 120\nnr_throttled 30\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n'), {
      cfs: { periods: 120n, throttledPeriods: 30n, throttledNs: 4_500_000_000n },
    });
    assert.deepEqual(parseCfsV1(undefined), {});
  });

  it('parses v2 cpu.stat: user/system usec, CFS counters only with the cpu controller', () => {
    const full = 'usage_usec 900\nuser_usec 600\nsystem_usec 300\nnr_periods 10\nnr_throttled 2\nthrottled_usec 1500\n';
    assert.deepEqual(parseCpuStatV2(full), {
      cpuUserNs: 600_000n, cpuSystemNs: 300_000n, cfs: { periods: 10n, throttledPeriods: 2n, throttledNs: 1_500_000n },
    });
    assert.deepEqual(parseCpuStatV2('usage_usec 900\nuser_usec 600\nsystem_usec 300\n'), { cpuUserNs: 600_000n, cpuSystemNs: 300_000n });
  });

  it('reads page cache, mapped files and swap from memory.stat (v1 hierarchical totals, v2 names)', () => {
    const v1 = 'cache 100\nrss 5\nmapped_file 7\nswap 1\ntotal_cache 4096\ntotal_rss 8192\ntotal_mapped_file 1024\ntotal_swap 512\n';
    assert.deepEqual(memoryExtrasV1(v1), { cacheBytes: 4096n, mappedFileBytes: 1024n, swapBytes: 512n });
    assert.deepEqual(memoryExtrasV1('total_cache 1\ntotal_mapped_file 2\n'), { cacheBytes: 1n, mappedFileBytes: 2n }, 'no swap accounting: no swap');
    assert.deepEqual(memoryExtrasV2('anon 10\nfile 20\nkernel 30\nfile_mapped 40\n'), { cacheBytes: 20n, mappedFileBytes: 40n, kernelBytes: 30n });
  });

  it('names huge page sizes as runc does, and lists this host\'s', async () => {
    assert.equal(hugePageSizeName('hugepages-2048kB'), '2MB');
    assert.equal(hugePageSizeName('hugepages-1048576kB'), '1GB');
    assert.equal(hugePageSizeName('hugepages-64kB'), '64KB');
    assert.equal(hugePageSizeName('hugepages-32768kB'), '32MB');
    assert.equal(hugePageSizeName('nr_hugepages'), undefined);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-hp-'));
    try {
      for (const n of ['hugepages-1048576kB', 'hugepages-2048kB', 'README']) await mkdir(path.join(dir, n));
      assert.deepEqual(await hugePageSizes(dir), ['1GB', '2MB']);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('v2: swap, memory.events (max → failcnt, oom_kill), memory.peak, pids.max "max" → 0, hugetlb', async () => {
    const files: Record<string, string> = {
      'memory.swap.current': '65536\n',
      'memory.events': 'low 0\nhigh 3\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n',
      'memory.peak': '99999\n',
      'pids.max': 'max\n',
    };
    const sizes = await hugePageSizes();
    for (const s of sizes) {
      files[`hugetlb.${s}.current`] = '2097152\n';
      files[`hugetlb.${s}.events`] = 'max 4\n';
    }
    const x = await readExtendedV2('/cg', 'usage_usec 10\nuser_usec 6\nsystem_usec 4\n', 'file 1\nfile_mapped 2\n',
      async (f) => files[path.basename(f)]);
    assert.equal(x.swapBytes, 65536n);
    assert.equal(x.failcnt, 9n);
    assert.equal(x.oomKills, 1n);
    assert.equal(x.maxUsageBytes, 99999n);
    assert.equal(x.threadsMax, 0n);
    assert.equal(x.cpuUserNs, 6000n);
    assert.equal(x.cacheBytes, 1n);
    assert.deepEqual(x.hugetlb, sizes.map((pageSize) => ({ pageSize, usageBytes: 2097152n, failcnt: 4n })));
  });

  it('maps block devices by major:minor from /proc/partitions', () => {
    const t = 'major minor  #blocks  name\n\n 254        0  268435456 vda\n 254        1  1048576 vda1\n   7  0  100 loop0\n';
    assert.deepEqual([...parsePartitions(t)], [['254:0', '/dev/vda'], ['254:1', '/dev/vda1'], ['7:0', '/dev/loop0']]);
  });
});

describe('stats: extended counters of a throttled cgroup on this host (v1)', async () => {
  const layout = await detectCgroups();
  const skip = layout?.version !== 1 || !layout.controllers.cpu ? 'host has no cgroup v1 cpu controller' : false;
  const CG = `/berth-test-extended-${process.pid}`;
  const CTLS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
  const dirs: string[] = [];
  let child: ChildProcess | undefined;
  const reader = layout ? readerFor(layout) : undefined;

  before(async () => {
    if (skip || layout?.version !== 1) return;
    for (const c of CTLS) {
      const m = layout.controllers[c];
      if (!m) continue;
      const d = path.join(m.mountpoint, CG);
      if (dirs.includes(d)) continue; // cpu and cpuacct may share one hierarchy
      await mkdir(d, { recursive: true });
      dirs.push(d);
    }
    const cpuDir = path.join(layout.controllers.cpu!.mountpoint, CG);
    await writeFile(path.join(cpuDir, 'cpu.cfs_period_us'), '10000');
    await writeFile(path.join(cpuDir, 'cpu.cfs_quota_us'), '1000');
    await writeFile(path.join(layout.controllers.pids!.mountpoint, CG, 'pids.max'), '64');
    const join = dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ');
    child = spawn('sh', ['-c', `${join} && exec "$0" -e 'process.stdout.write("go\\n"); for(;;){}'`, process.execPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    for (const d of dirs) await rmdir(d).catch(() => undefined);
    reader?.files?.close();
  });

  it('reads throttling, user/system time, failcnt, peak usage, OOM kills and pids.max', { skip }, async () => {
    let s = await reader!.read(CG, { extended: true });
    // A 10% quota on a busy loop is throttled within a few 10 ms periods.
    // Throttling has no event to wait on: re-read until the kernel has counted some.
    for (const end = Date.now() + 10_000; !s?.extended?.cfs?.throttledPeriods && Date.now() < end;) {
      await delay(20);
      s = await reader!.read(CG, { extended: true });
    }
    const x = s?.extended;
    assert.ok(x, 'extended stats read');
    assert.ok(x.cfs && x.cfs.periods > 0n && x.cfs.throttledPeriods > 0n && x.cfs.throttledNs > 0n, JSON.stringify(x.cfs, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
    assert.ok((x.cpuUserNs ?? 0n) > 0n, 'user time');
    assert.equal(typeof x.cpuSystemNs, 'bigint');
    assert.equal(x.failcnt, 0n);
    assert.ok((x.maxUsageBytes ?? 0n) >= (s!.memory?.usageBytes ?? 0n), 'peak ≥ current');
    assert.equal(x.oomKills, 0n);
    assert.equal(x.threadsMax, 64n);
    assert.equal(typeof x.cacheBytes, 'bigint');
    assert.equal((await reader!.read(CG))?.extended, undefined, 'only when asked');
  });
});
