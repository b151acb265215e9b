// Pod network counters from a real network namespace with a veth into it (names berth-sx*,
// subnet 10.204.0.0/16): read through a process inside it, and through nsenter when none is.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { NetnsStatsReader } from './network.js';

const run = promisify(execFile);
const NS = `berth-sxn${process.pid % 100000}`;
const HOST_IF = `berth-sxh${process.pid % 100000}`;
const NS_PATH = `/run/netns/${NS}`;
const SUB = 100 + (process.pid % 100);

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

async function blast(count: number, size: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  const buf = Buffer.alloc(size, 7);
  for (let i = 0; i < count; i++) {
    await new Promise<void>((res, rej) => sock.send(buf, 9, `10.204.${SUB}.2`, (e) => (e ? rej(e) : res())));
  }
  sock.close();
}

describe('stats: network counters of a pod namespace', () => {
  let sleeper: ChildProcess | undefined;
  const reader = new NetnsStatsReader({ helperCacheMs: 60_000 });

  before(async () => {
    await ip('netns', 'add', NS);
    await ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', `${HOST_IF}p`);
    await ip('link', 'set', `${HOST_IF}p`, 'netns', NS);
    await ip('-n', NS, 'link', 'set', `${HOST_IF}p`, 'name', 'eth0');
    await ip('-n', NS, 'addr', 'add', `10.204.${SUB}.2/30`, 'dev', 'eth0');
    await ip('-n', NS, 'link', 'set', 'eth0', 'up');
    await ip('-n', NS, 'link', 'set', 'lo', 'up');
    await ip('addr', 'add', `10.204.${SUB}.1/30`, 'dev', HOST_IF);
    await ip('link', 'set', HOST_IF, 'up');
    sleeper = spawn('ip', ['netns', 'exec', NS, 'sleep', '60'], { stdio: 'ignore' });
    // Wait until the child has entered the namespace (ip netns exec does setns then exec).
    for (let i = 0; i < 100; i++) {
      const { stdout } = await run('readlink', [`/proc/${sleeper.pid}/exe`]).catch(() => ({ stdout: '' }));
      if (stdout.includes('sleep')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  after(async () => {
    if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) {
      sleeper.kill('SIGKILL');
      await once(sleeper, 'exit');
    }
    await ip('link', 'del', HOST_IF).catch(() => undefined);
    await ip('netns', 'del', NS).catch(() => undefined);
  });

  it('reads /proc/<pid>/net/dev of a process in the namespace, and counters grow with traffic', async () => {
    const candidates = async () => [process.pid, sleeper!.pid!];
    const before = await reader.read(NS_PATH, candidates);
    assert.ok(before, 'stats present');
    assert.deepEqual(before.interfaces.map((i) => i.name), ['eth0'], 'loopback left out');
    assert.equal(reader.helperRuns, 0, 'no helper process when a process is in the namespace');
    await blast(200, 1000);
    const afterStats = await reader.read(NS_PATH, async () => []);
    assert.equal(reader.helperRuns, 0, 'the known pid is reused');
    const grew = afterStats!.interfaces[0]!.rxBytes - before.interfaces[0]!.rxBytes;
    assert.ok(grew >= 200n * 1000n, `rx grew by ${grew}`);
  });

  it('uses one cached nsenter reading when no process lives in the namespace', async () => {
    sleeper!.kill('SIGKILL');
    await once(sleeper!, 'exit');
    const host = await reader.read(NS_PATH, async () => [process.pid]);
    assert.equal(reader.helperRuns, 1);
    assert.deepEqual(host?.interfaces.map((i) => i.name), ['eth0']);
    assert.ok(host!.interfaces[0]!.rxBytes >= 200n * 1000n);
    await reader.read(NS_PATH, async () => []);
    assert.equal(reader.helperRuns, 1, 'cached');
  });

  it('refreshes a stale nsenter reading in the background, answering with the last one', async () => {
    const r = new NetnsStatsReader({ helperCacheMs: 0 });
    const a = await r.read(NS_PATH, async () => []);
    assert.equal(r.helperRuns, 1, 'the first reading waits for the helper');
    await blast(100, 1000);
    const b = await r.read(NS_PATH, async () => []);
    assert.equal(r.helperRuns, 2, 'a refresh started');
    assert.equal(b, a, 'answered at once with the previous reading');
    let c = b;
    for (let i = 0; i < 200 && c === a; i++) {
      await new Promise((res) => setTimeout(res, 10));
      c = await r.read(NS_PATH, async () => []);
    }
    assert.ok(c!.interfaces[0]!.rxBytes >= a!.interfaces[0]!.rxBytes + 100_000n, 'the refreshed reading shows the traffic');
  });

  it('a namespace that is gone reads as undefined', async () => {
    assert.equal(await reader.read('/run/netns/berth-sx-none', async () => []), undefined);
  });
});
