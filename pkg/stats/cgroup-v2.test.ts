// cgroup v2 reader against recorded v2 trees (pkg/stats/testdata/cgroup-v2): this VM runs v1.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../version/version.js';
import { CgroupV2Reader } from './cgroup-v2.js';
import { StatsCollector } from './collector.js';

const TREE = path.join(PROJECT_ROOT, 'pkg/stats/testdata/cgroup-v2');
const POD = 'kubepods-burstable-pod6f1c2a9e_3b4d_4e5f_8a7b_9c0d1e2f3a4b.slice';
const CTR_ID = '4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b';
// systemd-driver names as runc takes them: "slice:prefix:name".
const CTR = `${POD}:cri-berth:${CTR_ID}`;

describe('stats: cgroup v2 reader on recorded trees', () => {
  const reader = new CgroupV2Reader({ mountpoint: TREE, root: '/' });

  it('reads a container cgroup: cpu, memory (working set = current − inactive_file), pids, io', async () => {
    assert.equal((await reader.read(CTR))?.io, undefined, 'io.stat only when asked');
    const s = await reader.read(CTR, { io: true });
    assert.ok(s);
    assert.equal(s.cpu?.usageCoreNanoSeconds, 2_500_000_000n);
    assert.equal(s.cpu?.usageNanoCores, undefined, 'no rate from a single sample');
    assert.equal(s.memory?.usageBytes, 63963136n);
    assert.equal(s.memory?.workingSetBytes, 63963136n - 8388608n);
    assert.equal(s.memory?.rssBytes, 52428800n);
    assert.equal(s.memory?.pageFaults, 14021n);
    assert.equal(s.memory?.majorPageFaults, 12n);
    assert.equal(s.memory?.limitBytes, 134217728n);
    assert.equal(s.memory?.availableBytes, 134217728n - (63963136n - 8388608n));
    assert.equal(s.processes, 3n);
    assert.deepEqual(s.io?.map((d) => [d.device, d.readBytes, d.writeBytes, d.readOps, d.writeOps]), [
      ['8:0', 1048576n, 4096000n, 32n, 100n],
      ['253:0', 1048576n, 4096000n, 32n, 100n],
    ]);
    assert.ok(s.timestamp > 1_600_000_000_000_000_000n);
  });

  it('reads the pod cgroup (an expanded .slice name) as the aggregate, unlimited memory', async () => {
    const s = await reader.read(POD);
    assert.ok(s);
    assert.equal(s.cpu?.usageCoreNanoSeconds, 2_600_000_000n);
    assert.equal(s.memory?.usageBytes, 64036864n);
    assert.equal(s.memory?.workingSetBytes, 64036864n - 8392704n);
    assert.equal(s.memory?.limitBytes, undefined, 'memory.max "max" is no limit');
    assert.equal(s.memory?.availableBytes, undefined);
    const ctr = await reader.read(CTR);
    assert.ok(s.cpu!.usageCoreNanoSeconds >= ctr!.cpu!.usageCoreNanoSeconds);
  });

  it('a cgroupfs path reaches the same cgroup', async () => {
    const p = `/kubepods.slice/kubepods-burstable.slice/${POD}/cri-berth-${CTR_ID}.scope`;
    assert.equal((await reader.read(p))?.cpu?.usageCoreNanoSeconds, 2_500_000_000n);
  });

  it('reads pressure (PSI) for CPU, memory and I/O, and swap in use and left', async () => {
    const s = await reader.read(CTR);
    assert.deepEqual(s?.cpu?.psi, {
      some: { total: 8123456n, avg10: 12.5, avg60: 4.25, avg300: 1.02 },
      full: { total: 2000000n, avg10: 3.1, avg60: 1, avg300: 0.2 },
    });
    assert.equal(s?.memory?.psi?.some?.total, 1500n);
    assert.equal(s?.ioPsi?.full?.avg10, 0.3);
    assert.deepEqual(s?.swap, { usageBytes: 4194304n, availableBytes: 67108864n - 4194304n });
    const pod = await reader.read(POD);
    assert.equal(pod?.cpu?.psi, undefined, 'no pressure file (a kernel without PSI): none');
    assert.equal(pod?.swap, undefined);
  });

  it('a missing cgroup (container gone) reads as undefined', async () => {
    assert.equal(await reader.read(`${POD}:cri-berth:deadbeef`), undefined);
  });

  it('lists the PIDs of the pod cgroup and its children', async () => {
    assert.deepEqual(await reader.pids(POD), [4321, 4330]);
  });

  describe('CPU rate between samples', () => {
    let dir: string;
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });
    it('gives usage nano-cores from the change of usage_usec over wall time', async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-v2-'));
      await cp(TREE, dir, { recursive: true });
      const c = new StatsCollector(new CgroupV2Reader({ mountpoint: dir, root: '/' }));
      try {
        const first = await c.cgroup('ctr', CTR);
        assert.equal(first?.cpu?.usageNanoCores, undefined);
        const ctrDir = path.join(dir, `kubepods.slice/kubepods-burstable.slice/${POD}/cri-berth-${CTR_ID}.scope`);
        await new Promise((r) => setTimeout(r, 100));
        // 0.05 s more CPU time: at most 0.5 cores over ≥100 ms.
        await writeFile(path.join(ctrDir, 'cpu.stat'), 'usage_usec 2550000\nuser_usec 2040000\nsystem_usec 510000\n');
        const second = await c.cgroup('ctr', CTR);
        const rate = second!.cpu!.usageNanoCores!;
        const dt = second!.timestamp - first!.timestamp;
        assert.equal(rate, (50_000_000n * 1_000_000_000n) / dt);
        assert.ok(rate > 0n && rate <= 500_000_000n, `rate ${rate}`);
      } finally {
        c.close();
      }
    });
  });
});

describe('stats: cgroup v2 reader on this host\'s live cgroup2 mount', async () => {
  // A hybrid host mounts cgroup2 (no controllers) beside v1; cpu.stat exists in every v2 cgroup.
  const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(' - cgroup2 '));
  const mountpoint = line?.split(' ')[4];
  const skip = mountpoint ? false : 'no cgroup2 mount';
  const cg = `/berth-test-stats-v2-${process.pid}`;

  it('reads CPU time of a busy process from a real v2 cgroup, and finds its pid', { skip }, async () => {
    const reader = new CgroupV2Reader({ mountpoint: mountpoint!, root: '/' });
    await mkdir(`${mountpoint}${cg}`);
    const child = spawn('sh', ['-c', `echo $$ > ${mountpoint}${cg}/cgroup.procs && exec "$0" -e 'const t=Date.now();while(Date.now()-t<400){}'`, process.execPath], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 150));
      const a = await reader.read(cg);
      assert.ok(a?.cpu, 'cpu.stat read');
      assert.deepEqual(await reader.pids(cg), [child.pid]);
      await once(child, 'exit');
      const b = await reader.read(cg);
      assert.ok(b!.cpu!.usageCoreNanoSeconds > a.cpu.usageCoreNanoSeconds, `${a.cpu.usageCoreNanoSeconds} → ${b!.cpu!.usageCoreNanoSeconds}`);
      assert.ok(b!.cpu!.usageCoreNanoSeconds >= 200_000_000n, 'a 400 ms spin shows at least 200 ms of CPU');
      if (!(await readFile(`${mountpoint}${cg}/cgroup.controllers`, 'utf8')).includes('memory')) assert.equal(b!.memory, undefined);
      reader.files.close();
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      await rmdir(`${mountpoint}${cg}`);
    }
  });
});
