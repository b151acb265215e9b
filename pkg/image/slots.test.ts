import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { DownloadSlots } from './slots.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('DownloadSlots', () => {
  it('grants at most the limit at once, first come first served, and a release is counted once', async () => {
    const slots = new DownloadSlots(2);
    const order: string[] = [];
    const take = (name: string) => slots.acquire().then((release) => (order.push(name), release));
    const a = await take('a');
    const b = await take('b');
    const c = take('c');
    const d = take('d');
    await tick();
    assert.deepEqual(order, ['a', 'b'], 'c and d wait');
    a();
    a();
    const rc = await c;
    await tick();
    assert.deepEqual(order, ['a', 'b', 'c'], 'a second release of one slot does not let d in');
    b();
    const rd = await d;
    rc();
    rd();
    assert.equal(slots.available, 2);
  });

  it('an aborted waiter leaves the queue without taking a slot', async () => {
    const slots = new DownloadSlots(1);
    const held = await slots.acquire();
    const ctrl = new AbortController();
    const waiting = slots.acquire(ctrl.signal);
    ctrl.abort(new Error('pull cancelled'));
    await assert.rejects(waiting, /pull cancelled/);
    held();
    assert.equal(slots.available, 1);
  });

  it('gate holds a slot from the request until the body stream closes, and frees it when the request fails', async () => {
    const slots = new DownloadSlots(1);
    const body = new PassThrough();
    const open = slots.gate(async () => ({ stream: body, resumed: false }));
    const ctrl = new AbortController();
    await open(0, ctrl.signal);
    assert.equal(slots.available, 0, 'held while the body streams');
    body.end();
    body.resume();
    await new Promise((r) => body.once('close', r));
    assert.equal(slots.available, 1, 'given back when the body closed');
    const failing = slots.gate(async () => {
      throw new Error('connection refused');
    });
    await assert.rejects(failing(0, ctrl.signal), /connection refused/);
    assert.equal(slots.available, 1);
  });
});
