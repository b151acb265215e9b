// Pod sandbox lifecycle: RunPodSandbox, StopPodSandbox, RemovePodSandbox and the lookups the CRI
// handlers and the container module use. Records live in SQLite and in memory (List is served
// from memory); work on one sandbox is serialised, different sandboxes run in parallel.
import { EventEmitter } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Cgroups } from '../cgroups/cgroups.js';
import type { BerthConfig } from '../config/config.js';
import type { PodNetwork } from '../cni/manager.js';
import type { CniResult } from '../cni/result.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, errorMessage } from '../errors/errors.js';
import type { ResourcesInput } from '../container/types.js';
import type { Logger } from '../log/log.js';
import type { Store } from '../store/store.js';
import { umount } from '../sys/mount.js';
import { KeyedMutex } from '../sync/keyed-mutex.js';
import { fingerprintOf, RequestCache } from '../sync/request-cache.js';
import { createSandbox } from './create.js';
import { unpinNamespaces } from './namespaces.js';
import { podCgroupLimits, releasePodCgroup, writePodCgroup, type PodCgroupOwner } from './pod-cgroup.js';
import { preparePauseRootfs, removePauseBundle, stopPause } from './pause.js';
import { validateRequest, type SandboxRequest } from './request.js';
import { SandboxTable, type SandboxRecord } from './store.js';
import type { ContainerHooks, SandboxEvent, SandboxInfo, SandboxService } from './types.js';

/** A kubelet retry of an identical RunPodSandbox within this window gets the same sandbox back. */
const RETRY_WINDOW_MS = 5 * 60_000;

export interface SandboxManagerOptions {
  config: BerthConfig;
  cgroups: Cgroups;
  log: Logger;
  store: Store;
  cni: PodNetwork;
}

export class SandboxManager implements SandboxService {
  private readonly table: SandboxTable;
  readonly records = new Map<string, SandboxRecord>();
  private readonly byName = new Map<string, string>();
  /** RunPodSandbox calls in flight and recently finished, by name (kubelet retries). */
  private readonly requests = new RequestCache<string>({ windowMs: RETRY_WINDOW_MS, what: 'pod sandbox' });
  private readonly locks = new KeyedMutex();
  private hooks?: ContainerHooks;
  readonly events = new EventEmitter();
  readonly nsDir: string;
  readonly sandboxesDir: string;
  readonly pauseRootfs: string;

  constructor(readonly o: SandboxManagerOptions) {
    this.table = new SandboxTable(o.store);
    this.nsDir = path.join(o.config.state, 'ns');
    this.sandboxesDir = path.join(o.config.state, 'sandboxes');
    this.pauseRootfs = path.join(o.config.state, 'pause-rootfs');
  }

  /** Loads the records; recovery (pins gone after a reboot → NOTREADY) is in recover.ts. */
  async init(): Promise<SandboxRecord[]> {
    await mkdir(this.sandboxesDir, { recursive: true, mode: 0o711 });
    await preparePauseRootfs(this.pauseRootfs);
    const all = this.table.all();
    for (const r of all) {
      this.index(r);
      if (r.readyAt) this.requests.remember(this.nameKey(r.info), r.fingerprint, r.info.id, r.readyAt);
    }
    return all;
  }

  private nameKey(i: { name: string; namespace: string; uid: string; attempt: number }): string {
    return `${i.name}_${i.namespace}_${i.uid}_${i.attempt}`;
  }

  private index(r: SandboxRecord): void {
    this.records.set(r.info.id, r);
    this.byName.set(this.nameKey(r.info), r.info.id);
  }

  /** Stores a new record: the database first, then memory. */
  save(r: SandboxRecord): void {
    this.table.put(r);
    this.index(r);
  }

  /** Changes a record: the database first, then memory (in place), so a failed write changes nothing. */
  commit(r: SandboxRecord, info: Partial<SandboxInfo>, rest: Partial<Omit<SandboxRecord, 'info'>> = {}): void {
    this.table.put({ ...r, ...rest, info: { ...r.info, ...info } });
    Object.assign(r, rest);
    Object.assign(r.info, info);
  }

  setContainerHooks(hooks: ContainerHooks): void {
    this.hooks = hooks;
  }

  /** Full id from an id or a unique prefix of one; undefined when none matches. */
  resolve(idOrPrefix: string): string | undefined {
    if (this.records.has(idOrPrefix)) return idOrPrefix;
    if (!idOrPrefix) return undefined;
    const hits = [...this.records.keys()].filter((k) => k.startsWith(idOrPrefix));
    if (hits.length > 1) throw new InvalidArgumentError(`sandbox id prefix "${idOrPrefix}" is ambiguous (${hits.length} sandboxes)`);
    return hits[0];
  }

  record(id: string): SandboxRecord {
    const full = this.resolve(id);
    const r = full ? this.records.get(full) : undefined;
    if (!r) throw new NotFoundError(`pod sandbox "${id}" not found`);
    return r;
  }

  get(id: string): SandboxInfo {
    return this.record(id).info;
  }

  list(): SandboxInfo[] {
    return [...this.iterate()];
  }

  /** Every sandbox, straight from the index (one removed meanwhile is not yielded). */
  *iterate(): Generator<SandboxInfo> {
    for (const r of this.records.values()) yield r.info;
  }

  runtime(handler: string): { path: string; root: string } {
    const h = this.o.config.runtime.handlers[handler];
    if (!h) throw new InvalidArgumentError(`unknown runtime handler "${handler}"`);
    return { path: h.path, root: h.root || path.join(this.o.config.state, 'runtime', handler) };
  }

  /**
   * RunPodSandbox: validates, then creates the sandbox. A retry of the same request joins the
   * call in flight or, within the window, gets the sandbox it made (kubelet retries after its
   * own timeout) instead of "name is reserved".
   */
  async run(req: SandboxRequest): Promise<string> {
    const c = this.o.config;
    const handler = await validateRequest(req, c.runtime.handlers, c.runtime.default_handler);
    this.o.cgroups.podParent(req.cgroupParent);
    const key = this.nameKey(req);
    const fingerprint = fingerprintOf({ ...req, runtimeHandler: handler });
    return this.requests.run(key, fingerprint, () => {
      const existing = this.byName.get(key);
      if (existing) throw new AlreadyExistsError(`pod sandbox name "${key}" is already used by sandbox ${existing}`);
      return createSandbox(this, req, handler, fingerprint);
    }, (id) => this.records.get(id)?.info.state === 'SANDBOX_READY');
  }

  /**
   * Runs `fn` with the pod's lock held shared, once the pod is READY (FailedPreconditionError
   * naming `what` otherwise): StopPodSandbox and RemovePodSandbox hold it alone, so no
   * container is created or started in a pod that is stopping.
   */
  async withReadySandbox<T>(id: string, what: string, fn: (info: SandboxInfo) => Promise<T>): Promise<T> {
    const full = this.record(id).info.id;
    return this.locks.runShared(full, async () => {
      const r = this.records.get(full);
      if (!r) throw new NotFoundError(`pod sandbox "${full}" not found: cannot ${what}`);
      if (r.info.state !== 'SANDBOX_READY') throw new FailedPreconditionError(`pod sandbox "${full}" is not ready: cannot ${what}`);
      return fn(r.info);
    });
  }

  /**
   * Network down and pause gone: what StopPodSandbox leaves. With `all`, also pins, shm, files.
   * Returns what is still up (networkAttached, pauseDeleted) and the failures, never throws.
   */
  private async teardown(rec: SandboxRecord, all: boolean): Promise<{ left: Pick<SandboxRecord, 'networkAttached' | 'pauseDeleted'>; errors: string[] }> {
    const { info } = rec;
    const left = { networkAttached: rec.networkAttached, pauseDeleted: rec.pauseDeleted };
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${errorMessage(err)}`);
      }
    };
    await Promise.all([
      step('network', async () => {
        if (left.networkAttached) await this.o.cni.del(info.id);
        left.networkAttached = false;
      }),
      step('pause', async () => {
        if (info.pidMode === 'POD' && !left.pauseDeleted) {
          const rt = this.runtime(info.runtimeHandler);
          await stopPause(rt.path, rec.runtimeRoot ?? rt.root, info.id, info.pausePid, this.o.cgroups.runtimeFlags(rec.pauseCgroupsPath));
          left.pauseDeleted = true;
        }
      }),
    ]);
    if (all && !errors.length) {
      await step('namespaces', () => unpinNamespaces(this.nsDir, info.id));
      await step('shm', async () => info.shmPath && umount(info.shmPath));
      await step('pause bundle', () => removePauseBundle(path.join(this.sandboxesDir, info.id, 'pause')));
      await step('files', () => rm(path.join(this.sandboxesDir, info.id), { recursive: true, force: true }));
      if (rec.podCgroupOwner === 'berth') await step('pod cgroup', () => releasePodCgroup(info.cgroupParent));
    }
    return { left, errors };
  }

  /** Stops the containers, then the network and pause; NOTREADY once all of it is down. */
  private async stopLocked(rec: SandboxRecord): Promise<void> {
    await this.hooks?.stopAll(rec.info.id);
    const wasStopped = rec.info.state === 'SANDBOX_NOTREADY' && !rec.networkAttached && (rec.info.pidMode !== 'POD' || rec.pauseDeleted);
    const { left, errors } = await this.teardown(rec, false);
    if (wasStopped) return; // a repeated stop: nothing changed, nothing to write
    // What did come down is written even when a step failed: a retry does only the rest.
    this.commit(rec, errors.length ? {} : { state: 'SANDBOX_NOTREADY', pausePid: undefined }, left);
    if (errors.length) throw new Error(`stop pod sandbox ${rec.info.id}: ${errors.join('; ')}`);
    this.emit('CONTAINER_STOPPED_EVENT', rec.info.id);
  }

  emit(type: SandboxEvent['type'], sandboxId: string): void {
    const ev: SandboxEvent = { type, sandboxId, createdAt: BigInt(Date.now()) * 1_000_000n };
    try {
      this.events.emit('event', ev);
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err), event: type, sandbox: sandboxId }, 'sandbox event listener failed');
    }
  }

  /** StopPodSandbox: idempotent; an unknown id is not an error (it may be removed already). */
  async stop(id: string): Promise<void> {
    const full = this.resolve(id);
    if (!full) return;
    await this.locks.run(full, async () => {
      const rec = this.records.get(full);
      if (rec) await this.stopLocked(rec);
    });
  }

  /** RemovePodSandbox: stops if needed, removes containers, pins, shm, files and the record. */
  async remove(id: string): Promise<void> {
    const full = this.resolve(id);
    if (!full) return;
    await this.locks.run(full, async () => {
      const rec = this.records.get(full);
      if (!rec) return;
      await this.stopLocked(rec);
      await this.hooks?.removeAll(full);
      const { errors } = await this.teardown(rec, true);
      if (errors.length) throw new Error(`remove pod sandbox ${full}: ${errors.join('; ')}`);
      this.table.delete(full);
      this.emit('CONTAINER_DELETED_EVENT', full);
      this.records.delete(full);
      if (this.byName.get(this.nameKey(rec.info)) === full) this.byName.delete(this.nameKey(rec.info));
      this.requests.forget(this.nameKey(rec.info));
      this.o.log.info({ sandbox: full }, 'pod sandbox removed');
    });
  }

  /**
   * UpdatePodSandboxResources: records the pod's new overhead and resources and, when berth made
   * the pod's cgroup, writes its limits (kubelet has written its own cgroup before calling).
   */
  async updateResources(id: string, update: { overhead?: ResourcesInput; resources?: ResourcesInput }): Promise<void> {
    const rec = this.record(id);
    await this.locks.run(rec.info.id, async () => {
      if (!this.records.has(rec.info.id)) throw new NotFoundError(`pod sandbox "${id}" not found`);
      if (rec.info.state !== 'SANDBOX_READY') throw new FailedPreconditionError(`pod sandbox "${rec.info.id}" is not ready: its resources cannot change`);
      const linux = { ...rec.info.linux };
      if (update.overhead) linux.overhead = update.overhead;
      if (update.resources) linux.resources = update.resources;
      this.commit(rec, { linux });
      if (rec.podCgroupOwner === 'berth') await this.applyPodLimits(rec);
    });
  }

  async applyPodLimits(rec: SandboxRecord): Promise<void> {
    const limits = podCgroupLimits(rec.info.linux.resources, rec.info.linux.overhead);
    if (limits) await writePodCgroup(rec.info.cgroupParent, limits);
  }

  /** The pod's cgroup and who manages it, for verbose status. */
  podCgroup(id: string): { path: string; managedBy: PodCgroupOwner } {
    const rec = this.record(id);
    const legacy = rec.info.cgroupParent === this.o.config.runtime.cgroup_parent ? 'shared' : 'kubelet';
    return { path: rec.info.cgroupParent, managedBy: rec.podCgroupOwner ?? legacy };
  }

  /** The CNI result of the sandbox's attachment, for verbose status. */
  async networkResult(id: string): Promise<CniResult | undefined> {
    return this.o.cni.cachedResult(id);
  }
}
