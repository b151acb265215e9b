import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { silentLogger } from '../log/log.js';
import { Broadcaster } from './broadcaster.js';

const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
async function metricValue(reg: Registry, name: string): Promise<number> {
  const m = await reg.getSingleMetric(name)!.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

describe('events: broadcaster', () => {
  it('delivers every event, in order, to every subscriber, never inside publish()', async () => {
    const b = new Broadcaster<number>({ name: 't', log: silentLogger() });
    const a: number[] = [];
    const c: number[] = [];
    b.subscribe({ write: (e) => void a.push(e) }, { name: 'a' });
    b.subscribe({ write: async (e) => { await tick(); c.push(e); } }, { name: 'c' });
    for (let i = 0; i < 100; i++) b.publish(i);
    assert.equal(a.length, 0, 'publish only queues');
    await until(() => a.length === 100 && c.length === 100);
    assert.deepEqual(a, [...Array(100).keys()]);
    assert.deepEqual(c, a);
  });

  it('drops a stalled subscriber when its queue fills; the publisher and the others go on', async () => {
    const reg = new Registry();
    const b = new Broadcaster<number>({ name: 'container', log: silentLogger(), registry: reg, queueSize: 10 });
    const fast: number[] = [];
    let dropReason = '';
    b.subscribe({ write: (e) => void fast.push(e) }, { name: 'fast' });
    let stalledWrites = 0;
    const stalled = b.subscribe({ write: () => { stalledWrites++; return new Promise<void>(() => undefined); } }, { name: 'stalled', onDrop: (r) => (dropReason = r) });
    b.publish(0);
    await tick(); // the stalled sink now holds event 0 forever
    // Bursts of 5 with the loop turning between them, as events come from a runtime.
    for (let i = 1; i <= 20_000; i += 5) {
      for (let j = i; j < i + 5; j++) b.publish(j);
      await tick();
    }
    // The stalled sink was handed event 0 and nothing more: no retries, no work per later publish.
    assert.equal(stalledWrites, 1);
    assert.match(dropReason, /queue of 10 events is full/);
    assert.equal(b.subscriberCount, 1);
    assert.equal(stalled.queued, 0);
    await until(() => fast.length === 20_001);
    assert.deepEqual(fast.slice(-2), [19_999, 20_000]);
    assert.equal(await metricValue(reg, 'berth_events_dropped_total'), 11, 'the 10 queued and the one that overflowed');
    assert.equal(await metricValue(reg, 'berth_event_subscribers_dropped_total'), 1);
    assert.equal(await metricValue(reg, 'berth_events_delivered_total'), 20_001);
    assert.equal(await metricValue(reg, 'berth_event_subscribers'), 1);
  });

  it('drops a subscriber whose sink has not taken an event for stallMs', async () => {
    const b = new Broadcaster<number>({ name: 't', log: silentLogger(), stallMs: 30 });
    let dropped = '';
    b.subscribe({ write: () => new Promise<void>(() => undefined) }, { name: 's', onDrop: (r) => (dropped = r) });
    b.publish(1);
    b.publish(2);
    await new Promise((r) => setTimeout(r, 60));
    b.publish(3);
    assert.match(dropped, /has not taken an event for \d+ ms/);
    assert.equal(b.subscriberCount, 0);
  });

  it('drops a subscriber whose sink throws; close() stops delivery quietly', async () => {
    const b = new Broadcaster<number>({ name: 't', log: silentLogger() });
    let dropped = '';
    b.subscribe({ write: () => { throw new Error('stream closed'); } }, { name: 'bad', onDrop: (r) => (dropped = r) });
    const got: number[] = [];
    const sub = b.subscribe({ write: (e) => void got.push(e) }, { name: 'ok' });
    b.publish(1);
    await until(() => dropped !== '' && got.length === 1);
    assert.match(dropped, /stream closed/);
    sub.close();
    b.publish(2);
    await tick();
    await tick();
    assert.deepEqual(got, [1]);
    assert.equal(b.subscriberCount, 0);
    assert.equal(b.dropped, 1);
  });

  it('two broadcasters share one registry (metrics by stream label)', () => {
    const reg = new Registry();
    new Broadcaster<number>({ name: 'a', log: silentLogger(), registry: reg });
    new Broadcaster<number>({ name: 'b', log: silentLogger(), registry: reg });
    assert.ok(reg.getSingleMetric('berth_events_delivered_total'));
  });
});
