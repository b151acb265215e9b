// List streaming over a real gRPC server and client on a unix socket, with a generator of fake
// containers standing in for the index: every item exactly once in bounded batches, a client
// that stops reading stops the producer (the daemon does not buffer), cancel and errors end the
// producer, shutdown cuts a running stream with UNAVAILABLE (never a short list with OK).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { collectStream, CriClient, type CriError } from '../client/cri.js';
import { NotFoundError } from '../errors/errors.js';
import { silentLogger } from '../log/log.js';
import { Metrics } from '../metrics/metrics.js';
import type { Container } from './gen/runtime/v1/Container.js';
import type { StreamContainersResponse__Output } from './gen/runtime/v1/StreamContainersResponse.js';
import type { HandlerSet } from './handlers.js';
import { addAll, chunked, itemEncoder, serveList, type BatchWriterOptions } from './list-stream.js';
import { CriServer } from './server.js';

const ITEM_PAD = 'x'.repeat(1000);
const fake = (i: number): Container => ({
  id: `c${i}`, pod_sandbox_id: 'p', metadata: { name: `n${i}`, attempt: 0 }, state: 'CONTAINER_RUNNING',
  created_at: '1', labels: { pad: ITEM_PAD }, annotations: {},
});

interface Producer {
  total: number;
  yielded: number;
  /** Resolves when the generator is closed (finished, returned early or thrown through). */
  closed: Promise<void>;
  failAt?: number;
  items(): Generator<Container>;
}

function producer(total: number, onYield?: (n: number) => void, failAt?: number): Producer {
  let close!: () => void;
  const p: Producer = {
    total, yielded: 0, failAt,
    closed: new Promise<void>((r) => (close = r)),
    *items() {
      try {
        for (let i = 0; i < total; i++) {
          if (i === failAt) throw new NotFoundError(`pod sandbox "p${i}" not found`);
          p.yielded++;
          onYield?.(p.yielded);
          yield fake(i);
        }
      } finally {
        close();
      }
    },
  };
  return p;
}

describe('list streams over real gRPC', () => {
  let dir: string;
  let server: CriServer;
  let client: CriClient;
  let next: { p: Producer; opts?: BatchWriterOptions };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'berth-list-stream-'));
    const encode = itemEncoder<Container>('RuntimeService', 'StreamContainers', 'containers');
    const handlers: HandlerSet = {
      StreamContainers: (call) => void serveList(call, (w) => addAll(w, next.p.items(), encode), next.opts),
    };
    server = new CriServer(handlers, silentLogger(), new Metrics());
    await server.listen(path.join(dir, 's.sock'));
    client = new CriClient(path.join(dir, 's.sock'));
  });
  after(async () => {
    client?.close();
    await server?.shutdown(1000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const ids = (b: StreamContainersResponse__Output) => b.containers.map((c) => c.id);

  it('sends every item exactly once, in order, in batches within the item and byte limits', async () => {
    next = { p: producer(1000), opts: { maxItems: 64, maxBytes: 32 * 1024 } };
    const sizes: number[] = [];
    const s = client.runtimeStream('StreamContainers', {});
    s.on('data', (b: StreamContainersResponse__Output) => sizes.push(b.containers.length));
    const { items, batches } = await collectStream(s, ids);
    assert.deepEqual(items, Array.from({ length: 1000 }, (_, i) => `c${i}`));
    assert.equal(batches, sizes.length);
    assert.ok(sizes.every((n) => n >= 1 && n <= 64), `batch sizes ${sizes}`);
    // ~1.05 KiB per item: the 32 KiB byte limit, not the count, decides.
    assert.ok(Math.max(...sizes) < 32, `byte limit holds: ${Math.max(...sizes)}`);
  });

  it('an empty list is no message at all, then OK', async () => {
    next = { p: producer(0) };
    assert.deepEqual(await collectStream(client.runtimeStream('StreamContainers', {}), ids), { items: [], batches: 0 });
  });

  it('a client that stops reading stops the producer; reading again gets the rest, each once', async () => {
    // 40 MB in all; the daemon may hold two 64 KiB batches plus what the transport buffers.
    const BOUND = 6000;
    let received = 0;
    let worst = 0;
    const p = producer(40_000, (y) => (worst = Math.max(worst, y - received)));
    // Armed once the client has paused: the next wait is the producer waiting for this client.
    let waiting = () => {};
    let paused!: () => void;
    const pausedP = new Promise<void>((r) => (paused = r));
    next = { p, opts: { maxItems: 64, maxBytes: 64 * 1024, onWait: () => waiting() } };
    // Its own connection, so this stall does not hold the other tests' streams.
    const own = new CriClient(path.join(dir, 's.sock'));
    try {
      const s = own.runtimeStream('StreamContainers', {});
      const seen = new Set<string>();
      const done = new Promise<void>((resolve, reject) => {
        s.on('data', (b: StreamContainersResponse__Output) => {
          for (const id of ids(b)) {
            assert.ok(!seen.has(id), `${id} sent twice`);
            seen.add(id);
          }
          received += b.containers.length;
          if (received === b.containers.length) {
            s.pause(); // stop after the first batch
            paused();
          }
        });
        s.on('end', resolve);
        s.on('error', reject);
      });
      await pausedP;
      await new Promise<void>((r) => (waiting = r));
      const atStall = p.yielded;
      assert.ok(atStall < p.total, `the producer waits for the client (${atStall} of ${p.total} made)`);
      s.resume();
      await done;
      assert.equal(seen.size, p.total);
      assert.ok(worst <= BOUND, `at most ${BOUND} items ahead of the client, saw ${worst}`);
    } finally {
      own.close();
    }
  });

  it('a cancelled stream closes the producer early', async () => {
    const p = producer(100_000);
    next = { p, opts: { maxItems: 16 } };
    const s = client.runtimeStream('StreamContainers', {});
    const err = new Promise<CriError>((r) => s.on('error', r));
    s.once('data', () => s.cancel());
    assert.equal((await err).code, grpc.status.CANCELLED);
    await p.closed;
    assert.ok(p.yielded < p.total, `stopped at ${p.yielded}`);
  });

  it('an error while listing ends the stream with its status after the batches already sent', async () => {
    next = { p: producer(500, undefined, 300), opts: { maxItems: 50 } };
    const got: string[] = [];
    const s = client.runtimeStream('StreamContainers', {});
    s.on('data', (b: StreamContainersResponse__Output) => got.push(...ids(b)));
    const err = await new Promise<CriError>((r) => s.on('error', r));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.match(err.details, /p300/);
    assert.ok(got.length <= 300);
  });

  it('shutdown ends a running list stream with UNAVAILABLE', async () => {
    const p = producer(100_000);
    let waiting = () => {};
    next = { p, opts: { maxItems: 64, onWait: () => waiting() } };
    const s = client.runtimeStream('StreamContainers', {});
    const first = new Promise<void>((r) => s.once('data', () => {
      s.pause();
      r();
    }));
    const err = new Promise<CriError>((r) => s.on('error', r));
    await first;
    await new Promise<void>((r) => (waiting = r));
    const down = server.shutdown(5000);
    s.resume();
    assert.equal((await err).code, grpc.status.UNAVAILABLE);
    await down;
    await p.closed;
  });

  it('chunks an iterable into groups', () => {
    assert.deepEqual([...chunked([1, 2, 3, 4, 5], 2)], [[1, 2], [3, 4], [5]]);
    assert.deepEqual([...chunked([], 3)], []);
  });
});
