// PortForward through the real daemon: the rpc's URL, then SPDY (spdy-transport as client) and
// SPDY tunnelled in WebSocket, into a pod's network namespace and a host-network pod.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { readAll, spdyForward, spdyOverWebSocket, spdyUpgrade, type SpdyConn } from '../pkg/streaming/testing/clients.js';
import { eventually } from './harness.js';
import { freePortIn, startEcho, startStEnv, type StEnv } from './streaming-env.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function roundTrip(conn: SpdyConn, port: number, id: number, size: number): Promise<void> {
  const { data, error } = await spdyForward(conn, port, id);
  const payload = randomBytes(size);
  const back = readAll(data);
  data.end(payload);
  const got = await back;
  assert.equal(got.length, size, `connection ${id}: bytes back`);
  assert.equal(sha(got), sha(payload), `connection ${id} came back intact`);
  assert.equal(await error, '');
}

describe('streaming e2e: port-forward', () => {
  let env: StEnv;
  let pod = '';
  let hostPod = '';
  let podPort = 0;
  let hostPort = 0;

  before(async () => {
    env = await startStEnv();
    pod = await env.runPod('pf');
    hostPod = await env.runPod('pf-host', true);
    podPort = await freePortIn(29100, 29200);
    hostPort = await freePortIn(29200, 29300);
    await startEcho(env, podPort, path.join(env.d.state, 'ns', 'net', pod));
    await startEcho(env, hostPort);
  });
  after(async () => {
    await env?.close();
  });

  it('forwards 10 MB both ways on 5 connections at once into the pod network namespace', async () => {
    const { url } = await env.d.client.runtime('PortForward', { pod_sandbox_id: pod, port: [podPort] });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/portforward\/[A-Za-z0-9_-]+$/);
    const up = await spdyUpgrade(url, ['portforward.k8s.io']);
    assert.equal(up.status, 101);
    await Promise.all([1, 2, 3, 4, 5].map((i) => roundTrip(up.conn, podPort, i, 10 * 1024 * 1024)));
    up.socket!.destroy();
  });

  it('the pod does not see the host port; the error stream says why', async () => {
    const { url } = await env.d.client.runtime('PortForward', { pod_sandbox_id: pod, port: [] });
    const up = await spdyUpgrade(url, ['portforward.k8s.io']);
    const { data, error } = await spdyForward(up.conn, hostPort, 1);
    data.resume();
    assert.match(await error, /ECONNREFUSED/);
    up.socket!.destroy();
  });

  it('a host-network pod forwards to the host: 10 MB both ways on 5 connections', async () => {
    const { url } = await env.d.client.runtime('PortForward', { pod_sandbox_id: hostPod, port: [hostPort] });
    const up = await spdyUpgrade(url, ['portforward.k8s.io']);
    await Promise.all([1, 2, 3, 4, 5].map((i) => roundTrip(up.conn, hostPort, i, 10 * 1024 * 1024)));
    up.socket!.destroy();
  });

  it('SPDY over WebSocket (crictl port-forward --transport websocket)', async () => {
    const { url } = await env.d.client.runtime('PortForward', { pod_sandbox_id: pod, port: [podPort] });
    const t = await spdyOverWebSocket(url);
    await Promise.all([1, 2].map((i) => roundTrip(t.conn, podPort, i, 1024 * 1024)));
    t.close();
  });

  it('20 port-forward sessions, ended by the client, leave no fd or helper process in the daemon', async () => {
    const pid = env.d.proc.pid!;
    const counts = async () => {
      const fds = (await readdir(`/proc/${pid}/fd`)).length;
      let children = 0;
      for (const t of await readdir(`/proc/${pid}/task`)) {
        const c = (await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')).trim();
        if (c) children += c.split(/\s+/).length;
      }
      return { fds, children };
    };
    const one = async () => {
      const { url } = await env.d.client.runtime('PortForward', { pod_sandbox_id: pod, port: [podPort] });
      const up = await spdyUpgrade(url, ['portforward.k8s.io']);
      await roundTrip(up.conn, podPort, 1, 1000);
      up.socket!.destroy();
    };
    const base = await counts();
    await one();
    // The first session's netns helper exits once its connection is gone.
    const before = await eventually('the first session ended', counts, (c) => c.children <= base.children, 3000);
    for (let i = 0; i < 20; i++) await one();
    const now = await eventually('the sessions ended', counts, (c) => c.fds <= before.fds && c.children <= before.children, 3000).catch(() => counts());
    // A leak is growth: a helper of an earlier call (e.g. the runtime feature probe, now run in the
    // background) may still be alive at the baseline and gone by now.
    assert.ok(now.fds <= before.fds && now.children <= before.children, `daemon ${JSON.stringify(before)} -> ${JSON.stringify(now)}`);
  });

  it('tokens are single-use; unknown sandboxes and bad ports are refused by the rpc', async () => {
    const { url } = await env.d.client.runtime('PortForward', { pod_sandbox_id: pod, port: [podPort] });
    const up = await spdyUpgrade(url, ['portforward.k8s.io']);
    assert.equal(up.status, 101);
    up.socket!.destroy();
    assert.equal((await spdyUpgrade(url, ['portforward.k8s.io'])).status, 404);
    await assert.rejects(env.d.client.runtime('PortForward', { pod_sandbox_id: 'nope', port: [80] }), (e: CriError) => e.code === GrpcStatus.NOT_FOUND);
    await assert.rejects(env.d.client.runtime('PortForward', { pod_sandbox_id: pod, port: [70000] }), (e: CriError) => e.code === GrpcStatus.INVALID_ARGUMENT);
  });
});
