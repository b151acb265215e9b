// Attach through a real conmon watching a real runc container (busybox rootfs), via the
// streaming server, with spdy-transport and ws as clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '../log/log.js';
import { ConmonAttach } from './conmon-attach.js';
import { StreamingServer } from './server.js';
import { spdyExec, wsExec } from './testing/clients.js';

const run = promisify(execFile);
const RUNC = '/usr/sbin/runc';
let dir = '';
const containers: { id: string; bundle: string }[] = [];

async function startContainer(id: string, args: string[], terminal: boolean): Promise<string> {
  const bundle = path.join(dir, id);
  await mkdir(path.join(bundle, 'rootfs/bin'), { recursive: true });
  await copyFile('/bin/busybox', path.join(bundle, 'rootfs/bin/busybox'));
  for (const l of ['sh', 'stty', 'cat']) await symlink('busybox', path.join(bundle, 'rootfs/bin', l));
  await run(RUNC, ['spec'], { cwd: bundle });
  const spec = JSON.parse(await readFile(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = terminal;
  spec.process.args = args;
  spec.process.env.push('HOME=/');
  spec.root = { path: 'rootfs', readonly: false };
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const root = path.join(dir, 'runc-root');
  await run('conmon', [
    '--api-version', '1', '-c', id, '-u', id, '-n', id, '-r', RUNC, '-b', bundle,
    '-p', path.join(bundle, 'pid'), '-P', path.join(bundle, 'conmon.pid'),
    '-l', `k8s-file:${path.join(bundle, 'ctr.log')}`, '--exit-dir', path.join(dir, 'exits'),
    '--socket-dir-path', path.join(dir, 'sock'), '--runtime-arg', `--root=${root}`, '-i', '--full-attach',
    ...(terminal ? ['-t'] : []),
  ]);
  containers.push({ id, bundle });
  // conmon's parent returns at once; runc writes the pid file when the container is created.
  for (let i = 0; i < 500 && !(await readFile(path.join(bundle, 'pid'), 'utf8').catch(() => '')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await run(RUNC, [`--root=${root}`, 'start', id]);
  return bundle;
}

before(async () => {
  dir = await mkdtemp('/tmp/berth-st-attach-');
  await mkdir(path.join(dir, 'exits'));
  await mkdir(path.join(dir, 'sock'));
});

after(async () => {
  const root = path.join(dir, 'runc-root');
  for (const c of containers) {
    await run(RUNC, [`--root=${root}`, 'kill', c.id, 'KILL']).catch(() => {});
    const conmonPid = Number(await readFile(path.join(c.bundle, 'conmon.pid'), 'utf8').catch(() => '0'));
    for (let i = 0; i < 200 && conmonPid && alive(conmonPid); i++) await new Promise((r) => setTimeout(r, 10));
    await run(RUNC, [`--root=${root}`, 'delete', '--force', c.id]).catch(() => {});
  }
  await rm(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const bundles = new Map<string, string>();
const attach = new ConmonAttach({
  attachSocketPath: (id) => path.join(bundles.get(id)!, 'attach'),
  controlPath: (id) => path.join(bundles.get(id)!, 'ctl'),
});

test('attach to a container that reads stdin and echoes it (SPDY v4, stdin EOF ends it)', async () => {
  const server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), backends: { attach } });
  await server.start();
  try {
    const id = `berth-st-att-${process.pid}-a`;
    bundles.set(id, await startContainer(id, ['/bin/sh', '-c', 'while read l; do echo "got:$l"; echo "err:$l" >&2; done; echo bye'], false));
    const url = server.url({ kind: 'attach', params: { containerId: id, tty: false, stdin: true, stdout: true, stderr: true } });
    const r = await spdyExec(url, {
      stdin: true,
      stderr: true,
      interact: async ({ stdin, stdout }) => {
        let seen = '';
        stdout!.on('data', (d: Buffer) => (seen += d.toString()));
        for (const line of ['one', 'two']) {
          stdin!.write(`${line}\n`);
          for (let i = 0; i < 300 && !seen.includes(`got:${line}`); i++) await new Promise((res) => setTimeout(res, 10));
        }
        stdin!.end(); // EOF: conmon closes the container's stdin, the loop ends, the container exits
      },
    });
    // What the container prints after its stdin closed ("bye") may be lost: conmon 2.1.6 can
    // close attach sockets at the container's exit before it forwards the last output (it is
    // in the log file). Everything written while attached arrives.
    assert.match(r.stdout, /^got:one\ngot:two\n/);
    assert.match(r.stderr, /^err:one\nerr:two\n/);
    assert.equal(JSON.parse(r.error).status, 'Success');
  } finally {
    await server.close();
  }
});

test('attach with a TTY over WebSocket: input is echoed and a resize reaches the terminal', async () => {
  const server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), backends: { attach } });
  await server.start();
  try {
    const id = `berth-st-att-${process.pid}-t`;
    bundles.set(id, await startContainer(id, ['/bin/sh'], true));
    const url = server.url({ kind: 'attach', params: { containerId: id, tty: true, stdin: true, stdout: true, stderr: false } });
    const r = await wsExec(url, {
      interact: async (ws, output) => {
        const until = async (re: RegExp) => {
          for (let i = 0; i < 300 && !re.test(output()); i++) await new Promise((res) => setTimeout(res, 10));
          assert.match(output(), re);
        };
        ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: 101, Height: 37 }))]));
        await new Promise((res) => setTimeout(res, 100));
        ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('stty size\n')]));
        await until(/37 101/);
        ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('exit\n')]));
      },
    });
    assert.match(r.stdout, /stty size/, 'the terminal echoes input');
    assert.match(r.stdout, /37 101/);
    assert.equal(JSON.parse(r.error).status, 'Success');
  } finally {
    await server.close();
  }
});

test('attach to a container that already exited: a "not running" failure, not an internal error', async () => {
  const server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), backends: { attach } });
  await server.start();
  try {
    const id = `berth-st-att-${process.pid}-x`;
    const bundle = await startContainer(id, ['/bin/sh', '-c', 'echo done'], false);
    bundles.set(id, bundle);
    // conmon leaves when the container exited: its attach socket goes with it.
    const conmonPid = Number(await readFile(path.join(bundle, 'conmon.pid'), 'utf8'));
    for (let i = 0; i < 500 && alive(conmonPid); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(!alive(conmonPid), 'conmon exited with its container');
    const url = server.url({ kind: 'attach', params: { containerId: id, tty: false, stdin: true, stdout: true, stderr: true } });
    const st = JSON.parse((await wsExec(url)).error);
    assert.deepEqual([st.status, st.reason, st.code], ['Failure', 'BadRequest', 400]);
    assert.match(st.message, new RegExp(`container "${id}" is not running`));
  } finally {
    await server.close();
  }
});
