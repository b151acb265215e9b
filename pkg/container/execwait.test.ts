// ExecSync's timeout against a runtime that is slow to start the exec'd process (as `runc exec`
// is under emulation): a fake runtime that writes the pid file only after the timeout. The
// process must be gone when ExecSync returns (critest "execSync with timeout" then runs pgrep).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RuntimeDriver, type RuntimeHandler } from './runtime.js';
import type { OciProcess } from './oci.js';

// argv: --root R exec --detach --process F --pid-file P ID. Starts `sleep` after DELAY seconds,
// writes its pid to P (and P.bg, which outlives ExecSync's cleanup), then exits like `runc exec -d`.
const FAKE_RUNTIME = `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidfile=$2; shift; done
sleep "$DELAY"
sleep 300 </dev/null >/dev/null 2>&1 &
echo $! >"$pidfile.bg"
echo $! >"$pidfile"
`;

/** Running (a zombie left to a slow init counts as gone: it can do nothing more). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pids the fake runtime started, from its P.bg files. */
async function startedPids(dir: string): Promise<number[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.pid.bg'));
  return Promise.all(files.map(async (f) => Number((await readFile(path.join(dir, f), 'utf8')).trim())));
}

describe('ExecSync timeout with a slow runtime (native/execwait)', () => {
  let tmp: string;
  let h: RuntimeHandler;
  let driver: RuntimeDriver;
  const proc = { args: ['sleep', '300'], env: [], cwd: '/', user: { uid: 0, gid: 0 } } as unknown as OciProcess;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-execwait-'));
    const fake = path.join(tmp, 'fake-runtime');
    await writeFile(fake, FAKE_RUNTIME);
    await chmod(fake, 0o755);
    h = { name: 'fake', path: fake, root: path.join(tmp, 'root') };
    driver = new RuntimeDriver({ conmon: '/bin/false', exitDir: tmp, socketDir: tmp, logLevel: 'error', createTimeoutMs: 1000 });
  });

  after(async () => {
    for (const pid of await startedPids(tmp)) if (running(pid)) process.kill(pid, 'SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  });

  it('kills the process the runtime starts after the timeout, before returning', async () => {
    process.env.DELAY = '0.5';
    try {
      await assert.rejects(driver.execSync(h, 'c1', tmp, proc, 100), /timed out/);
    } finally {
      delete process.env.DELAY;
    }
    const [pid] = await startedPids(tmp);
    assert.ok(pid, 'the fake runtime started its process');
    assert.equal(running(pid), false, `the exec'd process ${pid} is gone when ExecSync returns`);
  });
});
