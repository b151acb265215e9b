import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS } from '../container/timeouts.js';
import { Deadlines } from './deadlines.js';

/** `p`, with the process kept alive meanwhile: the deadlines' timer is unref'd. */
async function held<T>(p: Promise<T>): Promise<T> {
  const hold = setInterval(() => undefined, 60_000);
  try {
    return await p;
  } finally {
    clearInterval(hold);
  }
}

/** Resolves with the order in which the named deadlines fired, once `last` has. */
function firing(d: Deadlines, plan: [string, number][], cancel: string[], last: string): Promise<string[]> {
  const fired: string[] = [];
  return held(new Promise((resolve) => {
    const made = new Map(plan.map(([name, ms]) => [name, d.add(ms, () => {
      fired.push(name);
      if (name === last) resolve(fired);
    })]));
    for (const name of cancel) d.cancel(made.get(name));
  }));
}

describe('Deadlines', () => {
  it('fires each deadline in time order, and never one that was cancelled', async () => {
    const d = new Deadlines();
    // The first added is the latest: each earlier one must re-arm the shared timer.
    const order = await firing(d, [['c', 60], ['b', 40], ['x', 30], ['a', 5]], ['x'], 'c');
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(d.size, 0);
  });

  it('fires a deadline whose earlier neighbour, the one the timer waited for, was cancelled', async () => {
    const d = new Deadlines();
    assert.deepEqual(await firing(d, [['early', 5], ['late', 25]], ['early'], 'late'), ['late']);
  });

  it('deadlines added from a firing one are kept', async () => {
    const d = new Deadlines();
    const order: string[] = [];
    await held(new Promise<void>((resolve) => {
      d.add(5, () => {
        order.push('first');
        d.add(5, () => {
          order.push('second');
          resolve();
        });
      });
    }));
    assert.deepEqual(order, ['first', 'second']);
  });

  it('never asks node for a timer over 2^31-1 ms (node would fire it at once)', (t) => {
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    t.mock.method(globalThis, 'setTimeout', ((fn: () => void, ms: number) => {
      delays.push(ms);
      return real(fn, ms);
    }) as typeof setTimeout);
    const d = new Deadlines();
    const far = d.add(30 * 24 * 3_600_000, () => assert.fail('a 30-day deadline fired'));
    d.cancel(far);
    assert.equal(delays.length, 1);
    assert.ok(delays[0]! <= MAX_TIMER_MS, `asked for ${delays[0]} ms`);
    mock.restoreAll();
  });
});
