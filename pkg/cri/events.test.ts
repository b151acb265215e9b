// The event stream with stand-in container and sandbox services and stand-in gRPC calls: what
// each event carries, ordering, fan-out, and a stalled stream being dropped without slowing
// the service that emits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { ContainerEvent, ContainerEvents, ContainerInfo, ContainerService } from '../container/types.js';
import { silentLogger } from '../log/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SandboxInfo, SandboxService } from '../sandbox/types.js';
import type { ContainerEventResponse } from './gen/runtime/v1/ContainerEventResponse.js';
import type { GetEventsRequest__Output } from './gen/runtime/v1/GetEventsRequest.js';
import { createEventStream } from './events.js';
import type { DaemonContext } from './module.js';

const SB = 'a'.repeat(64);
const sandbox = { id: SB, name: 'p', namespace: 'ns', uid: 'u', attempt: 0, state: 'SANDBOX_READY', createdAt: 1n, runtimeHandler: '',
  pidMode: 'CONTAINER', cgroupParent: '/berth', logDirectory: '', hostsPath: '', resolvConfPath: '', hostnamePath: '', hostname: 'p',
  additionalIps: [], labels: {}, annotations: {}, sysctls: {}, portMappings: [], linux: { privileged: false, supplementalGroups: [], readonlyRootfs: false },
  ip: '10.0.0.2' } as SandboxInfo;

const CONFIG: ContainerInfo['config'] = {
  name: 'c', attempt: 0, image: 'busybox', command: [], args: [], workingDir: '', envs: [], devices: [],
  mounts: [{ containerPath: '/data', hostPath: '/srv/data', readonly: true, selinuxRelabel: false, propagation: 'PRIVATE', recursiveReadOnly: false }],
  labels: {}, annotations: {}, logPath: '', stdin: false, stdinOnce: false, tty: false,
  security: {
    capabilities: { add: [], drop: [], addAmbient: [] }, privileged: false,
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' }, readonlyRootfs: false,
    supplementalGroups: [], supplementalGroupsPolicy: 'Merge', noNewPrivs: false, maskedPaths: [], readonlyPaths: [],
  },
};

function ctr(id: string, patch: Partial<ContainerInfo>): ContainerInfo {
  return { id, sandboxId: SB, name: `c-${id}`, attempt: 0, state: 'CONTAINER_CREATED', createdAt: 5n, startedAt: 0n, finishedAt: 0n,
    exitCode: 0, reason: '', message: '', image: 'busybox', imageId: 'sha256:1', imageRef: 'sha256:1', runtimeHandler: 'runc', logPath: '',
    pid: 0, labels: {}, annotations: {}, user: { uid: 0, gid: 0, additionalGids: [] }, bundle: '', config: CONFIG, stopSignal: 15, ...patch };
}

function fakeCtx() {
  const store = new Map<string, ContainerInfo>();
  const events = new EventEmitter() as ContainerEvents;
  const containers = {
    get: (id: string) => store.get(id)!, list: () => [...store.values()], events,
  } as unknown as ContainerService;
  const sandboxEvents = new EventEmitter();
  const sandboxes = { get: (id: string) => { if (id !== SB) throw new Error('nf'); return sandbox; }, list: () => [sandbox], events: sandboxEvents } as unknown as SandboxService;
  const registry = new Registry();
  const ctx = { log: silentLogger(), metrics: { registry } as unknown as Metrics, services: { containers, sandboxes } } as unknown as DaemonContext;
  const emit = (type: ContainerEvent['type'], c: ContainerInfo) => {
    if (type === 'CONTAINER_DELETED_EVENT') store.delete(c.id);
    else store.set(c.id, c);
    events.emit('event', { type, containerId: c.id, sandboxId: SB, createdAt: BigInt(Date.now()) * 1_000_000n });
  };
  return { ctx, emit, registry, sandboxEvents };
}

type Call = grpc.ServerWritableStream<GetEventsRequest__Output, ContainerEventResponse>;

/** A stand-in server stream: records writes; `stall` makes every write report a full buffer. */
function fakeCall(stall = false) {
  const got: ContainerEventResponse[] = [];
  const errors: { code: number; details: string }[] = [];
  const call = new EventEmitter() as EventEmitter & { write(m: ContainerEventResponse): boolean; getPeer(): string; sendMetadata(): void; headers: number };
  call.write = (m) => { got.push(m); return !stall; };
  call.getPeer = () => 'test-peer';
  call.headers = 0;
  call.sendMetadata = () => void call.headers++;
  call.on('error', (e: { code: number; details: string }) => errors.push(e));
  return { call: call as unknown as Call, emitter: call, got, errors };
}

const until = async (cond: () => boolean) => {
  const end = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('cri events: GetContainerEvents stream', () => {
  it('tells the stats hooks when a pod sandbox is removed', () => {
    const { ctx, sandboxEvents } = fakeCtx();
    const removed: string[] = [];
    const s = createEventStream(ctx, { onSandboxRemoved: (id) => removed.push(id) });
    sandboxEvents.emit('event', { type: 'CONTAINER_STOPPED_EVENT', sandboxId: SB, createdAt: 1n });
    sandboxEvents.emit('event', { type: 'CONTAINER_DELETED_EVENT', sandboxId: SB, createdAt: 2n });
    assert.deepEqual(removed, [SB]);
    s.close();
  });

  it('delivers created, started, stopped, deleted in order with pod and container statuses; two subscribers see all', async () => {
    const { ctx, emit } = fakeCtx();
    let oomSeen = 0;
    const removed: string[] = [];
    const s = createEventStream(ctx, { onStopped: (st) => void (st.reason === 'OOMKilled' && oomSeen++), onRemoved: (id) => removed.push(id) });
    const a = fakeCall();
    const b = fakeCall();
    s.handler(a.call);
    s.handler(b.call);
    assert.equal(a.emitter.headers, 1, 'headers sent once subscribed: the client knows the stream is live');
    emit('CONTAINER_CREATED_EVENT', ctr('c1', {}));
    emit('CONTAINER_STARTED_EVENT', ctr('c1', { state: 'CONTAINER_RUNNING', startedAt: 6n, pid: 42 }));
    emit('CONTAINER_STOPPED_EVENT', ctr('c1', { state: 'CONTAINER_EXITED', startedAt: 6n, finishedAt: 7n, exitCode: 3, reason: 'Error' }));
    emit('CONTAINER_DELETED_EVENT', ctr('c1', {}));
    await until(() => a.got.length === 4 && b.got.length === 4);
    assert.deepEqual(a.got.map((e) => e.container_event_type),
      ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
    assert.deepEqual(b.got, a.got, 'both subscribers see the same events');
    const stopped = a.got[2]!;
    assert.equal(stopped.container_id, 'c1');
    assert.equal(stopped.pod_sandbox_status?.id, SB);
    assert.equal(stopped.pod_sandbox_status?.state, 'SANDBOX_READY');
    const st = stopped.containers_statuses!.find((x) => x.id === 'c1')!;
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.exit_code, 3);
    assert.equal(st.reason, 'Error');
    assert.equal(a.got[1]!.containers_statuses![0]!.state, 'CONTAINER_RUNNING', 'each event is a snapshot at its time');
    assert.deepEqual(a.got[3]!.containers_statuses, [], 'a deleted container has no status left');
    assert.match(String(a.got[0]!.created_at), /^\d{19}$/);
    assert.equal(oomSeen, 0);
    assert.deepEqual(removed, ['c1']);
    emit('CONTAINER_STOPPED_EVENT', ctr('c2', { state: 'CONTAINER_EXITED', exitCode: 137, reason: 'OOMKilled' }));
    assert.equal(oomSeen, 1);
    s.close();
  });

  it('drops a stalled stream with RESOURCE_EXHAUSTED while the emitter and other streams go on', async () => {
    const { ctx, emit, registry } = fakeCtx();
    const s = createEventStream(ctx);
    const fast = fakeCall();
    const stalled = fakeCall(true);
    s.handler(fast.call);
    s.handler(stalled.call);
    let emitNs = 0n;
    for (let i = 0; i < 1500; i++) {
      const t = process.hrtime.bigint();
      emit('CONTAINER_CREATED_EVENT', ctr('x', { attempt: i }));
      emitNs += process.hrtime.bigint() - t;
      if (i % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    await until(() => fast.got.length === 1500);
    assert.equal(stalled.got.length, 1, 'the stalled stream took one event and never drained');
    assert.equal(stalled.errors.length, 1);
    assert.equal(stalled.errors[0]!.code, 8 /* RESOURCE_EXHAUSTED */);
    assert.match(stalled.errors[0]!.details, /dropped because its queue of 1024 events is full/);
    assert.equal(s.broadcaster.subscriberCount, 1);
    // Building and queueing one event must stay far below a millisecond on average.
    assert.ok(Number(emitNs) / 1500 < 1e6, `emit average ${Number(emitNs) / 1500} ns`);
    const dropped = (await registry.getSingleMetric('berth_events_dropped_total')!.get()).values[0]!.value;
    assert.ok(dropped >= 1024);
    s.close();
  });

  it('sends no event whose pod sandbox is gone (kubelet reads its uid from every event)', async () => {
    const { ctx, emit } = fakeCtx();
    const s = createEventStream(ctx);
    const a = fakeCall();
    s.handler(a.call);
    (ctx.services.containers!.events as EventEmitter).emit('event', { type: 'CONTAINER_DELETED_EVENT', containerId: 'z', sandboxId: 'gone', createdAt: 1n });
    emit('CONTAINER_CREATED_EVENT', ctr('c1', {}));
    await until(() => a.got.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(a.got.map((e) => e.container_id), ['c1']);
    s.close();
  });

  it('a cancelled stream stops receiving and is unsubscribed', async () => {
    const { ctx, emit } = fakeCtx();
    const s = createEventStream(ctx);
    const a = fakeCall();
    s.handler(a.call);
    emit('CONTAINER_CREATED_EVENT', ctr('c1', {}));
    await until(() => a.got.length === 1);
    a.emitter.emit('cancelled');
    assert.equal(s.broadcaster.subscriberCount, 0);
    emit('CONTAINER_STARTED_EVENT', ctr('c1', { state: 'CONTAINER_RUNNING' }));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(a.got.length, 1);
    s.close();
  });
});
