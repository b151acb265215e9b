import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CallAbort, DEFAULT_BUDGET_MS, MAX_DETAILS, boundDetails, callBudgetMs, callLogFields, requestId } from './call.js';

describe('call policy', () => {
  it('request id: a sane client token is kept, anything else replaced by 16 hex digits', () => {
    assert.equal(requestId('kubelet-123.a:b'), 'kubelet-123.a:b');
    for (const bad of [undefined, '', 'a b', 'x'.repeat(65), 'line\nbreak', Buffer.from('abc')]) assert.match(requestId(bad), /^[0-9a-f]{16}$/);
    const fresh = new Set(Array.from({ length: 1000 }, () => requestId(undefined)));
    assert.equal(fresh.size, 1000, 'fresh ids are distinct');
  });

  it('log fields name the pod and container of the request', () => {
    assert.deepEqual(callLogFields('r1', 'StartContainer', { container_id: 'c1' }), { req: 'r1', method: 'StartContainer', container: 'c1' });
    assert.deepEqual(callLogFields('r1', 'CreateContainer', { pod_sandbox_id: 's1', config: {} }), { req: 'r1', method: 'CreateContainer', sandbox: 's1' });
    assert.deepEqual(callLogFields('r1', 'Version', null), { req: 'r1', method: 'Version' });
  });

  it('budgets: default, none for pulls and untimed execs, the timeout plus the default otherwise', () => {
    assert.equal(callBudgetMs('RunPodSandbox', {}), DEFAULT_BUDGET_MS);
    assert.equal(callBudgetMs('PullImage', {}), undefined);
    assert.equal(callBudgetMs('ExecSync', { timeout: '0' }), undefined);
    assert.equal(callBudgetMs('ExecSync', { timeout: '-1' }), undefined);
    assert.equal(callBudgetMs('ExecSync', { timeout: '10' }), 10_000 + DEFAULT_BUDGET_MS);
    assert.equal(callBudgetMs('StopContainer', { timeout: '30' }), 30_000 + DEFAULT_BUDGET_MS);
    // int64 max, or 2^31 ms and a bit, stay timers Node can hold (past it a timer fires at once)
    assert.equal(callBudgetMs('StopContainer', { timeout: '9223372036854775807' }), 2 ** 31 - 1);
    assert.equal(callBudgetMs('ExecSync', { timeout: 2_147_484 }), 2 ** 31 - 1);
  });

  it('error details are cut to MAX_DETAILS, saying so', () => {
    assert.equal(boundDetails('short'), 'short');
    const cut = boundDetails(`pod "${'a'.repeat(100_000)}" not found`);
    assert.ok(cut.length <= MAX_DETAILS);
    assert.match(cut, /^pod "a+ … \(99\d\d\d more characters cut\)$/);
    assert.equal(Number(/\((\d+) more/.exec(cut)![1]) + cut.indexOf(' … ('), 100_016);
  });

  it('the abort signal of a call: aborted when first read after the abort, and an abort reaches a signal already read', () => {
    const late = new CallAbort();
    const cancelled = new Error('cancelled');
    late.abort(cancelled);
    late.abort(new Error('second'));
    assert.equal(late.signal.aborted, true);
    assert.equal(late.signal.reason, cancelled, 'the first reason stays');

    const early = new CallAbort();
    const signal = early.signal;
    let heard: unknown;
    signal.addEventListener('abort', () => (heard = signal.reason));
    assert.equal(signal.aborted, false);
    const deadline = new Error('deadline');
    early.abort(deadline);
    assert.equal(heard, deadline);
    assert.equal(early.signal, signal, 'one signal per call');
  });
});
