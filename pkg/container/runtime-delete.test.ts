// The runtime's delete: the exit path's (background) delete runs at the lowest CPU priority, a
// delete someone waits for at the daemon's own. A shell script stands in for runc and writes the
// niceness it ran at and its arguments.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeDriver } from './runtime.js';

describe('RuntimeDriver.delete', () => {
  let tmp: string;
  let log: string;
  let driver: RuntimeDriver;
  const handler = (): { name: string; path: string; root: string } => ({ name: 'fake', path: path.join(tmp, 'fake-runc'), root: path.join(tmp, 'root') });

  before(async () => {
    tmp = await mkdtemp('/tmp/berth-rtdel-unit-');
    log = path.join(tmp, 'calls');
    await writeFile(path.join(tmp, 'fake-runc'), `#!/bin/sh\necho "$(nice) $*" >> ${log}\n`);
    await chmod(path.join(tmp, 'fake-runc'), 0o755);
    driver = new RuntimeDriver({ conmon: '/bin/false', exitDir: tmp, socketDir: tmp, logLevel: 'error', createTimeoutMs: 1000 });
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('runs a background delete under nice 19 and a waited-for one at the daemon\'s niceness', async () => {
    await driver.delete(handler(), 'c1', { background: true });
    await driver.delete(handler(), 'c2');
    const own = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ')[16];
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    assert.deepEqual(lines, [
      `${Math.min(19, Number(own) + 19)} --root ${handler().root} delete --force c1`,
      `${own} --root ${handler().root} delete --force c2`,
    ]);
  });
});
