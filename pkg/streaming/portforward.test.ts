// Port-forward through the streaming server into a network namespace this test creates (and
// into the host's, for host-network pods), with spdy-transport as the client, over raw SPDY and
// SPDY tunnelled in WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { silentLogger } from '../log/log.js';
import { NetnsDialer } from './netns-dialer.js';
import { StreamingServer } from './server.js';
import { spdyForward, spdyOverWebSocket, spdyUpgrade, readAll, type SpdyConn } from './testing/clients.js';

const NS = `berth-st-pf${process.pid}`;
const NS_PATH = `/var/run/netns/${NS}`;
// The pod's port is in this test's own netns; the host's is whatever the kernel gives, so runs
// at the same time on one host do not collide.
const POD_PORT = 29101;
let HOST_PORT = 0;
const servers: ChildProcess[] = [];
const dialers: NetnsDialer[] = [];

// An echo server: what a connection sends comes back, and the write side ends with the read side.
const ECHO = `const srv = require('net').createServer((s) => s.pipe(s)).listen(+process.argv[1], '127.0.0.1', () => console.log(srv.address().port));`;

/** Starts an echo server on `port` (0: any) and resolves with the port it listens on. */
function startEcho(port: number, netns?: string): Promise<number> {
  const argv = netns ? ['ip', 'netns', 'exec', netns, process.execPath, '-e', ECHO, String(port)] : [process.execPath, '-e', ECHO, String(port)];
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    p.once('exit', (c) => reject(new Error(`echo server exited ${c}`)));
  });
}

const server = new StreamingServer({
  listen: '127.0.0.1:0',
  log: silentLogger(),
  backends: {
    portForward: {
      async open(sandboxId: string) {
        if (sandboxId !== 'pod' && sandboxId !== 'hostpod') throw new Error(`pod sandbox "${sandboxId}" not found`);
        const d = new NetnsDialer(sandboxId === 'pod' ? NS_PATH : undefined);
        dialers.push(d);
        return d;
      },
    },
  },
});

before(async () => {
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  await startEcho(POD_PORT, NS);
  HOST_PORT = await startEcho(0);
  await server.start();
});

after(async () => {
  await server.close();
  for (const p of servers) p.kill('SIGKILL');
  await Promise.all(servers.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : null)));
  execFileSync('ip', ['netns', 'del', NS]);
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function roundTrip(conn: SpdyConn, port: number, id: number, size: number): Promise<void> {
  const { data, error } = await spdyForward(conn, port, id);
  const payload = randomBytes(size);
  const back = readAll(data);
  data.end(payload);
  const got = await back;
  assert.equal(got.length, size);
  assert.equal(sha(got), sha(payload), `connection ${id} came back intact`);
  assert.equal(await error, '');
}

async function session(sandboxId: string, ports: number[] = []) {
  const up = await spdyUpgrade(server.url({ kind: 'portforward', params: { sandboxId, ports } }), ['portforward.k8s.io']);
  assert.equal(up.status, 101);
  assert.equal(up.protocol, 'portforward.k8s.io');
  return up;
}

test('port-forward into a pod netns: 10 MB both ways on each of 5 connections at once', async () => {
  const up = await session('pod');
  await Promise.all([1, 2, 3, 4, 5].map((i) => roundTrip(up.conn, POD_PORT, i, 10 * 1024 * 1024)));
  assert.ok(dialers.at(-1)!.helperPid, 'one helper process served all connections');
  up.socket!.destroy();
});

test('port-forward in a host-network pod connects on the host', async () => {
  const up = await session('hostpod');
  await Promise.all([1, 2, 3, 4, 5].map((i) => roundTrip(up.conn, HOST_PORT, i, 10 * 1024 * 1024)));
  up.socket!.destroy();
});

test('the pod port is not the host port: pod netns is isolated', async () => {
  const up = await session('pod');
  const { data, error } = await spdyForward(up.conn, HOST_PORT, 1);
  data.resume();
  assert.match(await error, new RegExp(`error forwarding port ${HOST_PORT}.*ECONNREFUSED`));
  up.socket!.destroy();
});

test('ports not in the request and bad ports are refused on the error stream', async () => {
  const up = await session('pod', [POD_PORT]);
  const a = await spdyForward(up.conn, 29999, 1);
  a.data.resume();
  assert.match(await a.error, /port 29999 was not requested/);
  await roundTrip(up.conn, POD_PORT, 2, 1000);
  up.socket!.destroy();
});

test('SPDY tunnelled in WebSocket (crictl --transport websocket) forwards too', async () => {
  const t = await spdyOverWebSocket(server.url({ kind: 'portforward', params: { sandboxId: 'pod', ports: [] } }));
  assert.equal(t.protocol, 'SPDY/3.1+portforward.k8s.io');
  await Promise.all([1, 2, 3].map((i) => roundTrip(t.conn, POD_PORT, i, 2 * 1024 * 1024)));
  t.close();
});

/** kubelet's WebSocket port-forward: ports in the query, channel 2i data / 2i+1 error, port prefix. */
function wsForward(url: string, protocols: string[], onOpen: (ws: WebSocket, chans: Buffer[][]) => void): Promise<{ chans: Buffer[][]; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols);
    const chans: Buffer[][] = [[], [], [], []];
    ws.on('message', (d: Buffer) => chans[d[0]!]?.push(d.subarray(1)));
    ws.once('open', () => onOpen(ws, chans));
    ws.once('close', () => resolve({ chans }));
    ws.once('unexpected-response', (_q, res) => resolve({ chans, status: res.statusCode }));
    ws.once('error', reject);
  });
}

test('WebSocket v4 channel port-forward: two ports, port prefixes, data both ways, errors per port', async () => {
  const url = server.url({ kind: 'portforward', params: { sandboxId: 'pod', ports: [POD_PORT, HOST_PORT] } });
  const payload = randomBytes(3 * 1024 * 1024);
  const r = await wsForward(`${url}?port=${POD_PORT}&port=${HOST_PORT}`, ['v4.channel.k8s.io'], (ws, chans) => {
    ws.send(Buffer.concat([Buffer.from([0]), payload]));
    const poll = setInterval(() => {
      if (Buffer.concat(chans[0]!).length >= payload.length + 2) {
        clearInterval(poll);
        ws.close();
      }
    }, 10);
  });
  const port = (b: Buffer) => b.readUInt16LE(0);
  assert.equal(port(r.chans[0]![0]!), POD_PORT);
  assert.equal(port(r.chans[1]![0]!), POD_PORT);
  assert.equal(port(r.chans[2]![0]!), HOST_PORT);
  const back = Buffer.concat(r.chans[0]!.slice(1));
  assert.equal(sha(back), sha(payload));
  assert.match(Buffer.concat(r.chans[3]!.slice(1)).toString(), new RegExp(`error forwarding port ${HOST_PORT}.*ECONNREFUSED`), 'the host port is not in the pod');
});

test('WebSocket port-forward: a query port outside the request is refused (400)', async () => {
  const url = server.url({ kind: 'portforward', params: { sandboxId: 'pod', ports: [POD_PORT] } });
  const r = await wsForward(`${url}?port=29999`, ['v4.channel.k8s.io'], (ws) => ws.close());
  assert.equal(r.status, 400);
});

test('closing the session ends the netns helper and every connection', async () => {
  const up = await session('pod');
  const { data } = await spdyForward(up.conn, POD_PORT, 1);
  data.write('ping');
  await new Promise((r) => data.once('data', r));
  const pid = dialers.at(-1)!.helperPid!;
  up.socket!.destroy();
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(isAlive(pid), false, 'helper gone');
  for (let i = 0; i < 100 && server.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.connections, 0);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
