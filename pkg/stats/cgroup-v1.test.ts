// cgroup v1 reader against this VM's real hierarchies: a test cgroup with a busy child that
// holds 32 MiB of anonymous memory, read as a container and through its parent as a pod.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rmdir } from 'node:fs/promises';
import { once } from 'node:events';
import { StatsCollector, readerFor } from './collector.js';
import { detectLayout as detectCgroups } from '../cgroups/index.js';

const CTLS = ['cpuacct', 'memory', 'pids'] as const;
const POD = `/berth-test-stats-${process.pid}`;
const CTR = `${POD}/ctr`;

describe('stats: cgroup v1 reader on this host', async () => {
  const layout = await detectCgroups();
  const skip = layout?.version !== 1 ? 'host has no cgroup v1 controllers' : false;
  let child: ChildProcess | undefined;
  let collector: StatsCollector;

  before(async () => {
    if (skip || layout?.version !== 1) return;
    collector = new StatsCollector(readerFor(layout));
    const dirs = CTLS.map((c) => `${layout.controllers[c]!.mountpoint}${CTR}`);
    for (const d of dirs) await mkdir(d, { recursive: true });
    // Join the cgroups before exec, so the child's memory is charged to the test cgroup.
    const join = dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ');
    const prog = 'const b=Buffer.alloc(32<<20,1);process.stdout.write("ready\\n");const t=Date.now();while(Date.now()-t<20000){b[0]++}';
    child = spawn('sh', ['-c', `${join} && exec "$0" -e '${prog}'`, process.execPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    assert.match(chunk.toString(), /ready/);
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    if (layout?.version !== 1) return;
    for (const c of CTLS) {
      for (const p of [CTR, POD]) await rmdir(`${layout.controllers[c]!.mountpoint}${p}`).catch(() => undefined);
    }
    collector?.close();
  });

  it('reads CPU, memory and process count of a busy cgroup, and a rising CPU rate', { skip }, async () => {
    const first = await collector.cgroup('ctr', CTR);
    assert.ok(first?.cpu && first.memory, 'stats present');
    assert.ok(first.cpu.usageCoreNanoSeconds > 0n);
    assert.ok(first.memory.rssBytes >= 32n << 20n, `rss ${first.memory.rssBytes}`);
    assert.ok(first.memory.workingSetBytes >= 32n << 20n, `working set ${first.memory.workingSetBytes}`);
    assert.ok(first.memory.workingSetBytes <= first.memory.usageBytes);
    assert.ok(first.memory.pageFaults > 0n);
    assert.equal(first.memory.limitBytes, undefined, 'no limit set');
    // pids.current counts tasks: node's threads too, as containerd and CRI-O report it.
    assert.ok(first.processes! >= 1n, `tasks ${first.processes}`);
    await new Promise((r) => setTimeout(r, 300));
    const second = await collector.cgroup('ctr', CTR);
    assert.ok(second!.cpu!.usageCoreNanoSeconds > first.cpu.usageCoreNanoSeconds, 'usage rises');
    // A spinning process on a shared 2-core VM: well above a tenth of a core.
    const rate = second!.cpu!.usageNanoCores!;
    assert.ok(rate > 100_000_000n && rate < 2_100_000_000n, `nano-cores ${rate}`);
  });

  it('reads the parent (pod) cgroup as the aggregate of its children', { skip }, async () => {
    // The child first, then the parent: the parent's usage includes the child's and only grows, so
    // it reads at least the child's. Read together, the parent's file could be read first and a
    // loaded host could let the spinning child run tens of ms before its own file was read.
    const ctr = await collector.cgroup('ctr2', CTR);
    const pod = await collector.cgroup('pod', POD);
    assert.ok(pod?.cpu && pod.memory && ctr?.cpu && ctr.memory);
    assert.ok(pod.cpu.usageCoreNanoSeconds >= ctr.cpu.usageCoreNanoSeconds, `pod ${pod.cpu.usageCoreNanoSeconds} < container ${ctr.cpu.usageCoreNanoSeconds}`);
    assert.ok(pod.memory.rssBytes >= 32n << 20n);
    assert.ok(pod.processes! >= 1n);
    assert.deepEqual(await collector.reader.pids(POD), [child!.pid]);
  });

  it('reads a memory limit and the available bytes', { skip }, async () => {
    if (layout?.version !== 1) return;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${layout.controllers.memory!.mountpoint}${POD}/memory.limit_in_bytes`, String(512 << 20));
    const pod = await collector.reader.read(POD);
    assert.equal(pod?.memory?.limitBytes, 512n << 20n);
    assert.equal(pod?.memory?.availableBytes, (512n << 20n) - pod!.memory!.workingSetBytes);
  });

  it('a cgroup removed while its files are kept open can be removed, and then reads as undefined', { skip }, async () => {
    if (layout?.version !== 1) return;
    const extra = `${POD}/gone`;
    for (const c of CTLS) await mkdir(`${layout.controllers[c]!.mountpoint}${extra}`);
    assert.ok(await collector.reader.read(extra), 'read once: files now open');
    for (const c of CTLS) await rmdir(`${layout.controllers[c]!.mountpoint}${extra}`);
    assert.equal(await collector.reader.read(extra), undefined);
  });

  it('a cgroup that does not exist reads as undefined', { skip }, async () => {
    assert.equal(await collector.reader.read(`${POD}/nope`), undefined);
  });
});
