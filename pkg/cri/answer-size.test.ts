// A unary answer over the message limit (five pods with 4 MiB of annotations each made every
// ListPodSandbox fail with grpc-js's own "message larger than max"): berth answers
// RESOURCE_EXHAUSTED naming the size and the Stream rpc that carries the list item by item.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../log/log.js';
import { Metrics } from '../metrics/metrics.js';
import { boundAnswer, MAX_MESSAGE_BYTES } from './call.js';
import { loadCri } from '../client/proto.js';
import { CriServer } from './server.js';

const pod = (i: number, annotationBytes: number) => ({
  id: `${i}`.padStart(64, '0'), metadata: { name: `p${i}`, uid: `u${i}`, namespace: 'ns', attempt: 0 },
  state: 'SANDBOX_READY' as const, created_at: '1', labels: {}, annotations: { big: 'x'.repeat(annotationBytes) }, runtime_handler: '',
});

describe('unary answers over the message limit', () => {
  it('boundAnswer passes an answer at the limit and refuses one byte more, naming the Stream rpc of a List', () => {
    assert.equal(boundAnswer('ListImages', Buffer.alloc(10), 10).length, 10);
    assert.throws(() => boundAnswer('ListImages', Buffer.alloc(11), 10), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, 'ResourceExhausted');
      assert.match(e.message, /ListImages: the answer is 11 bytes, over the 10-byte message limit: use StreamImages/);
      return true;
    });
    assert.throws(() => boundAnswer('ImageFsInfo', Buffer.alloc(11), 10), (e: Error) => !/use Stream/.test(e.message));
  });

  it('ListPodSandbox of five 4 MiB pods: RESOURCE_EXHAUSTED naming StreamPodSandboxes; a list under the limit still answers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-answer-'));
    let big = true;
    const server = new CriServer({
      ListPodSandbox: async () => ({ items: big ? [0, 1, 2, 3, 4].map((i) => pod(i, 4 * 1024 * 1024)) : [pod(0, 100)] }),
    }, silentLogger(), new Metrics());
    const socket = path.join(dir, 's.sock');
    await server.listen(socket);
    const client = new (loadCri().runtime.v1.RuntimeService)(`unix://${socket}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    const list = () => new Promise<{ err: grpc.ServiceError | null; res?: { items: unknown[] } }>((resolve) => {
      client.ListPodSandbox({}, (err: grpc.ServiceError | null, res?: { items: unknown[] }) => resolve({ err, res }));
    });
    try {
      const { err } = await list();
      assert.equal(err?.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(err.details, new RegExp(`ListPodSandbox: the answer is \\d+ bytes, over the ${MAX_MESSAGE_BYTES}-byte message limit: use StreamPodSandboxes`));
      big = false;
      const small = await list();
      assert.equal(small.err, null);
      assert.equal(small.res?.items.length, 1);
    } finally {
      client.close();
      await server.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
