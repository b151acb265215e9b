// A call the client cancels ends with CANCELLED, not INTERNAL: critest cancels PullImage calls,
// and each one was counted as berth_cri_requests_total{code="INTERNAL"} and logged as a failure.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../log/log.js';
import { Metrics } from '../metrics/metrics.js';
import { loadCri } from './proto.js';
import { CriServer } from './server.js';

describe('a call cancelled by the client', () => {
  it('is counted with code CANCELLED; the handler sees the abort', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cancel-'));
    const metrics = new Metrics();
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    let aborted: unknown;
    const server = new CriServer({
      Version: (_req, ctx) => new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
        entered();
      }),
    }, silentLogger(), metrics);
    const socket = path.join(dir, 's.sock');
    await server.listen(socket);
    const client = new (loadCri().runtime.v1.RuntimeService)(`unix://${socket}`, grpc.credentials.createInsecure());
    try {
      const answered = new Promise<grpc.ServiceError>((resolve) => {
        const call = client.Version({ version: '' }, (err: grpc.ServiceError | null) => resolve(err!));
        void inHandler.then(() => call.cancel());
      });
      assert.equal((await answered).code, grpc.status.CANCELLED);
      const counted = async () => (await metrics.requests.get()).values.filter((v) => v.labels.method === 'Version');
      for (let i = 0; i < 200 && !(await counted()).length; i++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual((await counted()).map((v) => [v.labels.code, v.value]), [['CANCELLED', 1]]);
      assert.match(String((aborted as Error).message), /Version cancelled by the client/);
    } finally {
      client.close();
      await server.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
