import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signalLost, signalDisposition } from './deliver.js';

// /proc/<pid>/status of busybox `top` as PID 1 of a PID namespace (handlers for HUP INT QUIT ABRT
// USR1 USR2 PIPE ALRM TERM …), trimmed to the lines that matter.
const TOP = 'Name:\tbusybox\nNSpid:\t25613\t1\nSigQ:\t0/7823\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n'
  + 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000003807a27\n';
const status = (over: Record<string, string>): string =>
  Object.entries(over).reduce((s, [k, v]) => s.replace(new RegExp(`^${k}:.*$`, 'm'), `${k}:\t${v}`), TOP);

describe('stop signal delivery', () => {
  it('reads the masks and whether the process is a PID namespace init', () => {
    assert.deepEqual(signalDisposition(TOP, 15), { pidNsInit: true, runtimeInit: false, caught: true, blocked: false, ignored: false });
    assert.deepEqual(signalDisposition(TOP, 4), { pidNsInit: true, runtimeInit: false, caught: false, blocked: false, ignored: false });
    assert.equal(signalDisposition(status({ NSpid: '4242' }), 15).pidNsInit, false, 'host PID namespace');
    assert.equal(signalDisposition(status({ NSpid: '4242\t17' }), 15).pidNsInit, false, 'not PID 1 (a shared pod PID namespace)');
    assert.equal(signalDisposition(status({ SigBlk: '0000000000004000' }), 15).blocked, true);
    assert.equal(signalDisposition(status({ SigIgn: '0000000000004000' }), 15).ignored, true);
    assert.equal(signalDisposition(status({ SigCgt: '8000000000000000' }), 64).caught, true, 'SIGRTMAX is the top bit');
  });

  it('the kernel drops a signal only at a PID namespace init that neither handles, blocks nor ignores it', () => {
    const fresh = status({ SigCgt: '0000000000000000' }); // just exec'd: every handler reset
    assert.equal(signalLost(signalDisposition(fresh, 15), 15), true);
    assert.equal(signalLost(signalDisposition(fresh, 9), 9), false, 'SIGKILL is forced');
    assert.equal(signalLost(signalDisposition(fresh, 19), 19), false, 'SIGSTOP is forced');
    assert.equal(signalLost(signalDisposition(TOP, 15), 15), false, 'handled');
    assert.equal(signalLost(signalDisposition(status({ SigCgt: '0', SigBlk: '0000000000004000' }), 15), 15), false, 'blocked: sigwait picks it up');
    assert.equal(signalLost(signalDisposition(status({ SigCgt: '0', NSpid: '99' }), 15), 15), false, 'not an init: default action applies');
  });

  it("a signal to runc's init, which still holds the pid right after runc start, counts as lost until it has exec'd", () => {
    // Its Go runtime handles every signal; the exec can swallow one it is handling.
    const init = status({ Name: 'runc:[2:INIT]', SigCgt: 'fffffffe7fc1feff' });
    assert.equal(signalDisposition(init, 15).runtimeInit, true);
    assert.equal(signalLost(signalDisposition(init, 15), 15), true);
    assert.equal(signalLost(signalDisposition(init, 9), 9), false, 'SIGKILL still goes');
    assert.equal(signalLost(signalDisposition(TOP, 15), 15), false, "the container's own process");
  });
});
