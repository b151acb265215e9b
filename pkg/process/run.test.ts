import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failureText, ProcessError, run, runChecked, shellExitCode, SpawnError, start } from './run.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('process runner', () => {
  it('captures stdout, stderr and the exit status; feeds stdin', async () => {
    const r = await run('sh', ['-c', 'cat; echo err >&2; exit 3'], { input: 'hello' });
    assert.equal(r.code, 3);
    assert.equal(r.stdout.toString(), 'hello');
    assert.equal(r.stderr.toString(), 'err\n');
    assert.equal(r.timedOut, false);
    assert.equal(r.truncated, false);
  });

  it('keeps at most maxOutput bytes per stream and says so', async () => {
    const r = await run('sh', ['-c', 'head -c 100000 /dev/zero'], { maxOutput: 1000 });
    assert.equal(r.stdout.length, 1000);
    assert.equal(r.truncated, true);
  });

  it('kills at the timeout and reports it', async () => {
    const r = await run('sleep', ['30'], { timeoutMs: 50 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.code, 137);
    assert.equal(failureText(r), 'timed out');
  });

  it('reports 128 + the number of any signal that ended the process, as a shell does', async () => {
    // SIGUSR1 (10) was missing from a partial table here, which reported 137 for it.
    const r = await run('sh', ['-c', 'kill -USR1 $$']);
    assert.equal(r.signal, 'SIGUSR1');
    assert.equal(r.code, 138);
    assert.equal(shellExitCode(null, 'SIGWINCH'), 156);
    assert.equal(shellExitCode(3, null), 3);
  });

  it('a timeout beyond 2^31 ms does not fire at once', async () => {
    const p = start('sleep', { args: ['0.3'], timeoutMs: 2 ** 31 + 1000 });
    const r = await p.result;
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0);
  });

  it('kills when the caller aborts, with the caller\'s kill function', async () => {
    const ctrl = new AbortController();
    let used = false;
    const p = start('sleep', { args: ['30'], signal: ctrl.signal, kill: (c) => { used = true; c.kill('SIGTERM'); } });
    ctrl.abort();
    const r = await p.result;
    assert.equal(r.aborted, true);
    assert.equal(used, true);
    assert.equal(r.signal, 'SIGTERM');
  });

  it('returns at the exit when a background process keeps the pipes open (bounded drain)', async () => {
    const r = await run('sh', ['-c', 'echo before; sleep 30 & echo $! >&2; exit 4'], { drainMs: 100 });
    assert.equal(r.code, 4);
    assert.equal(r.stdout.toString(), 'before\n');
    assert.equal(r.truncated, true);
    const bg = Number(r.stderr.toString().trim());
    assert.ok(bg > 0 && alive(bg));
    process.kill(bg, 'SIGKILL');
  });

  it('a command that cannot start rejects with SpawnError; runChecked rejects non-zero exits naming the step', async () => {
    await assert.rejects(run('/no/such/binary'), (e: unknown) => e instanceof SpawnError && /ENOENT/.test((e as Error).message));
    await assert.rejects(runChecked('frob the widget', 'sh', ['-c', 'echo nope >&2; exit 1']), (e: unknown) => {
      assert.ok(e instanceof ProcessError);
      assert.equal((e as Error).message, 'frob the widget: nope');
      return true;
    });
  });

  it('stream mode hands stdout to the caller', async () => {
    const p = start('sh', { args: ['-c', 'echo streamed'], stdout: 'stream' });
    const chunks: Buffer[] = [];
    for await (const c of p.stdout) chunks.push(c as Buffer);
    const r = await p.result;
    assert.equal(Buffer.concat(chunks).toString(), 'streamed\n');
    assert.equal(r.stdout.length, 0);
  });
});
