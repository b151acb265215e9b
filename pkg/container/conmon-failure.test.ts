// A conmon that never reports the container's pid (as with a 1 MiB argument before berth refused
// it) must not be left running with what it started. A stand-in conmon: a new session that
// writes its pid file (-P) and starts two sleepers, then stays silent on the sync pipe.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RuntimeDriver } from './runtime.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0): look at its state.
    return !/^\S+ \(.*\) Z/.test(execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
};

describe('conmon that never reports a pid', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-conmon-fail-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is killed with its whole process group when create gives up', async () => {
    const fake = path.join(dir, 'conmon');
    // Finds -P FILE, then in a new session: write the session leader's pid, start children, hang.
    await writeFile(fake, `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -P ] && P=$2; shift; done
setsid sh -c 'echo $$ > "$0"; sleep 3001 & echo $! > "$0.child"; sleep 3002' "$P" &
exec sleep 3003
`);
    await chmod(fake, 0o755);
    const bundle = path.join(dir, 'bundle');
    execFileSync('mkdir', ['-p', bundle]);
    const driver = new RuntimeDriver({ conmon: fake, exitDir: path.join(dir, 'exits'), socketDir: path.join(dir, 'attach'), logLevel: 'error', createTimeoutMs: 500 });
    await assert.rejects(
      driver.create({ name: 'runc', path: '/bin/false', root: dir }, { id: 'x', name: 'c', bundle, logPath: path.join(dir, 'log'), tty: false, stdin: false, stdinOnce: false }),
      /did not report the container's pid/,
    );
    const leader = Number((await readFile(path.join(bundle, 'conmon-pidfile'), 'utf8')).trim());
    const child = Number((await readFile(path.join(bundle, 'conmon-pidfile.child'), 'utf8')).trim());
    const until = Date.now() + 5000;
    while ((alive(leader) || alive(child)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(leader), false, 'the conmon stand-in is still running');
    assert.equal(alive(child), false, 'what it started is still running');
  });
});
