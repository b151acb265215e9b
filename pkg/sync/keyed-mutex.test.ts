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
