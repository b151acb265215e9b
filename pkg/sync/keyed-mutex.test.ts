import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedMutex } from './keyed-mutex.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedMutex', () => {
  it('runs work on one key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const job = (name: string) => m.run('k', async () => {
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
    });
    await Promise.all([job('a'), job('b'), job('c')]);
    assert.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  });

  it('runs different keys in parallel', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    await Promise.all(['x', 'y'].map((k) => m.run(k, async () => {
      log.push(`${k}+`);
      await tick();
      log.push(`${k}-`);
    })));
    assert.deepEqual(log, ['x+', 'y+', 'x-', 'y-']);
  });

  it('releases the key when the work throws', async () => {
    const m = new KeyedMutex();
    await assert.rejects(m.run('k', async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await m.run('k', async () => 7), 7);
  });
});

describe('KeyedMutex shared holders', () => {
  const gate = () => {
    let open!: () => void;
    const p = new Promise<void>((r) => (open = r));
    return { p, open };
  };

  it('shared holders run together; an exclusive one waits for all of them', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const g = gate();
    const r1 = m.runShared('pod', async () => { log.push('r1+'); await g.p; log.push('r1-'); });
    const r2 = m.runShared('pod', async () => { log.push('r2+'); await g.p; log.push('r2-'); });
    const w = m.run('pod', async () => { log.push('w'); });
    await tick();
    assert.deepEqual(log, ['r1+', 'r2+'], 'both shared holders in, the exclusive one waits');
    g.open();
    await Promise.all([r1, r2, w]);
    assert.deepEqual(log.slice(-1), ['w']);
    assert.equal(m.busy('pod'), false);
  });

  it('a shared call behind a waiting exclusive one waits for it (no starvation), in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const g = gate();
    const r1 = m.runShared('pod', async () => { log.push('r1'); await g.p; });
    const w = m.run('pod', async () => { log.push('w+'); await tick(); log.push('w-'); });
    const r2 = m.runShared('pod', async () => { log.push('r2'); });
    await tick();
    assert.deepEqual(log, ['r1']);
    g.open();
    await Promise.all([r1, w, r2]);
    assert.deepEqual(log, ['r1', 'w+', 'w-', 'r2']);
  });

  it('an exclusive holder keeps shared ones out until it is done, even when it throws', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const w = m.run('pod', async () => { await tick(); log.push('w'); throw new Error('stop failed'); });
    const r = m.runShared('pod', async () => { log.push('r'); });
    await assert.rejects(w, /stop failed/);
    await r;
    assert.deepEqual(log, ['w', 'r']);
  });
});
