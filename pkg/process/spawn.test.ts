import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { libcFunc } from '../sys/libc.js';
import { OWNER_ENV } from './procs.js';
import { run, SpawnError, start, tagChildren } from './run.js';
import { spawnChild, spawnMethod } from './spawn.js';

const exited = (c: ReturnType<typeof spawnChild>): Promise<[number | null, NodeJS.Signals | null]> =>
  new Promise((resolve) => c.once('exit', (code, sig) => resolve([code, sig])));

/** fd number → what it points to, for the fds of `pid` that are still open when read. */
async function fdLinks(pid: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const n of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${n}`).catch(() => undefined);
    if (link !== undefined) out.set(Number(n), link);
  }
  return out;
}

/** Our children that are zombies (exited, not reaped). */
async function zombies(): Promise<number[]> {
  const out: number[] = [];
  for (const n of await readdir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const stat = await readFile(`/proc/${n}/stat`, 'utf8').catch(() => '');
    const m = /\) (\S) (\d+) /.exec(stat.slice(stat.lastIndexOf(') ')));
    if (m && m[1] === 'Z' && Number(m[2]) === process.pid) out.push(Number(n));
  }
  return out;
}

describe('spawning children (posix_spawn)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-spawn-'));
  });
  after(async () => {
    tagChildren('');
    await rm(dir, { recursive: true, force: true });
  });

  it('uses posix_spawn on this host (koffi and glibc ≥ 2.34 are here)', () => {
    assert.equal(spawnMethod(), 'posix_spawn');
  });

  it('reports exit codes and signals, in node\'s order: spawn, exit, close', async () => {
    assert.equal((await run('sh', ['-c', 'exit 7'])).code, 7);
    const r = await run('sh', ['-c', 'kill -TERM $$']);
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(r.code, 143);
    const c = spawnChild('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: string[] = [];
    for (const e of ['spawn', 'exit', 'close']) c.on(e, () => events.push(e));
    await new Promise((resolve) => c.once('close', resolve));
    assert.deepEqual(events, ['spawn', 'exit', 'close']);
    assert.equal(c.exitCode, 0);
    assert.ok(c.pid! > 0);
  });

  it('feeds stdin from input and from a pipe the caller writes', async () => {
    const data = Buffer.alloc(300_000, 'x'); // more than a pipe holds
    const r = await run('wc', ['-c'], { input: data });
    assert.equal(r.stdout.toString().trim(), '300000');
    const p = start('cat', { stdin: 'pipe' });
    p.child.stdin!.end('piped');
    assert.equal((await p.result).stdout.toString(), 'piped');
    // Without input, stdin is /dev/null: cat ends at once.
    assert.equal((await run('cat')).stdout.length, 0);
  });

  it('captures large output on both streams, and bounds it', async () => {
    const r = await run('sh', ['-c', 'head -c 5000000 /dev/zero; head -c 3000000 /dev/zero >&2']);
    assert.equal(r.stdout.length, 5_000_000);
    assert.equal(r.stderr.length, 3_000_000);
    const cut = await run('sh', ['-c', 'head -c 5000000 /dev/zero'], { maxOutput: 4096 });
    assert.equal(cut.stdout.length, 4096);
    assert.equal(cut.truncated, true);
  });

  it('hands an extra pipe to the child as fd 3 (conmon\'s sync pipe)', async () => {
    const c = spawnChild('sh', ['-c', 'echo \'{"pid": 42}\' >&3; echo err >&2'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    (c.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => chunks.push(b));
    let err = '';
    c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    assert.equal(c.stdout, null);
    await new Promise((resolve) => c.once('close', resolve));
    assert.equal(Buffer.concat(chunks).toString(), '{"pid": 42}\n');
    assert.equal(err, 'err\n');
  });

  it('passes env (with the owner tag) and cwd', async () => {
    tagChildren('/var/lib/berth-test');
    try {
      const r = await run('sh', ['-c', `pwd; echo "$FOO"; echo "$${OWNER_ENV}"`], { env: { PATH: process.env.PATH, FOO: 'bar' }, cwd: dir });
      assert.equal(r.stdout.toString(), `${dir}\nbar\n/var/lib/berth-test\n`);
    } finally {
      tagChildren('');
    }
    const c = spawnChild('sh', ['-c', 'echo "$X"'], { env: { PATH: process.env.PATH, X: 'only this' } });
    let out = '';
    c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((resolve) => c.once('close', resolve));
    assert.equal(out, 'only this\n');
  });

  it('kills at the timeout and on abort', async () => {
    const t = await run('sleep', ['30'], { timeoutMs: 50 });
    assert.equal(t.timedOut, true);
    assert.equal(t.signal, 'SIGKILL');
    const ctrl = new AbortController();
    const p = start('sleep', { args: ['30'], signal: ctrl.signal });
    await new Promise((resolve) => p.child.once('spawn', resolve));
    ctrl.abort();
    const a = await p.result;
    assert.equal(a.aborted, true);
    assert.equal(a.code, 137);
    assert.equal(p.child.kill('SIGKILL'), false, 'a reaped child is not signalled again');
  });

  it('a missing command, cwd or execute bit fails as SpawnError, node\'s way', async () => {
    await assert.rejects(run('/no/such/binary'), (e: unknown) => e instanceof SpawnError && (e.cause as NodeJS.ErrnoException).code === 'ENOENT');
    await assert.rejects(run('no-such-command-here'), (e: unknown) => e instanceof SpawnError && /ENOENT/.test((e as Error).message));
    await assert.rejects(run('true', [], { cwd: path.join(dir, 'missing') }), (e: unknown) => e instanceof SpawnError && /ENOENT/.test((e as Error).message));
    const script = path.join(dir, 'noexec.sh');
    await writeFile(script, '#!/bin/sh\nexit 0\n');
    await chmod(script, 0o644);
    await assert.rejects(run(script), (e: unknown) => e instanceof SpawnError && (e.cause as NodeJS.ErrnoException).code === 'EACCES');
    const c = spawnChild('/no/such/binary', ['a']);
    const closed = new Promise((resolve) => c.once('close', resolve));
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => c.once('error', resolve));
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.syscall, 'spawn /no/such/binary');
    assert.equal(await closed, -2);
    assert.equal(c.pid, undefined);
  });

  it('leaks no fd into the child, not even one opened without O_CLOEXEC', async () => {
    const dup = libcFunc<(fd: number) => number>('int dup(int fd)');
    const openFile = path.join(dir, 'open-file');
    const fd = openSync(openFile, 'w');
    const inheritable = dup(fd);
    assert.ok(inheritable > 0);
    try {
      const c = spawnChild('sleep', ['30'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      await new Promise((resolve) => c.once('spawn', resolve));
      // Only what it was given: its four pipes, and nothing of ours. (The child's own start-up
      // may hold a file open for a moment: ld.so loading a library, setlocale — so the list
      // is checked for ours, not for its exact length.)
      const links = await fdLinks(c.pid!);
      for (const n of [0, 1, 2, 3]) assert.match(links.get(n) ?? '', /^pipe:/, `fd ${n}`);
      assert.ok(![...links.values()].includes(openFile), 'the file opened without O_CLOEXEC did not reach the child');
      c.kill('SIGKILL');
      assert.deepEqual(await exited(c), [null, 'SIGKILL']);
      const q = spawnChild('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore'] });
      await new Promise((resolve) => q.once('spawn', resolve));
      const qLinks = await fdLinks(q.pid!);
      for (const n of [0, 1, 2]) assert.equal(qLinks.get(n), '/dev/null');
      assert.ok(![...qLinks.values()].includes(openFile));
      q.kill('SIGKILL');
      await exited(q);
    } finally {
      closeSync(inheritable);
      closeSync(fd);
    }
  });

  it('the child starts with default signal dispositions and nothing blocked (node ignores SIGPIPE)', async () => {
    const r = await run('sh', ['-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status']);
    assert.match(r.stdout.toString(), /SigBlk:\s+0+\n/);
    assert.match(r.stdout.toString(), /SigIgn:\s+0+\n/);
  });

  it('reaps every child: no zombies after 200 runs, alongside node\'s own children', async () => {
    const ours = Array.from({ length: 200 }, (_, i) => run('sh', ['-c', `exit ${i % 5}`]));
    const nodes = Array.from({ length: 10 }, () => promisify(execFile)('true'));
    const codes = (await Promise.all(ours)).map((r) => r.code);
    await Promise.all(nodes);
    assert.deepEqual(codes, Array.from({ length: 200 }, (_, i) => i % 5));
    assert.deepEqual(await zombies(), []);
  });

  it('BERTH_SPAWN=node falls back to node\'s spawn, with the same results', async () => {
    const mod = path.join(path.dirname(new URL(import.meta.url).pathname), 'spawn.js');
    const script = `import('${mod}').then(async (m) => { const c = m.spawnChild('sh', ['-c', 'echo hi; exit 3']); let o = ''; c.stdout.on('data', (b) => (o += b)); c.on('close', (code) => console.log(m.spawnMethod(), code, o.trim())); })`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, BERTH_SPAWN: 'node' } });
    assert.equal(stdout.trim(), 'fork 3 hi');
  });
});
