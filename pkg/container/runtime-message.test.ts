import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeMessage } from './service.js';

describe('containers: runtime error messages', () => {
  it('keeps the msg of runc\'s error line, not of a warning before it', () => {
    const err = new Error('runc create: time="2026-11-30T05:39:53Z" level=warning msg="skipping device /dev/char/10:200 for systemd: stat /sys/dev/char/10:200: no such file or directory"\n'
      + 'time="2026-11-30T05:39:54Z" level=error msg="runc create failed: unable to start container process: exec: \\"/no/such/binary\\": stat /no/such/binary: no such file or directory"');
    assert.equal(runtimeMessage(err), 'runc create: runc create failed: unable to start container process: exec: "/no/such/binary": stat /no/such/binary: no such file or directory');
  });

  it('without an error line, the first msg; without logrus format, the whole message', () => {
    assert.equal(runtimeMessage(new Error('runc start: time="x" level=warning msg="only a warning"')), 'runc start: only a warning');
    assert.equal(runtimeMessage(new Error('conmon: exited 1')), 'conmon: exited 1');
  });
});
