import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import koffi from 'koffi';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sdNotify, sockaddrUn, takeNotifySocket } from './notify.js';

describe('sys: sd_notify', () => {
  let tmp: string;
  after(() => rm(tmp, { recursive: true, force: true }));

  it('builds sockaddr_un for a path and for the abstract namespace', () => {
    assert.deepEqual([...sockaddrUn('/run/x')], [1, 0, ...Buffer.from('/run/x'), 0]);
    assert.deepEqual([...sockaddrUn('@sd')], [1, 0, 0, ...Buffer.from('sd')]);
    assert.throws(() => sockaddrUn(`/${'x'.repeat(200)}`), /too long/);
  });

  it('without NOTIFY_SOCKET does nothing', () => {
    assert.equal(sdNotify('READY=1', ''), false);
    assert.equal(sdNotify('READY=1', undefined), false);
  });

  it('takes NOTIFY_SOCKET out of the environment, so children (runc) never see it', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/bin' };
    assert.equal(takeNotifySocket(env), '/run/systemd/notify');
    assert.deepEqual(env, { PATH: '/bin' });
    assert.equal(takeNotifySocket(env), undefined);
  });

  it('delivers one datagram to a bound unix socket', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-notify-'));
    const sock = path.join(tmp, 'notify');
    // The receiving end, as systemd holds it: a bound SOCK_DGRAM socket, read without blocking.
    const libc = koffi.load('libc.so.6');
    const socket = libc.func('int socket(int, int, int)');
    const bind = libc.func('int bind(int, const void *, uint32_t)');
    const recv = libc.func('long recv(int, void *, size_t, int)');
    const close = libc.func('int close(int)');
    const fd = socket(1, 2, 0) as number;
    const addr = sockaddrUn(sock);
    assert.equal(bind(fd, addr, addr.length), 0);
    try {
      assert.equal(sdNotify('READY=1\nSTATUS=serving', sock), true);
      const buf = Buffer.alloc(100);
      const n = recv(fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */) as number;
      assert.equal(buf.subarray(0, n).toString(), 'READY=1\nSTATUS=serving');
    } finally {
      close(fd);
    }
    const missing = sdNotify('READY=1', path.join(tmp, 'nobody'));
    assert.ok(missing instanceof Error && /sendto/.test(missing.message));
  });
});
