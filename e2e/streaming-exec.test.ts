// Exec and Attach through the real daemon, runc and conmon: the rpc's URL, then SPDY
// (spdy-transport as client) or WebSocket (ws as client), as kubectl and crictl use them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { openStream, spdyExec, spdyUpgrade, wsExec } from '../pkg/streaming/testing/clients.js';
import { waitExited } from './container-fixtures.js';
import { eventually, untilOutput } from './harness.js';
import { startStEnv, type StEnv } from './streaming-env.js';


/** fds of a process and its child processes (direct children, all threads). */
async function daemonCounts(pid: number): Promise<{ fds: number; children: number }> {
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  let children = 0;
  for (const t of await readdir(`/proc/${pid}/task`)) {
    const c = (await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')).trim();
    if (c) children += c.split(/\s+/).length;
  }
  return { fds, children };
}

describe('streaming e2e: exec and attach', () => {
  let env: StEnv;
  let pod = '';
  let ctr = '';

  before(async () => {
    env = await startStEnv({ images: true });
    pod = await env.runPod('st-exec');
    ctr = await env.runContainer(pod, 'sleeper', { command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] });
  });
  after(async () => {
    await env?.close();
  });

  const execUrl = async (cmd: string[], o: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}) =>
    (await env.d.client.runtime('Exec', { container_id: ctr, cmd, tty: !!o.tty, stdin: !!o.stdin, stdout: true, stderr: o.stderr ?? !o.tty })).url;

  it('exec echo hello over SPDY gives "hello" and exit code 0', async () => {
    const url = await execUrl(['echo', 'hello']);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    const r = await spdyExec(url, { stderr: true });
    assert.equal(r.stdout, 'hello\n');
    assert.deepEqual(JSON.parse(r.error), { metadata: {}, status: 'Success' });
  });

  it("exec sh -c 'exit 7' reports exit code 7", async () => {
    const r = await spdyExec(await execUrl(['sh', '-c', 'echo bad >&2; exit 7']), { stderr: true });
    const st = JSON.parse(r.error);
    assert.equal(st.reason, 'NonZeroExitCode');
    assert.deepEqual(st.details.causes, [{ reason: 'ExitCode', message: '7' }]);
    assert.equal(r.stderr, 'bad\n');
  });

  it('exec with a TTY and stdin runs an interactive sh: echo, resize, stty size', async () => {
    const r = await spdyExec(await execUrl(['sh'], { tty: true, stdin: true }), {
      stdin: true,
      tty: true,
      interact: async ({ stdin, resize, stdout }) => {
        let seen = '';
        stdout!.on('data', (d: Buffer) => (seen += d.toString()));
        const until = (re: RegExp) => untilOutput(stdout!, () => seen, re, 5000);
        // A resize travels on its own stream, unordered with stdin: ask until the shell sees it.
        const size = async () => {
          const from = seen.length;
          stdin!.write("echo sz-$(stty size | tr ' ' x)-end\n");
          await untilOutput(stdout!, () => seen.slice(from), /sz-\d+x\d+-end/, 5000);
          return /sz-(\d+x\d+)-end/.exec(seen.slice(from))![1];
        };
        resize!.write(JSON.stringify({ Width: 111, Height: 44 }));
        stdin!.write('echo in-container-$((40+2))\n');
        await until(/in-container-42/);
        await eventually('the shell sees 44x111', size, (s) => s === '44x111');
        resize!.write(JSON.stringify({ Width: 77, Height: 22 }));
        await eventually('the shell sees 22x77', size, (s) => s === '22x77');
        stdin!.write('exit 3\n');
      },
    });
    assert.match(r.stdout, /echo in-container-\$\(\(40\+2\)\)/, 'the terminal echoes input');
    assert.match(r.stdout, /sz-22x77-end/);
    assert.equal(JSON.parse(r.error).details.causes[0].message, '3');
  });

  it('exec over WebSocket v5: stdin and its close signal, stdout and the exit code', async () => {
    const r = await wsExec(await execUrl(['sh', '-c', 'cat; exit 5'], { stdin: true }), { stdin: 'via websocket\n' });
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(r.stdout, 'via websocket\n');
    assert.equal(JSON.parse(r.error).details.causes[0].message, '5');
  });

  it('attach to a container that reads stdin and echoes it', async () => {
    const echo = await env.runContainer(pod, 'echoer', {
      command: ['sh', '-c', 'while read l; do echo "got:$l"; done; echo bye'],
      stdin: true,
      stdin_once: true,
    });
    const { url } = await env.d.client.runtime('Attach', { container_id: echo, stdin: true, stdout: true, stderr: true, tty: false });
    assert.match(url, /\/attach\//);
    const r = await spdyExec(url, {
      stdin: true,
      stderr: true,
      interact: async ({ stdin, stdout }) => {
        let seen = '';
        stdout!.on('data', (d: Buffer) => (seen += d.toString()));
        for (const line of ['first', 'second']) {
          stdin!.write(`${line}\n`);
          await untilOutput(stdout!, () => seen, new RegExp(`got:${line}`), 3000);
        }
        stdin!.end();
      },
    });
    // Output after stdin closed ("bye") may be lost to a conmon 2.1.6 race at container exit.
    assert.match(r.stdout, /^got:first\ngot:second\n/);
    assert.equal(JSON.parse(r.error).status, 'Success');
  });

  it('a vanished client kills its exec process only; the container keeps running', async () => {
    const up = await spdyUpgrade(await execUrl(['sh', '-c', 'echo started; exec sleep 1234']), ['v4.channel.k8s.io']);
    const err = await openStream(up.conn, { streamtype: 'error' });
    err.end();
    const out = await openStream(up.conn, { streamtype: 'stdout' });
    await openStream(up.conn, { streamtype: 'stderr' });
    await new Promise((r) => out.once('data', r));
    const ps = async () => (await env.d.client.runtime('ExecSync', { container_id: ctr, cmd: ['ps'], timeout: '10' })).stdout.toString();
    assert.match(await ps(), /sleep 1234/);
    up.socket!.destroy();
    const listing = await eventually('the exec process is gone', ps, (l) => !/sleep 1234/.test(l), 5000).catch(() => ps());
    assert.doesNotMatch(listing, /sleep 1234/);
    const st = await env.d.client.runtime('ContainerStatus', { container_id: ctr });
    assert.equal(st.status!.state, 'CONTAINER_RUNNING');
  });

  it('100 exec sessions in a row leave no fd, socket or process behind in the daemon', async () => {
    const pid = env.d.proc.pid!;
    const base = await daemonCounts(pid);
    await spdyExec(await execUrl(['true']), { stderr: true });
    const before = await eventually('the first session ended', () => daemonCounts(pid), (c) => c.children <= base.children, 3000);
    for (let i = 0; i < 100; i++) {
      const r = await spdyExec(await execUrl(['echo', String(i)]), { stderr: true });
      assert.equal(r.stdout, `${i}\n`);
    }
    const now = await eventually('the sessions ended', () => daemonCounts(pid), (c) => c.fds <= before.fds && c.children <= before.children, 3000).catch(() => daemonCounts(pid));
    // A leak is growth; an fd of earlier work (a stats or log file) may close in the meantime.
    assert.ok(now.fds <= before.fds, `daemon fds before ${before.fds}, after ${now.fds}`);
    assert.ok(now.children <= before.children, `daemon children before ${before.children}, after ${now.children}`);
  });

  it('20 TTY execs and 20 attaches whose client vanishes leave no fd or process behind', async () => {
    const pid = env.d.proc.pid!;
    const ttyUrl = async () => (await env.d.client.runtime('Exec', { container_id: ctr, cmd: ['sh', '-c', 'stty size'], tty: true, stdin: true, stdout: true })).url;
    const attachUrl = async () => (await env.d.client.runtime('Attach', { container_id: ctr, stdout: true, stderr: true })).url;
    const base = await daemonCounts(pid);
    await spdyExec(await ttyUrl(), { stdin: true, tty: true });
    const before = await eventually('the first session ended', () => daemonCounts(pid), (c) => c.children <= base.children, 3000);
    for (let i = 0; i < 20; i++) {
      const r = await spdyExec(await ttyUrl(), { stdin: true, tty: true });
      assert.match(r.stdout, /24 80/);
      const up = await spdyUpgrade(await attachUrl(), ['v4.channel.k8s.io']);
      const err = await openStream(up.conn, { streamtype: 'error' });
      err.end();
      await openStream(up.conn, { streamtype: 'stdout' });
      await openStream(up.conn, { streamtype: 'stderr' });
      up.socket!.destroy();
    }
    const now = await eventually('the sessions ended', () => daemonCounts(pid), (c) => c.fds <= before.fds && c.children <= before.children, 3000).catch(() => daemonCounts(pid));
    // A leak is growth; an fd of earlier work (a stats or log file) may close in the meantime.
    assert.ok(now.fds <= before.fds, `daemon fds before ${before.fds}, after ${now.fds}`);
    assert.ok(now.children <= before.children, `daemon children before ${before.children}, after ${now.children}`);
    assert.equal((await env.d.client.runtime('ContainerStatus', { container_id: ctr })).status!.state, 'CONTAINER_RUNNING');
  });

  it('bad requests: unknown container, tty with stderr, no stdio, stopped container', async () => {
    await assert.rejects(env.d.client.runtime('Exec', { container_id: 'nope', cmd: ['true'], stdout: true }), (e: CriError) => e.code === GrpcStatus.NOT_FOUND);
    await assert.rejects(env.d.client.runtime('Exec', { container_id: ctr, cmd: ['sh'], tty: true, stdout: true, stderr: true }), (e: CriError) => e.code === GrpcStatus.INVALID_ARGUMENT);
    await assert.rejects(env.d.client.runtime('Attach', { container_id: ctr }), (e: CriError) => e.code === GrpcStatus.INVALID_ARGUMENT);
    const stopped = await env.runContainer(pod, 'quick', { command: ['true'] });
    await waitExited(env, stopped);
    await assert.rejects(env.d.client.runtime('Exec', { container_id: stopped, cmd: ['true'], stdout: true }), (e: CriError) => e.code === GrpcStatus.FAILED_PRECONDITION);
  });
});
