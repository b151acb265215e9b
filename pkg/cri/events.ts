// GetContainerEvents: a server stream of container (and, where the sandbox service emits them,
// sandbox) lifecycle events, each with the pod sandbox status and the statuses of the pod's
// containers attached, as kubelet's evented PLEG reads them. Events come from the services'
// emitters (the container module learns of exits from conmon's exit files as they appear) and
// fan out through a Broadcaster: a slow stream is dropped, never waited for.
import type { ServerWritableCall } from '../grpc/calls.js';
import { Status } from '../grpc/wire.js';
import type { ContainerEvent } from '../container/types.js';
import type { SandboxEvent } from '../sandbox/types.js';
import { Broadcaster } from '../events/broadcaster.js';
import type { ContainerEventResponse } from './gen/runtime/v1/ContainerEventResponse.js';
import type { ContainerStatus } from './gen/runtime/v1/ContainerStatus.js';
import type { GetEventsRequest__Output } from './gen/runtime/v1/GetEventsRequest.js';
import type { DaemonContext } from './module.js';
import { toStatus } from './container.js';
import { toStatus as toSandboxStatus } from './sandbox.js';

type EventType = ContainerEvent['type'];


export interface EventStreamHooks {
  /** A container's STOPPED event, with its status (OOM accounting). */
  onStopped?(status: ContainerStatus): void;
  onRemoved?(containerId: string): void;
  onStarted?(containerId: string): void;
  /** A pod sandbox is being removed (its record can still be read). */
  onSandboxRemoved?(sandboxId: string): void;
}

export interface EventStream {
  handler: (call: ServerWritableCall<GetEventsRequest__Output, ContainerEventResponse>) => void;
  broadcaster: Broadcaster<ContainerEventResponse>;
  close(): void;
}

function waitDrain(call: ServerWritableCall<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('close', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
    call.on('cancelled', done);
  });
}

export function createEventStream(ctx: DaemonContext, hooks: EventStreamHooks = {}): EventStream {
  const bc = new Broadcaster<ContainerEventResponse>({ name: 'container', log: ctx.log, registry: ctx.metrics.registry });

  // Built once per event, at the moment it happens, so every subscriber sees the same snapshot.
  // kubelet's evented PLEG reads pod_sandbox_status.metadata.uid of every event, so an event whose
  // sandbox is already gone is not sent (as containerd does); kubelet's relist covers it.
  const build = (containerId: string, sandboxId: string, type: EventType, createdAt: bigint): ContainerEventResponse | undefined => {
    let podStatus;
    try {
      const sb = ctx.services.sandboxes?.get(sandboxId);
      if (sb) podStatus = toSandboxStatus(sb);
    } catch {
      // The sandbox is gone.
    }
    if (!podStatus) {
      ctx.log.debug({ event: type, containerId, sandboxId }, 'event not sent: its pod sandbox is gone');
      return undefined;
    }
    const ctrs = (ctx.services.containers?.list({ sandboxId }) ?? []).filter((c) => c.sandboxId === sandboxId);
    return {
      container_id: containerId, container_event_type: type, created_at: createdAt.toString(),
      pod_sandbox_status: podStatus, containers_statuses: ctrs.map(toStatus),
    };
  };

  const onContainer = (e: ContainerEvent) => {
    try {
      if (e.type === 'CONTAINER_DELETED_EVENT') hooks.onRemoved?.(e.containerId);
      if (e.type === 'CONTAINER_STARTED_EVENT') hooks.onStarted?.(e.containerId);
      if (e.type === 'CONTAINER_STOPPED_EVENT') {
        const c = ctx.services.containers?.list({ sandboxId: e.sandboxId }).find((x) => x.id === e.containerId);
        if (c) hooks.onStopped?.(toStatus(c));
      }
      const ev = build(e.containerId, e.sandboxId, e.type, e.createdAt);
      if (ev) bc.publish(ev);
    } catch (err) {
      // Never throw into the container module's code path.
      ctx.log.warn({ err, event: e.type, containerId: e.containerId }, 'could not build a container event');
    }
  };
  const onSandbox = (e: SandboxEvent) => {
    try {
      if (e.type === 'CONTAINER_DELETED_EVENT') hooks.onSandboxRemoved?.(e.sandboxId);
      const ev = build(e.sandboxId, e.sandboxId, e.type, e.createdAt);
      if (ev) bc.publish(ev);
    } catch (err) {
      ctx.log.warn({ err, event: e.type, sandboxId: e.sandboxId }, 'could not build a sandbox event');
    }
  };
  const ctrEvents = ctx.services.containers?.events;
  ctrEvents?.on('event', onContainer);
  const sbEvents = ctx.services.sandboxes?.events;
  sbEvents?.on('event', onSandbox);

  const handler: EventStream['handler'] = (call) => {
    const sub = bc.subscribe(
      { write: (ev) => (call.write(ev) ? undefined : waitDrain(call)) },
      {
        name: call.getPeer() || 'GetContainerEvents',
        onDrop: (reason) => call.emit('error', {
          code: Status.RESOURCE_EXHAUSTED,
          details: `GetContainerEvents: this stream was dropped because ${reason}; subscribe again`,
        }),
      },
    );
    const end = () => sub.close();
    for (const ev of ['cancelled', 'close', 'finish', 'error']) call.once(ev, end);
    // Response headers now tell the client the subscription is live: one that subscribes, waits
    // for them, then acts, misses no event of what it did.
    call.sendMetadata();
  };

  return {
    handler,
    broadcaster: bc,
    close() {
      ctrEvents?.off('event', onContainer);
      sbEvents?.off('event', onSandbox);
      bc.close();
    },
  };
}
