// Start-up cleanup of what a RunPodSandbox cut by a crash left (no record): real pins and a shm
// mount, a fake pod network whose DEL fails once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../log/log.js';
import { mount } from '../sys/mount.js';
import { leftovers, type ManagersEnv, startManagers } from '../testing/managers.js';
import { pinNamespaces } from './namespaces.js';
import { recoverSandboxes } from './recover.js';

describe('sandbox recovery: remains with no record', () => {
  let env: ManagersEnv;
  before(async () => {
    env = await startManagers();
  });
  after(async () => {
    await env.close();
  });

  it('a failing CNI DEL does not stop the other steps; the directory waits for the retry at the next start', async () => {
    const empty = await leftovers(env);
    const id = 'e'.repeat(64);
    const dir = path.join(env.config.state, 'sandboxes', id);
    await pinNamespaces({ nsDir: path.join(env.config.state, 'ns'), id, kinds: ['net', 'ipc', 'uts'], sysctls: {} });
    await mkdir(path.join(dir, 'shm'), { recursive: true });
    mount('shm', path.join(dir, 'shm'), 'tmpfs', 0, 'size=64k');
    env.network.attached.set(id, { id, ip: '10.99.0.250' } as never);
    env.network.faults.fail('DEL', 1, 'failpoint: DEL failed');

    await recoverSandboxes(env.sandboxes, env.network, silentLogger());
    const after1 = await leftovers(env);
    assert.deepEqual(after1.pins, empty.pins, 'pins removed although DEL failed');
    assert.deepEqual(after1.mounts, empty.mounts, 'shm unmounted although DEL failed');
    assert.deepEqual(after1.attachments, [id], 'the attachment DEL could not remove is still there');
    assert.ok(existsSync(dir), 'the directory is kept for the retry');

    await recoverSandboxes(env.sandboxes, env.network, silentLogger());
    assert.deepEqual(await leftovers(env), empty, 'the next start finishes the job');
  });
});
