import type { ServerReadableCall, ServerWritableCall } from '../grpc/calls.js';
import type { MethodDef } from '../grpc/server.js';
import type { Cgroups } from '../cgroups/cgroups.js';
import type { BerthConfig } from '../config/config.js';
import type { Logger } from '../log/log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import type { CallContext, HandlerSet } from './handlers.js';

/**
 * Domain services that modules publish for the modules after them. Each module adds its own
 * entry with declaration merging: `declare module '../cri/module.js' { interface Services { images: ImageService } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Services {}

export interface Condition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export interface DaemonContext {
  /** The effective config: cgroup_driver and runtime.cgroup_parent resolved for this host. */
  config: BerthConfig;
  /** This host's cgroups and the driver in use: every cgroup name and path comes from here. */
  cgroups: Cgroups;
  log: Logger;
  store: Store;
  metrics: Metrics;
  services: Partial<Services>;
  /** Status conditions by type (RuntimeReady, NetworkReady, …), computed at each Status call. */
  conditions: Map<string, () => Condition | Promise<Condition>>;
  /**
   * A config reload writes the new values of the reloadable keys (pkg/config/reload.ts) into
   * `config` in place: read them when used, not once at start. Code that must act on a change
   * (re-watch a directory) registers here; `fn` gets the dotted keys that changed.
   */
  onConfigChange(fn: (changed: string[]) => void | Promise<void>): void;
}

/** A handler of berth's own services: unary, server-streaming or client-streaming. */
export type ExtraHandler =
  | ((req: any, ctx: CallContext) => Promise<unknown>)
  | ((call: ServerWritableCall<any, any>) => void)
  | ((call: ServerReadableCall<any>, ctx: CallContext) => Promise<unknown>);

/** A gRPC service outside CRI (proto/berth/v1), served on the same socket as CRI. */
export interface ExtraService {
  /** Full name for logs and metrics, e.g. `berth.v1.Images`. */
  name: string;
  definition: Record<string, MethodDef>;
  handlers: Record<string, ExtraHandler>;
}

export interface ModuleInstance {
  handlers: HandlerSet;
  /** berth's own gRPC services this module serves. */
  extraServices?: ExtraService[];
  /** Called once the socket serves: work no call needs at once, kept off the start-up path. */
  ready?(): void;
  /** Called at shutdown in reverse start order. Must never stop containers. */
  close?(): Promise<void>;
}

/** One area of the CRI (images, sandboxes, …): builds its domain service and its thin handlers. */
export interface CriModule {
  name: string;
  start(ctx: DaemonContext): Promise<ModuleInstance>;
}

/** Fetches a service a module depends on, failing clearly when module order is wrong. */
export function need<K extends keyof Services>(ctx: DaemonContext, name: K): NonNullable<Services[K]> {
  const svc = ctx.services[name];
  if (!svc) throw new Error(`berth module wiring: service "${String(name)}" is not started yet`);
  return svc as NonNullable<Services[K]>;
}
