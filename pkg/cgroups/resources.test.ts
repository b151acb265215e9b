import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../errors/errors.js';
import { detectLayout, type CgroupLayout } from './layout.js';
import { applyResources, cpuMax, oomKillCount, sharesToWeight, swapMax, v1Writes, v2Writes, type CgroupResources } from './resources.js';

const ALL: CgroupResources = {
  cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '0-1', mems: '0' },
  memory: { limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20 },
  pids: { limit: 100 },
  hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
  blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }] },
};

describe('cgroups: resource writes', () => {
  it('v2: every resource in its file, converted as runc does', () => {
    const w = v2Writes({ ...ALL, unified: { 'memory.high': '200M', 'memory.oom.group': '1' } }).map((x) => `${x.file}=${x.value}`);
    assert.deepEqual(w, [
      'cpu.weight=20', 'cpu.max=50000 100000', 'cpuset.cpus=0-1', 'cpuset.mems=0',
      `memory.max=${256 << 20}`, `memory.low=${128 << 20}`, `memory.swap.max=${256 << 20}`, 'pids.max=100',
      `hugetlb.2MB.max=${4 << 20}`, 'io.weight=default 300', 'io.max=8:0 rbps=1048576', 'io.max=8:0 wiops=100',
      'memory.high=200M', 'memory.oom.group=1',
    ]);
  });

  it('v1: the per-controller files, the period before the quota', () => {
    const w = v1Writes(ALL).map((x) => `${x.controller}:${x.file}=${x.value}`);
    assert.deepEqual(w, [
      'cpu:cpu.shares=512', 'cpu:cpu.cfs_period_us=100000', 'cpu:cpu.cfs_quota_us=50000', 'cpuset:cpuset.cpus=0-1', 'cpuset:cpuset.mems=0',
      `memory:memory.limit_in_bytes=${256 << 20}`, `memory:memory.soft_limit_in_bytes=${128 << 20}`, `memory:memory.memsw.limit_in_bytes=${512 << 20}`,
      'pids:pids.max=100', `hugetlb:hugetlb.2MB.limit_in_bytes=${4 << 20}`, 'blkio:blkio.weight=300',
      'blkio:blkio.throttle.read_bps_device=8:0 1048576', 'blkio:blkio.throttle.write_iops_device=8:0 100',
    ]);
  });

  it('conversions: shares → weight, cpu.max, swap', () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(262144), 10000);
    assert.equal(cpuMax(undefined, undefined), undefined);
    assert.equal(cpuMax(-1, 100000), 'max 100000');
    assert.equal(cpuMax(20000, undefined), '20000');
    assert.equal(swapMax(-1, 100), 'max');
    assert.equal(swapMax(300, 100), '200');
    assert.throws(() => swapMax(300, undefined), /needs a memory limit/);
    assert.throws(() => swapMax(50, 100), /below the memory limit/);
    assert.deepEqual(v2Writes({ memory: { limit: -1 }, pids: { limit: 0 } }).map((x) => x.value), ['max', 'max']);
  });

  it('unified: v1 refuses it, v2 refuses a name that is not a cgroup file', () => {
    assert.throws(() => v1Writes({ unified: { 'memory.high': '1' } }), (e: Error) => e instanceof InvalidArgumentError && /need cgroup v2/.test(e.message));
    assert.throws(() => v2Writes({ unified: { '../../etc/passwd': 'x' } }), InvalidArgumentError);
  });
});

describe('cgroups: applying and reading on a fake v2 tree', () => {
  let tmp: string;
  after(() => rm(tmp, { recursive: true, force: true }));

  it('creates the cgroup when asked and writes each file; reads oom_kill from memory.events', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-cg-'));
    const layout: CgroupLayout = { version: 2, unified: { mountpoint: tmp, root: '/' } };
    await applyResources(layout, 'pods.slice:berth:x', { cpu: { shares: 1024, quota: 10_000, period: 100_000 }, unified: { 'memory.high': '1G' } }, { create: true });
    const dir = path.join(tmp, 'pods.slice', 'berth-x.scope');
    assert.equal(await readFile(path.join(dir, 'cpu.weight'), 'utf8'), '39');
    assert.equal(await readFile(path.join(dir, 'cpu.max'), 'utf8'), '10000 100000');
    assert.equal(await readFile(path.join(dir, 'memory.high'), 'utf8'), '1G');
    assert.equal(await oomKillCount(layout, 'pods.slice:berth:x'), 0, 'no memory.events: none');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n');
    assert.equal(await oomKillCount(layout, 'pods.slice:berth:x'), 1);
  });

  it('a missing cgroup is an error naming the file when not created', async () => {
    const layout: CgroupLayout = { version: 2, unified: { mountpoint: tmp, root: '/' } };
    await assert.rejects(applyResources(layout, '/nope', { pids: { limit: 5 } }), /cgroup \/nope: write pids.max = "5"/);
  });
});

describe('cgroups: applying on this host\'s real v1 hierarchies', async () => {
  const layout = await detectLayout();
  const skip = layout?.version !== 1 || !layout.controllers.memory || !layout.controllers.cpu ? 'host has no cgroup v1 cpu and memory' : false;
  const cg = `/berth-test-cgroups-${process.pid}`;
  after(async () => {
    if (layout?.version !== 1) return;
    for (const m of Object.values(layout.controllers)) await rmdir(path.join(m.mountpoint, cg)).catch(() => undefined);
  });

  it('cpu, memory and pids limits land in the kernel; a raised memory limit too', { skip }, async () => {
    if (layout?.version !== 1) return;
    await applyResources(layout, cg, { cpu: { shares: 256, quota: 20_000, period: 100_000 }, memory: { limit: 64 << 20 }, pids: { limit: 42 } }, { create: true });
    const read = (c: 'cpu' | 'memory' | 'pids', f: string) => readFile(path.join(layout.controllers[c]!.mountpoint, cg, f), 'utf8').then((s) => s.trim());
    assert.equal(await read('cpu', 'cpu.shares'), '256');
    assert.equal(await read('cpu', 'cpu.cfs_quota_us'), '20000');
    assert.equal(await read('memory', 'memory.limit_in_bytes'), String(64 << 20));
    if (layout.controllers.pids) assert.equal(await read('pids', 'pids.max'), '42');
    // Raise memory above the current limit: written directly.
    await applyResources(layout, cg, { memory: { limit: 128 << 20 } });
    assert.equal(await read('memory', 'memory.limit_in_bytes'), String(128 << 20));
    assert.equal(await oomKillCount(layout, cg), 0);
  });
});
