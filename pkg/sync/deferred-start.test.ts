import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { DeferredStart } from './deferred-start.js';

test('a scheduled start waits for its delay; a get before then starts it at once, and it runs once', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let runs = 0;
    const d = new DeferredStart(async () => ++runs);
    d.schedule(1000);
    mock.timers.tick(999);
    assert.equal(runs, 0);
    assert.equal(await d.get(), 1);
    mock.timers.tick(1);
    assert.equal(runs, 1);
    assert.equal(await d.get(), 1);
  } finally {
    mock.timers.reset();
  }
});

test('with no caller the work starts at the delay; cancel drops a pending start', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let runs = 0;
    const a = new DeferredStart(async () => ++runs);
    a.schedule(1000);
    mock.timers.tick(1000);
    assert.equal(runs, 1);
    const b = new DeferredStart(async () => ++runs);
    b.schedule(1000);
    b.cancel();
    mock.timers.tick(5000);
    assert.equal(runs, 1);
  } finally {
    mock.timers.reset();
  }
});

test('a failed start is not an unhandled rejection of the timer; a later get sees the failure', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const d = new DeferredStart(async () => {
      throw new Error('probe failed');
    });
    const seen: unknown[] = [];
    d.schedule(10, (err) => seen.push(err));
    mock.timers.tick(10);
    await assert.rejects(d.get(), /probe failed/);
    assert.match(String(seen[0]), /probe failed/);
  } finally {
    mock.timers.reset();
  }
});
