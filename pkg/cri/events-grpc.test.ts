// GetContainerEvents over a real gRPC server and client on a unix socket, with a stand-in
// container service emitting thousands of events: a client that stops reading fills HTTP/2
// flow control, the server sees write() backpressure, its queue overflows and the stream is
// ended with RESOURCE_EXHAUSTED, while a reading client gets every event and the emitter never waits.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriClient } from '../client/cri.js';
import type { ContainerEvents, ContainerInfo, ContainerService } from '../container/types.js';
import { silentLogger } from '../log/log.js';
import { Metrics } from '../metrics/metrics.js';
import type { SandboxInfo, SandboxService } from '../sandbox/types.js';
import type { ContainerEventResponse__Output } from './gen/runtime/v1/ContainerEventResponse.js';
import { createEventStream } from './events.js';
import type { DaemonContext } from './module.js';
import { CriServer } from './server.js';
import { loadCri } from '../client/proto.js';

const SB = 'b'.repeat(64);
const sandbox = { id: SB, name: 'p', namespace: 'ns', uid: 'u', attempt: 0, state: 'SANDBOX_READY', createdAt: 1n, runtimeHandler: '',
  pidMode: 'CONTAINER', additionalIps: [], labels: {}, annotations: {}, linux: {} } as unknown as SandboxInfo;
// A fat label makes each event ~4 KiB, so flow control fills after a few dozen.
const info = { id: 'c1', sandboxId: SB, name: 'c', attempt: 0, state: 'CONTAINER_RUNNING', createdAt: 1n, startedAt: 2n, finishedAt: 0n,
  exitCode: 0, reason: '', message: '', image: 'i', imageId: 'sha256:1', imageRef: 'sha256:1', logPath: '', pid: 1,
  labels: { fat: 'x'.repeat(4096) }, annotations: {}, user: { uid: 0, gid: 0, additionalGids: [] },
  config: { mounts: [] } } as unknown as ContainerInfo;

describe('cri events over real gRPC', () => {
  let dir: string;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('drops a client that stops reading; a reading client gets everything; emitting never waits', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-grpc-'));
    const events = new EventEmitter() as ContainerEvents;
    const metrics = new Metrics();
    const ctx = {
      log: silentLogger(), metrics,
      services: {
        containers: { list: () => [info], get: () => info, events } as unknown as ContainerService,
        sandboxes: { get: () => sandbox, list: () => [sandbox] } as unknown as SandboxService,
      },
    } as unknown as DaemonContext;
    const stream = createEventStream(ctx);
    const server = new CriServer({ GetContainerEvents: stream.handler }, silentLogger(), metrics);
    const socket = path.join(dir, 's.sock');
    await server.listen(socket);
    const client = new CriClient(socket);
    const closers: (() => void)[] = [];
    try {
      const good = client.events();
      let goodCount = 0;
      good.on('data', () => goodCount++);
      good.on('error', () => undefined);
      // Its own connection: streams on one HTTP/2 connection share its flow-control window, so a
      // client that stops reading one stream stalls its other streams too (the client's doing).
      const cri = loadCri().runtime.v1;
      const own = new cri.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      closers.push(() => own.close());
      const stalled = own.GetContainerEvents({});
      let stalledCount = 0;
      let stalledErr: grpc.ServiceError | undefined;
      stalled.on('data', (_e: ContainerEventResponse__Output) => stalledCount++);
      stalled.on('error', (e: grpc.ServiceError) => (stalledErr = e));
      stalled.pause();
      const end = Date.now() + 5000;
      while (stream.broadcaster.subscriberCount < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      assert.equal(stream.broadcaster.subscriberCount, 2);

      // A busy node's pace (bursts of 5, two milliseconds apart), not a tight loop: a reading client keeps up.
      const N = 1500;
      for (let i = 0; i < N; i++) {
        events.emit('event', { type: 'CONTAINER_STARTED_EVENT', containerId: 'c1', sandboxId: SB, createdAt: BigInt(i) });
        if (i % 5 === 4) await new Promise((r) => setTimeout(r, 2));
      }
      while (goodCount < N && Date.now() < end + 20_000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(goodCount, N, `the reading client got every event (got ${goodCount}, subscribers ${stream.broadcaster.subscriberCount}, delivered ${stream.broadcaster.delivered}, dropped ${stream.broadcaster.dropped})`);
      assert.equal(stream.broadcaster.subscriberCount, 1, 'the stalled client was dropped');
      // Reading again, the stalled client finds what was in flight, then the status.
      stalled.resume();
      while (!stalledErr && Date.now() < end + 30_000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(stalledErr?.code, 8, `status ${stalledErr?.code} ${stalledErr?.details}`);
      assert.match(stalledErr!.details, /queue of 1024 events is full/);
      assert.ok(stalledCount < N, `the stalled client saw ${stalledCount} of ${N}`);
      good.cancel();
    } finally {
      client.close();
      for (const c of closers) c();
      stream.close();
      await server.shutdown(1000);
    }
  });
});
