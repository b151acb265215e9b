// A call the client cancels ends with CANCELLED, not INTERNAL: critest cancels PullImage calls,
// and each one was counted as berth_cri_requests_total{code="INTERNAL"} and logged as a failure.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../log/log.js';
import { Metrics } from '../metrics/metrics.js';
import { loadCri } from '../client/proto.js';
import { CriServer } from './server.js';

/** A server whose Version waits until its call is aborted, and says why it was. */
async function hangingServer(dir: string) {
  const metrics = new Metrics();
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  const seen: { aborted?: unknown } = {};
  const server = new CriServer({
    Version: (_req, ctx) => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        seen.aborted = ctx.signal.reason;
        reject(ctx.signal.reason);
      });
      entered();
    }),
  }, silentLogger(), metrics);
  const socket = path.join(dir, 's.sock');
  await server.listen(socket);
  const counted = async () => (await metrics.requests.get()).values.filter((v) => v.labels.method === 'Version');
  return { server, socket, inHandler, seen, counted };
}

describe('a call cancelled by the client', () => {
  it('is counted with code CANCELLED; the handler sees the abort', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cancel-'));
    const { server, socket, inHandler, seen, counted } = await hangingServer(dir);
    const client = new (loadCri().runtime.v1.RuntimeService)(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const answered = new Promise<grpc.ServiceError>((resolve) => {
        const call = client.Version({ version: '' }, (err: grpc.ServiceError | null) => resolve(err!));
        void inHandler.then(() => call.cancel());
      });
      assert.equal((await answered).code, grpc.status.CANCELLED);
      for (let i = 0; i < 200 && !(await counted()).length; i++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual((await counted()).map((v) => [v.labels.code, v.value]), [['CANCELLED', 1]]);
      assert.match(String((seen.aborted as Error).message), /Version cancelled by the client/);
    } finally {
      client.close();
      await server.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the client's deadline (grpc-timeout) aborts the handler: DEADLINE_EXCEEDED, counted so", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-deadline-'));
    const { server, socket, seen, counted } = await hangingServer(dir);
    // A bare HTTP/2 client that sends grpc-timeout and never resets the stream itself, so the
    // answer is the server's own (grpc-js's client would race it with its own timer).
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    try {
      const status = await new Promise<string>((resolve) => {
        const stream = session.request({ ':method': 'POST', ':path': '/runtime.v1.RuntimeService/Version', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '100m' });
        stream.on('trailers', (t) => resolve(String(t['grpc-status'])));
        stream.on('response', (h) => h['grpc-status'] !== undefined && resolve(String(h['grpc-status'])));
        stream.resume();
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      assert.equal(Number(status), grpc.status.DEADLINE_EXCEEDED);
      for (let i = 0; i < 200 && !(await counted()).length; i++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual((await counted()).map((v) => [v.labels.code, v.value]), [['DEADLINE_EXCEEDED', 1]]);
      assert.match(String((seen.aborted as Error).message), /Version: the client's deadline of 100 ms passed/);
    } finally {
      session.close();
      await server.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
