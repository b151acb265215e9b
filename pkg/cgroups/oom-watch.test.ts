import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OomKillWatch, watchOomKills } from './oom-watch.js';

const EVENTS = (kills: number) => `low 0\nhigh 0\nmax 4\noom 2\noom_kill ${kills}\noom_group_kill 0\n`;

describe('cgroups: OOM kills seen as they happen', () => {
  let tmp: string;
  after(() => rm(tmp, { recursive: true, force: true }));

  it('notices each change of memory.events that counts more kills', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-oomw-'));
    const file = path.join(tmp, 'memory.events');
    await writeFile(file, EVENTS(0));
    const totals: number[] = [];
    const h = watchOomKills(file, (n) => totals.push(n));
    await h.settled();
    assert.deepEqual(totals, []);
    const seen = (n: number) => new Promise<void>((resolve) => {
      const t = setInterval(() => totals.length >= n && (clearInterval(t), resolve()), 5);
    });
    await writeFile(file, EVENTS(1));
    await seen(1);
    await writeFile(file, EVENTS(1).replace('max 4', 'max 5'));
    await writeFile(file, EVENTS(3));
    await seen(2);
    await h.settled();
    assert.deepEqual(totals, [1, 3], 'a change that counts no new kill is not reported');
    h.stop();
  });

  it('a kill before the watch began counts; a missing cgroup is no kill', async () => {
    const file = path.join(tmp, 'killed.events');
    await writeFile(file, EVENTS(3));
    const w = new OomKillWatch((cg) => (cg === 'gone' ? path.join(tmp, 'nope', 'memory.events') : cg === 'v1' ? undefined : file));
    await w.watch('a', 'x');
    await w.watch('b', 'gone');
    await w.watch('c', 'v1');
    assert.equal(await w.seen('a', false), true);
    assert.equal(await w.seen('b', true), false, 'no pod count to fall back on either');
    assert.equal(await w.seen('c', true), false);
    w.forget('a');
    assert.equal(await w.seen('a', true), false, 'forgotten');
    w.close();
  });

  // The VM's systemd driver: the kill's notification read raced systemd removing the scope.
  it('a SIGKILLed container whose cgroup is gone takes the kills its pod counted that no sibling explains', async () => {
    const pod = path.join(tmp, 'pod.slice');
    const cg = (name: string) => path.join(pod, `${name}.scope`);
    for (const n of ['victim', 'sibling', 'bystander', 'late']) await mkdir(cg(n), { recursive: true });
    await writeFile(path.join(pod, 'memory.events'), EVENTS(2)); // kills before these containers
    for (const n of ['victim', 'sibling', 'bystander']) await writeFile(path.join(cg(n), 'memory.events'), EVENTS(0));
    const w = new OomKillWatch((name) => path.join(cg(name), 'memory.events'));
    for (const n of ['victim', 'sibling', 'bystander']) await w.watch(n, n);

    // The sibling's own OOM kill (its cgroup stays: a child process was the victim).
    await writeFile(path.join(cg('sibling'), 'memory.events'), EVENTS(1));
    assert.equal(await w.seen('sibling', false), true, 'its own count');
    // The victim: three processes killed (memory.oom.group), then systemd removed its scope.
    await writeFile(path.join(pod, 'memory.events'), EVENTS(2 + 1 + 3));
    await rm(cg('victim'), { recursive: true });
    assert.equal(await w.seen('victim', false), false, 'not ended by SIGKILL: no claim');
    assert.equal(await w.seen('victim', true), true, 'the three unexplained kills are its');
    await rm(cg('bystander'), { recursive: true });
    assert.equal(await w.seen('bystander', true), false, 'claimed already: a SIGKILL by someone else is no OOM kill');
    // Watched after the kills: they are not its.
    await writeFile(path.join(cg('late'), 'memory.events'), EVENTS(0));
    await w.watch('late', 'late');
    await rm(cg('late'), { recursive: true });
    assert.equal(await w.seen('late', true), false);
    w.close();
  });
});
