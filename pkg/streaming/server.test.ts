// The streaming server end to end over TCP, with backends that run real processes on the host
// (the container runtime plugs in the same interfaces), driven by independent clients:
// spdy-transport for SPDY, ws for WebSocket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../log/log.js';
import { spawnStdio } from './host-exec.js';
import { StreamingServer } from './server.js';
import { TokenCache } from './tokens.js';
import type { ExecParams, ExecProcess, StdioStreams } from './types.js';
import { spdyExec, spdyUpgrade, wsExec, openStream, readAll } from './testing/clients.js';

const started: ExecProcess[] = [];
const pids: number[] = [];
const tokens = new TokenCache(60_000);
const server = new StreamingServer({
  listen: '127.0.0.1:0',
  log: silentLogger(),
  tokens,
  backends: {
    exec: {
      async exec(_id: string, cmd: string[], io: StdioStreams) {
        // "sh -c 'echo $$ >&2 …'"-style tests learn the pid from the command itself.
        const p = spawnStdio(cmd, io);
        started.push(p);
        return p;
      },
    },
  },
});
await server.start();
after(() => server.close());

const execReq = (cmd: string[], o: Partial<ExecParams> = {}) =>
  server.url({ kind: 'exec', params: { containerId: 'c1', cmd, tty: false, stdin: false, stdout: true, stderr: true, ...o } });

test('SPDY v4 exec echo hello: stdout and a Success status', async () => {
  const r = await spdyExec(execReq(['echo', 'hello']), { stderr: true });
  assert.equal(r.protocol, 'v4.channel.k8s.io');
  assert.equal(r.stdout, 'hello\n');
  assert.equal(r.stderr, '');
  assert.deepEqual(JSON.parse(r.error), { metadata: {}, status: 'Success' });
});

test('SPDY v4 exec exit 7: NonZeroExitCode with the ExitCode cause; stderr separate', async () => {
  const r = await spdyExec(execReq(['sh', '-c', 'echo oops >&2; exit 7']), { stderr: true });
  const st = JSON.parse(r.error);
  assert.equal(st.status, 'Failure');
  assert.equal(st.reason, 'NonZeroExitCode');
  assert.deepEqual(st.details.causes, [{ reason: 'ExitCode', message: '7' }]);
  assert.equal(r.stderr, 'oops\n');
});

test('SPDY v3 and v2 report a failing command as plain text; nothing on success', async () => {
  const r3 = await spdyExec(execReq(['sh', '-c', 'exit 3']), { protocol: 'v3.channel.k8s.io', stderr: true });
  assert.equal(r3.protocol, 'v3.channel.k8s.io');
  assert.match(r3.error, /non-zero exit code.*exit code 3/);
  const r2 = await spdyExec(execReq(['true']), { protocol: 'v2.channel.k8s.io', stderr: true });
  assert.equal(r2.error, '');
});

test('stdin reaches the process and its EOF ends it', async () => {
  const big = 'x'.repeat(300_000);
  const r = await spdyExec(execReq(['sh', '-c', 'cat; echo done'], { stdin: true }), {
    stdin: true,
    stderr: true,
    interact: ({ stdin }) => {
      stdin!.end(big);
    },
  });
  assert.equal(r.stdout, `${big}done\n`);
});

test('TTY exec: interactive sh echoes input and honours a resize (stty size)', async () => {
  const r = await spdyExec(execReq(['sh'], { tty: true, stdin: true, stderr: false }), {
    stdin: true,
    tty: true,
    interact: async ({ stdin, resize, stdout }) => {
      let seen = '';
      stdout!.on('data', (d: Buffer) => (seen += d.toString()));
      const until = async (re: RegExp) => {
        for (let i = 0; i < 200 && !re.test(seen); i++) await new Promise((r) => setTimeout(r, 10));
        assert.match(seen, re);
      };
      resize!.write(JSON.stringify({ Width: 123, Height: 45 }) + '\n');
      await new Promise((r) => setTimeout(r, 50));
      stdin!.write('echo marker-$((6*7))\n');
      await until(/marker-42/);
      stdin!.write('stty size\n');
      await until(/45 123/);
      resize!.write(JSON.stringify({ Width: 90, Height: 30 }));
      await new Promise((r) => setTimeout(r, 50));
      stdin!.write('stty size; exit 5\n');
    },
  });
  assert.match(r.stdout, /echo marker-\$\(\(6\*7\)\)/, 'the terminal echoes what was typed');
  assert.match(r.stdout, /30 90/);
  assert.equal(JSON.parse(r.error).details.causes[0].message, '5');
});

test('tokens: reused, unknown and expired are 404; the query string cannot override', async () => {
  const url = execReq(['echo', 'bound']);
  const r = await spdyExec(`${url}?command=false&tty=true&stdin=true`, { stderr: true });
  assert.equal(r.stdout, 'bound\n');
  assert.equal((await spdyUpgrade(url, ['v4.channel.k8s.io'])).status, 404, 'used token');
  assert.equal((await spdyUpgrade(url.replace(/[^/]+$/, 'AAAAAAAAAAAAAAAAAAAAAA'), ['v4.channel.k8s.io'])).status, 404, 'unknown token');
  const short = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), backends: {}, tokens: new TokenCache(1) });
  await short.start();
  try {
    const u = short.url({ kind: 'exec', params: { containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false } });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal((await spdyUpgrade(u, ['v4.channel.k8s.io'])).status, 404, 'expired token');
  } finally {
    await short.close();
  }
  const pf = server.url({ kind: 'portforward', params: { sandboxId: 's', ports: [] } });
  assert.equal((await spdyUpgrade(pf.replace('/portforward/', '/exec/'), ['v4.channel.k8s.io'])).status, 404, 'token of another kind');
});

test('protocol negotiation: no common version is 403 naming what the server accepts', async () => {
  const r = await spdyUpgrade(execReq(['true']), ['v9.channel.k8s.io']);
  assert.equal(r.status, 403);
  assert.match(r.body, /v4\.channel\.k8s\.io/);
});

test('WebSocket v5 exec: stdin with the close signal, exit code in the Status', async () => {
  const r = await wsExec(execReq(['sh', '-c', 'cat; exit 4'], { stdin: true }), { stdin: 'through ws\n' });
  assert.equal(r.protocol, 'v5.channel.k8s.io');
  assert.equal(r.stdout, 'through ws\n');
  assert.equal(JSON.parse(r.error).details.causes[0].message, '4');
  assert.equal(r.closeCode, 1000);
});

test('WebSocket v4 exec: stdout, stderr and Success', async () => {
  const r = await wsExec(execReq(['sh', '-c', 'echo out; echo err >&2']), { protocol: 'v4.channel.k8s.io' });
  assert.equal(r.protocol, 'v4.channel.k8s.io');
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(JSON.parse(r.error).status, 'Success');
});

test('WebSocket base64 channel protocol (web terminals): text messages, digit channel + base64', async () => {
  const WebSocket = (await import('ws')).default;
  const url = execReq(['sh', '-c', 'cat; echo err >&2; exit 2'], { stdin: true });
  const got = await new Promise<{ proto: string; chans: Record<number, string> }>((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v4.base64.channel.k8s.io']);
    const chans: Record<number, string> = {};
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, false, 'base64 protocols send text frames');
      const t = d.toString();
      const ch = Number(t[0]);
      chans[ch] = (chans[ch] ?? '') + Buffer.from(t.slice(1), 'base64').toString();
    });
    ws.once('open', () => {
      ws.send('0' + Buffer.from('b64 input').toString('base64'));
      setTimeout(() => ws.close(), 200); // v4 has no stdin close signal: hanging up ends stdin
    });
    ws.once('close', () => resolve({ proto: ws.protocol, chans }));
    ws.once('error', reject);
  });
  assert.equal(got.proto, 'v4.base64.channel.k8s.io');
  assert.equal(got.chans[1], 'b64 input');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a client that vanishes kills its exec process and nothing else', async () => {
  const bystander = spawnStdio(['sleep', '30'], { tty: false });
  const up = await spdyUpgrade(execReq(['sh', '-c', 'echo $$; exec sleep 30']), ['v4.channel.k8s.io']);
  const err = await openStream(up.conn, { streamtype: 'error' });
  err.end();
  const out = await openStream(up.conn, { streamtype: 'stdout' });
  await openStream(up.conn, { streamtype: 'stderr' });
  const pid = await new Promise<number>((resolve) => out.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  assert.ok(alive(pid));
  up.socket!.destroy();
  const code = await started.at(-1)!.exited;
  assert.equal(code, 137, 'SIGKILL');
  assert.equal(alive(pid), false);
  bystander.kill();
  assert.equal(await bystander.exited, 137, 'the bystander was alive until the test killed it');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(server.connections, 0);
});

function fdCount(): Promise<number> {
  return import('node:fs/promises').then((fs) => fs.readdir('/proc/self/fd').then((l) => l.length));
}
async function childCount(): Promise<number> {
  const fs = await import('node:fs/promises');
  const kids = await fs.readFile(`/proc/self/task/${process.pid}/children`, 'utf8').catch(() => '');
  return kids.trim() ? kids.trim().split(/\s+/).length : 0;
}

test('100 exec sessions in a row leave no fd, socket or process behind', async () => {
  await spdyExec(execReq(['true']), { stderr: true }); // warm up lazy handles
  await new Promise((r) => setTimeout(r, 50));
  const fds0 = await fdCount();
  const kids0 = await childCount();
  for (let i = 0; i < 100; i++) {
    const r = await spdyExec(execReq(['sh', '-c', `echo ${i}`]), { stderr: true });
    assert.equal(r.stdout, `${i}\n`);
  }
  for (let i = 0; i < 100 && (server.connections > 0 || (await fdCount()) > fds0); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.connections, 0, 'no client connection left');
  assert.equal(await fdCount(), fds0, 'no fd left');
  assert.equal(await childCount(), kids0, 'no child process left');
});

test('a plain GET is 400 for a live token and 404 for an unknown one', async () => {
  const url = execReq(['true']);
  assert.equal((await fetch(url)).status, 400);
  assert.equal((await fetch(url.replace(/[^/]+$/, 'nope'))).status, 404);
  void readAll;
});
