import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OomKillWatch, watchOomKills } from './oom-watch.js';

const EVENTS = (kills: number) => `low 0\nhigh 0\nmax 4\noom 2\noom_kill ${kills}\noom_group_kill 0\n`;

describe('cgroups: OOM kills seen as they happen', () => {
  let tmp: string;
  after(() => rm(tmp, { recursive: true, force: true }));

  it('notices a change of memory.events that counts a kill, once', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-oomw-'));
    const file = path.join(tmp, 'memory.events');
    await writeFile(file, EVENTS(0));
    let kills = 0;
    const h = watchOomKills(file, () => kills++);
    await h.settled();
    assert.equal(kills, 0);
    const seen = new Promise<void>((resolve) => {
      const t = setInterval(() => kills && (clearInterval(t), resolve()), 5);
    });
    await writeFile(file, EVENTS(1));
    await seen;
    await writeFile(file, EVENTS(2));
    await h.settled();
    assert.equal(kills, 1, 'reported once, then the watch stops');
    h.stop();
  });

  it('a kill before the watch began counts; a missing cgroup is no kill', async () => {
    const file = path.join(tmp, 'killed.events');
    await writeFile(file, EVENTS(3));
    const w = new OomKillWatch((cg) => (cg === 'gone' ? path.join(tmp, 'nope', 'memory.events') : cg === 'v1' ? undefined : file));
    w.watch('a', 'x');
    w.watch('b', 'gone');
    w.watch('c', 'v1');
    assert.equal(await w.seen('a'), true);
    assert.equal(await w.seen('b'), false);
    assert.equal(await w.seen('c'), false);
    w.forget('a');
    assert.equal(await w.seen('a'), false, 'forgotten');
    w.close();
  });
});
