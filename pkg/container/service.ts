// Container lifecycle: CreateContainer … RemoveContainer, ExecSync, log reopen and resource
// updates. Records live in SQLite and in memory (List is served from memory); work on one
// container is serialised, different containers run in parallel. Exits come from conmon's exit
// files (exits.ts); recovery after a daemon restart is in recover.ts.
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Cgroups } from '../cgroups/cgroups.js';
import { OomKillWatch } from '../cgroups/oom-watch.js';
import type { ResolvedEdits } from '../cdi/edits.js';
import type { BerthConfig } from '../config/config.js';
import { AlreadyExistsError, DeadlineExceededError, FailedPreconditionError, InvalidArgumentError, NotFoundError, errorMessage } from '../errors/errors.js';
import type { ImageService } from '../image/types.js';
import type { Logger } from '../log/log.js';
import type { ContainerHooks, SandboxService } from '../sandbox/types.js';
import type { Store } from '../store/store.js';
import { deliverSignal } from './deliver.js';
import { readRegularFile } from '../sys/files.js';
import { ExitWatcher } from './exits.js';
import { hasImageVolumes, unmountImageVolumes } from './image-volumes.js';
import { clampTimer } from '../process/run.js';
import { KeyedMutex } from '../sync/keyed-mutex.js';
import { Phases } from '../log/phases.js';
import { fingerprintOf, RequestCache } from '../sync/request-cache.js';
import type { OciProcess, OciSpec } from './oci.js';
import { unmountRootfs } from './rootfs.js';
import { Trash } from '../sys/trash.js';
import { RuntimeDriver, type ContainerRuntime, type RuntimeHandler } from './runtime.js';
import { buildResources, type HostFacts } from './spec.js';
import { ContainerTable, nameKey, type ContainerRecord } from './store.js';
import { ExecMixin } from './exec.js';
import { createContainer } from './create.js';
import { ImageUserFilesCache } from './image-user-files.js';
import { startLocked, updateSpecResources } from './start.js';
import { checkResources, validateContainerConfig } from './request.js';
import type {
  ContainerConfigInput, ContainerEvent, ContainerEventType, ContainerEvents, ContainerFilter, ContainerInfo,
  ContainerService, ResourcesInput,
} from './types.js';

export interface ContainerManagerOptions {
  config: BerthConfig;
  cgroups: Cgroups;
  log: Logger;
  store: Store;
  sandboxes: SandboxService;
  images: ImageService;
  host: HostFacts;
  /** The OCI runtime (conmon + runc/crun by default; a fake in unit tests). */
  driver?: ContainerRuntime;
  /** CDI devices by qualified name (pkg/cdi); without it a container asking for one is refused. */
  cdi?: { resolve(names: string[]): Promise<ResolvedEdits | undefined> };
}

let lastNs = 0n;
/**
 * Wall-clock nanoseconds for record timestamps. Date.now() has millisecond resolution; the hrtime
 * fraction added for ordering wraps once a millisecond out of step with it, so a later call could
 * read up to 1 ms earlier: such a step back is held at the last value + 1 (a real clock step back,
 * 1 ms or more, passes through).
 */
export const nowNs = (): bigint => {
  const t = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  lastNs = t > lastNs || lastNs - t >= 1_000_000n ? t : lastNs + 1n;
  return lastNs;
};

const TERMINATION_MESSAGE_MAX = 4096;
/** A kubelet retry of an identical CreateContainer within this window gets the same container back. */
const RETRY_WINDOW_MS = 5 * 60_000;
/** Exit code recorded for a container the runtime could not start (containerd's value). */
export const START_ERROR_EXIT_CODE = 128;
/** conmon's exit code for a process killed by SIGKILL (128 + 9), as an OOM kill ends it. */
const SIGKILL_EXIT_CODE = 137;
/** How long ReopenContainerLog waits for conmon to make the new log file. */
const REOPEN_WAIT_MS = 5000;

export class ContainerManager extends ExecMixin implements ContainerService {
  readonly events = new EventEmitter() as ContainerEvents;
  readonly records = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  /** CreateContainer calls in flight and recently finished, by name key (kubelet retries). */
  readonly requests = new RequestCache<string>({ windowMs: RETRY_WINDOW_MS, what: 'container' });
  readonly locks = new KeyedMutex();
  readonly table: ContainerTable;
  readonly driver: ContainerRuntime;
  readonly exits: ExitWatcher;
  /** OOM kills seen while containers run (v2: a systemd scope's cgroup is gone by the exit). */
  readonly oomWatch: OomKillWatch;
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  /** Containers whose runtime state was deleted once their exit was recorded (memory only: after a restart remove deletes again, which is harmless). */
  private readonly runtimeDeleted = new Set<string>();
  /**
   * The exit path's runtime deletes in flight, with the pod of each: RemoveContainer leaves them
   * to finish; RemovePodSandbox waits for its pod's, also of containers removed before it.
   */
  private readonly runtimeDeletes = new Map<string, { sandboxId: string; done: Promise<void> }>();
  /** The exit path's unmounts of exited containers, true once done (memory only: after a restart remove unmounts). */
  private readonly unmounts = new Map<string, Promise<boolean>>();
  readonly bundlesDir: string;
  /** Each image's /etc/passwd and /etc/group, read at its first CreateContainer (image-user-files.ts). */
  readonly imageUserFiles = new ImageUserFilesCache();
  /** Where RemoveContainer moves a container's directories to be deleted in the background: bundle and attach dir (state), writable layer (root). */
  readonly trash: { state: Trash; root: Trash };

  constructor(readonly o: ContainerManagerOptions) {
    super();
    this.table = new ContainerTable(o.store);
    this.bundlesDir = path.join(o.config.state, 'containers');
    this.trash = { state: new Trash(path.join(o.config.state, 'trash'), o.log), root: new Trash(path.join(path.dirname(o.images.writableLayerRoot()), 'trash'), o.log) };
    const exitDir = path.join(o.config.state, 'exits');
    this.driver = o.driver ?? new RuntimeDriver({
      conmon: o.config.runtime.conmon, exitDir, socketDir: path.join(o.config.state, 'attach'),
      logLevel: 'error', createTimeoutMs: 120_000,
      launch: (id, conmon, args) => o.cgroups.conmon(id, conmon, args),
    });
    this.exits = new ExitWatcher(exitDir, (id, code) => this.onExit(id, code));
    this.oomWatch = new OomKillWatch((cg) => o.cgroups.memoryEventsFile(cg));
  }

  /** The runtime of handler `name`, with the flags of the cgroup driver that made `cgroupsPath`. */
  handler(name: string, cgroupsPath?: string): RuntimeHandler {
    const h = this.o.config.runtime.handlers[name];
    if (!h) throw new InvalidArgumentError(`unknown runtime handler "${name}"`);
    return { name, path: h.path, root: h.root || path.join(this.o.config.state, 'runtime', name), flags: this.o.cgroups.runtimeFlags(cgroupsPath) };
  }

  emit(type: ContainerEventType, info: ContainerInfo): void {
    const e: ContainerEvent = { type, containerId: info.id, sandboxId: info.sandboxId, createdAt: nowNs() };
    this.events.emit('event', e);
  }

  index(r: ContainerRecord): void {
    this.records.set(r.info.id, r);
    this.byName.set(nameKey(r.info), r.info.id);
  }

  /** Stores a new record: the database first, then memory. */
  save(r: ContainerRecord): void {
    this.table.put(r);
    this.index(r);
  }

  /**
   * Changes a record: the database first, then memory, so a failed write changes nothing.
   * The record object keeps its identity (callers hold it across awaits).
   */
  commit(r: ContainerRecord, patch: Partial<ContainerInfo>): void {
    this.commitRecord(r, {}, patch);
  }

  /** As commit, with the record's own fields (beside its info) changed too. */
  commitRecord(r: ContainerRecord, own: Partial<Omit<ContainerRecord, 'info'>>, info: Partial<ContainerInfo> = {}): void {
    this.table.put({ ...r, ...own, info: { ...r.info, ...info } });
    Object.assign(r, own);
    Object.assign(r.info, info);
  }

  resolve(idOrPrefix: string): string | undefined {
    if (this.records.has(idOrPrefix)) return idOrPrefix;
    if (!idOrPrefix) return undefined;
    const hits = [...this.records.keys()].filter((k) => k.startsWith(idOrPrefix));
    if (hits.length > 1) throw new InvalidArgumentError(`container id prefix "${idOrPrefix}" is ambiguous (${hits.length} containers)`);
    return hits[0];
  }

  record(id: string): ContainerRecord {
    const full = this.resolve(id);
    const r = full ? this.records.get(full) : undefined;
    if (!r) throw new NotFoundError(`container "${id}" not found`);
    return r;
  }

  get(id: string): ContainerInfo {
    return this.record(id).info;
  }

  list(f: ContainerFilter = {}): ContainerInfo[] {
    return [...this.iterate(f)];
  }

  /**
   * The containers that match, straight from the index: nothing is copied, and a container
   * removed while the caller waits between items is not yielded.
   */
  *iterate(f: ContainerFilter = {}): Generator<ContainerInfo> {
    for (const r of this.records.values()) {
      const i = r.info;
      if (f.id && !i.id.startsWith(f.id)) continue;
      if (f.state && i.state !== f.state) continue;
      if (f.sandboxId && !i.sandboxId.startsWith(f.sandboxId)) continue;
      if (f.labelSelector && Object.entries(f.labelSelector).some(([k, v]) => i.labels[k] !== v)) continue;
      yield i;
    }
  }

  attachSocketPath(id: string): string {
    return path.join(this.record(id).info.bundle, 'attach');
  }

  controlPath(id: string): string {
    return path.join(this.record(id).info.bundle, 'ctl');
  }

  async ociSpec(id: string): Promise<unknown> {
    return JSON.parse(await readFile(path.join(this.record(id).info.bundle, 'config.json'), 'utf8')) as unknown;
  }

  /** Resolves true once the container's exit is recorded (at once if it is), false at the timeout or abort. */
  waitExit(id: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const r = this.records.get(id);
    if (!r || r.info.state === 'CONTAINER_EXITED') return Promise.resolve(true);
    return new Promise((resolve) => {
      const list = this.exitWaiters.get(id) ?? [];
      const giveUp = (): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', giveUp);
        const l = this.exitWaiters.get(id);
        if (l) this.exitWaiters.set(id, l.filter((x) => x !== done));
        resolve(false);
      };
      const t = setTimeout(giveUp, clampTimer(timeoutMs));
      signal?.addEventListener('abort', giveUp, { once: true });
      const done = (): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', giveUp);
        resolve(true);
      };
      list.push(done);
      this.exitWaiters.set(id, list);
    });
  }

  /** An exit file appeared: record it once (reason, message), wake stop() waiters, emit the event. */
  async onExit(id: string, code: number, why?: string): Promise<void> {
    const r = this.records.get(id);
    if (!r || r.info.state === 'CONTAINER_EXITED') return;
    if (r.awaitingRuntime) {
      // No process has run: the file is a failed create's, which start handles. Forgotten, so
      // the exit of a later successful start is reported.
      this.exits.forget(id);
      return;
    }
    const oom = code !== 0 && (await this.oomKilled(r, code));
    const message = await this.terminationMessage(r);
    if ((r.info.state as string) === 'CONTAINER_EXITED' || !this.records.has(id)) return; // raced with another report
    this.commit(r, {
      state: 'CONTAINER_EXITED', exitCode: code, finishedAt: nowNs(), reason: oom ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error',
      message: message || (why ?? ''), pid: 0,
    });
    this.exited(r);
  }

  /**
   * After an exit is recorded: wake stop() waiters, emit the event, free the runtime's state
   * (unless there is none: `runtime` false).
   */
  exited(r: ContainerRecord, o: { runtime: boolean } = { runtime: true }): void {
    const id = r.info.id;
    this.oomWatch.forget(id);
    for (const w of this.exitWaiters.get(id) ?? []) w();
    this.exitWaiters.delete(id);
    this.emit('CONTAINER_STOPPED_EVENT', r.info);
    // Nothing runs in the rootfs any more (an exited container is never started again): unmount
    // it now, as containerd does at task delete, so RemoveContainer has only to wait for it.
    this.unmounts.set(id, this.unmountAll(r).then(() => true, (err: unknown) => {
      this.o.log.debug({ id, err: errorMessage(err) }, 'unmount after exit failed; remove unmounts again');
      return false;
    }));
    if (!o.runtime) return;
    // Free the runtime's state and the cgroup now, off the caller's path. This delete is owned by
    // the exit path: RemoveContainer does not wait for it (a crash before it ends leaves a runtime
    // container with no record, which start-up reconciliation deletes); if it failed before the
    // remove, the remove runs its own.
    const h = this.handler(r.info.runtimeHandler, r.info.cgroupsPath);
    const done = this.locks.run(`delete:${id}`, () => this.driver.delete(h, id, { background: true })).then(() => {
      if (this.records.has(id)) this.runtimeDeleted.add(id);
    }, (err: unknown) => {
      if (this.records.has(id)) this.o.log.debug({ id, err: errorMessage(err) }, 'runtime delete after exit failed; remove runs it again');
      else this.o.log.warn({ id, err: errorMessage(err) }, 'runtime delete of a removed container failed; start-up reconciliation removes it');
    }).finally(() => this.runtimeDeletes.delete(id));
    this.runtimeDeletes.set(id, { sandboxId: r.info.sandboxId, done });
  }

  /** The container's image volumes and rootfs (idempotent). */
  private async unmountAll(r: ContainerRecord): Promise<void> {
    // Only a container with image volumes has their directory to read (a trip through the thread pool).
    if (hasImageVolumes(r.info.config.mounts)) await unmountImageVolumes(r.info.bundle);
    await unmountRootfs(r.rootfs);
  }

  /** `runtime delete`, unless the exit path's is done (it holds the same lock). */
  private deleteRuntime(r: ContainerRecord): Promise<void> {
    const id = r.info.id;
    return this.locks.run(`delete:${id}`, async () => {
      if (this.runtimeDeleted.has(id)) return;
      await this.driver.delete(this.handler(r.info.runtimeHandler, r.info.cgroupsPath), id);
    });
  }

  /**
   * The v2 watch (own count, or the pod's for a SIGKILLed container whose cgroup is gone),
   * conmon's oom file, or the v1 memory cgroup's oom_kill count (memory.oom_control), which
   * outlives the exit until the runtime deletes the cgroup.
   */
  private async oomKilled(r: ContainerRecord, code: number): Promise<boolean> {
    if (await this.oomWatch.seen(r.info.id, code === SIGKILL_EXIT_CODE)) return true;
    if (await stat(path.join(r.info.bundle, 'oom')).then(() => true, () => false)) return true;
    return !!r.info.cgroupsPath && (await this.o.cgroups.oomKills(r.info.cgroupsPath)) > 0;
  }

  /** The file the container's termination message is in: the first 4 KiB of a regular file, never blocking. */
  private async terminationMessage(r: ContainerRecord): Promise<string> {
    const want = r.info.annotations['io.kubernetes.container.terminationMessagePath'] || '/dev/termination-log';
    const m = r.info.config.mounts.find((x) => path.posix.normalize(x.containerPath) === want);
    if (!m) return '';
    const read = await readRegularFile(m.hostPath, TERMINATION_MESSAGE_MAX).catch(() => undefined);
    return read ? read.data.toString('utf8') : '';
  }

  /**
   * CreateContainer, holding the pod's lock shared (a StopPodSandbox/RemovePodSandbox waits for
   * it, and one that runs first makes it fail). A retry of the same request joins the call in
   * flight or gets the container it made (kubelet retries after its own timeout).
   */
  async create(sandboxId: string, cfg: ContainerConfigInput): Promise<string> {
    validateContainerConfig(cfg);
    const sbId = this.o.sandboxes.get(sandboxId).id;
    const key = nameKey({ sandboxId: sbId, name: cfg.name, attempt: cfg.attempt });
    const fingerprint = fingerprintOf({ sandboxId: sbId, cfg });
    return this.requests.run(key, fingerprint, () =>
      this.o.sandboxes.withReadySandbox(sbId, `create container "${cfg.name}"`, (sb) => {
        const holder = this.byName.get(key);
        if (holder) throw new AlreadyExistsError(`container name "${cfg.name}" (attempt ${cfg.attempt}) is already in use in pod sandbox "${sb.id}" by ${holder}`);
        return createContainer(this, sb, cfg, fingerprint);
      }), (id) => this.records.has(id));
  }

  /** StartContainer: only from CREATED, in a READY pod (the pod's lock held shared); start.ts. */
  async start(id: string): Promise<void> {
    const r = this.record(id);
    await this.o.sandboxes.withReadySandbox(r.info.sandboxId, `start container "${r.info.id}"`, () => this.locks.run(r.info.id, () => startLocked(this, r)));
  }

  /** StopContainer: idempotent; a container that is gone already is not an error (as CRI asks). */
  async stop(id: string, timeoutSec: number): Promise<void> {
    const full = this.resolve(id);
    const r = full ? this.records.get(full) : undefined;
    if (!r) return;
    await this.locks.run(r.info.id, () => this.stopLocked(r, timeoutSec));
  }

  private signal(r: ContainerRecord, sig: NodeJS.Signals | number): boolean {
    try {
      if (r.info.pid > 0) process.kill(r.info.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  async stopLocked(r: ContainerRecord, timeoutSec: number): Promise<void> {
    if (r.info.state === 'CONTAINER_EXITED') return;
    const phases = new Phases();
    await this.stopRunning(r, timeoutSec, phases);
    phases.mark('exited');
    this.o.log.debug({ id: r.info.id, phases: phases.ms }, 'container stopped');
  }

  /** The steps of a stop, each marked in `phases` (the debug line's timeline). */
  private async stopRunning(r: ContainerRecord, timeoutSec: number, phases: Phases): Promise<void> {
    const id = r.info.id;
    if (r.awaitingRuntime) {
      // Nothing runs yet: the container ends as if killed (as it did when its runtime init
      // was killed), and can no longer be started.
      this.commit(r, { state: 'CONTAINER_EXITED', exitCode: SIGKILL_EXIT_CODE, reason: 'Error', message: 'stopped before it was started', finishedAt: nowNs() });
      this.exited(r, { runtime: false });
      return;
    }
    // An exit file may be there already while its event is still on the way.
    if ((await this.exits.check(id)) !== undefined) return;
    phases.mark('exitFile');
    if (timeoutSec > 0 && r.info.state === 'CONTAINER_RUNNING') {
      const deadline = Date.now() + timeoutSec * 1000;
      const exited = (ms: number): Promise<boolean> => this.waitExit(id, ms);
      if (r.info.pid > 0 && (await deliverSignal(r.info.pid, r.info.stopSignal, exited, deadline))) return;
      phases.mark('signal');
      if (await exited(Math.max(0, deadline - Date.now()))) return;
    }
    const h = this.handler(r.info.runtimeHandler, r.info.cgroupsPath);
    if (r.ownPidNs) this.signal(r, 'SIGKILL');
    else await this.driver.kill(h, id, 'KILL', true).catch(() => this.signal(r, 'SIGKILL'));
    phases.mark('kill');
    // conmon reports the exit within milliseconds; if it does not, conmon itself may be gone
    // (killed), so ask the runtime (which counts an unreaped zombie as stopped) now and then.
    for (let waited = 0; waited < 30_000; waited += 2000) {
      if (await this.waitExit(id, 2000)) return;
      const st = await this.driver.state(h, id);
      if (!st || st.status === 'stopped') {
        if ((await this.exits.check(id)) !== undefined) return;
        await this.onExit(id, 137, 'killed; its monitor (conmon) was gone, so the exit code is assumed');
        return;
      }
    }
    throw new FailedPreconditionError(`container "${id}" did not exit within 30 s of SIGKILL`);
  }

  async remove(id: string): Promise<void> {
    const full = this.resolve(id);
    const r = full ? this.records.get(full) : undefined;
    if (!r) return;
    await this.locks.run(r.info.id, async () => {
      if (!this.records.has(r.info.id)) return;
      const phases = new Phases();
      if (!r.awaitingRuntime && r.info.state !== 'CONTAINER_EXITED') await this.stopLocked(r, 0);
      phases.mark('stop');
      // The runtime's delete (usually the exit path's, still in flight) touches neither the rootfs
      // nor the bundle, so they go meanwhile; the record goes once both are done.
      const runtime = async (): Promise<void> => {
        const owned = this.runtimeDeletes.has(r.info.id) || this.runtimeDeleted.has(r.info.id);
        if (!r.awaitingRuntime && !owned) await this.deleteRuntime(r);
        phases.mark('runtime');
      };
      const files = async (): Promise<void> => {
        if (!(await this.unmounts.get(r.info.id))) await this.unmountAll(r);
        phases.mark('unmount');
        // Deleted off the call's path: what a crash leaves in the trash goes at the next start.
        await Promise.all([
          this.trash.state.discard(r.info.bundle), this.trash.root.discard(r.layerDir),
          // The exit file too: a rename, where an unlink would queue behind the thread pool's work.
          this.trash.state.discard(path.join(this.driver.socketDir, r.info.id)), this.trash.state.discard(path.join(this.driver.exitDir, r.info.id)),
        ]);
        phases.mark('dirs');
      };
      const failed = (await Promise.allSettled([runtime(), files()])).find((x) => x.status === 'rejected');
      if (failed) throw failed.reason;
      this.exits.forget(r.info.id);
      this.oomWatch.forget(r.info.id);
      this.runtimeDeleted.delete(r.info.id);
      this.unmounts.delete(r.info.id);
      this.table.delete(r.info.id);
      this.records.delete(r.info.id);
      this.byName.delete(nameKey(r.info));
      this.requests.forget(nameKey(r.info));
      this.emit('CONTAINER_DELETED_EVENT', r.info);
      phases.mark('record');
      this.o.log.debug({ id: r.info.id, phases: phases.ms }, 'container removed');
    });
  }

  /**
   * ReopenContainerLog: asks conmon to reopen the log and waits until the file is there again.
   * A container that exits meanwhile (conmon then never reopens) ends the wait at once.
   */
  async reopenLog(id: string): Promise<void> {
    const r = this.record(id);
    const notRunning = () => new FailedPreconditionError(`container "${r.info.id}" is not running: its log cannot be reopened`);
    if (r.info.state !== 'CONTAINER_RUNNING') throw notRunning();
    try {
      await this.driver.control(r.info.bundle, '2 0 0');
    } catch (err) {
      throw new FailedPreconditionError(`reopen log of container "${r.info.id}": ${errorMessage(err)}`);
    }
    if (!r.info.logPath) return;
    const ends = new AbortController();
    const exited = this.waitExit(r.info.id, REOPEN_WAIT_MS, ends.signal).then((yes) => (yes ? 'exited' : 'timeout'));
    const outcome = await Promise.race([waitForFile(r.info.logPath, REOPEN_WAIT_MS, ends.signal).then((ok) => (ok ? 'reopened' : 'timeout')), exited]);
    ends.abort();
    if (outcome === 'exited') throw notRunning();
    if (outcome === 'timeout') throw new DeadlineExceededError(`reopen log of container "${r.info.id}": conmon did not recreate ${r.info.logPath} within ${REOPEN_WAIT_MS / 1000} s`);
  }

  async updateResources(id: string, res: ResourcesInput): Promise<void> {
    const r = this.record(id);
    await this.locks.run(r.info.id, async () => {
      if (r.info.state === 'CONTAINER_EXITED') throw new FailedPreconditionError(`container "${r.info.id}" has exited`);
      checkResources('linux', res);
      const oci = buildResources(res, this.o.host.cgroupV2);
      try {
        // Not made by the runtime yet: the spec it will be made from takes the new limits.
        if (r.awaitingRuntime) await updateSpecResources(this, r, res);
        else await this.driver.update(this.handler(r.info.runtimeHandler, r.info.cgroupsPath), r.info.id, oci, r.info.bundle);
      } catch (err) {
        throw new InvalidArgumentError(`update resources of container "${r.info.id}": ${errorMessage(err)}`);
      }
      this.commit(r, { config: { ...r.info.config, resources: res } });
    });
  }

  /** What the sandbox service calls so that stopping or removing a pod covers its containers. */
  sandboxHooks(): ContainerHooks {
    const ofSandbox = (sb: string): ContainerInfo[] => this.list().filter((c) => c.sandboxId === sb);
    return {
      stopAll: async (sb) => void (await Promise.all(ofSandbox(sb).map((c) => this.stop(c.id, 0)))),
      removeAll: async (sb) => {
        await Promise.all(ofSandbox(sb).map((c) => this.remove(c.id)));
        // The pod's cgroup goes next: the runtime must have removed the containers' own first,
        // also those of containers removed before (RemoveContainer does not wait for it).
        await Promise.all([...this.runtimeDeletes.values()].filter((d) => d.sandboxId === sb).map((d) => d.done));
      },
    };
  }

  /** Resolves once the background work of exits and removals is done: unmounts, runtime deletes, deletions in the trash (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.unmounts.values(), ...[...this.runtimeDeletes.values()].map((d) => d.done)]);
    await Promise.all([this.trash.state.idle(), this.trash.root.idle()]);
  }

  close(): void {
    this.exits.close();
    this.oomWatch.close();
  }

  /** The process of the container's spec, with another command, for exec. */
  async execProcess(r: ContainerRecord, cmd: string[]): Promise<OciProcess> {
    if (!cmd.length) throw new InvalidArgumentError('exec: empty command');
    const spec = JSON.parse(await readFile(path.join(r.info.bundle, 'config.json'), 'utf8')) as OciSpec;
    return { ...spec.process, args: cmd, terminal: false };
  }
}

/**
 * runc logs in logrus format; keep the msg="…" text of its error when there is one. Warnings come
 * first (under the systemd driver runc warns of every absent device before failing), so the
 * error's line wins over the first line.
 */
export function runtimeMessage(err: unknown): string {
  const m = errorMessage(err);
  const msg = (level: string) => new RegExp(`${level}msg="((?:[^"\\\\]|\\\\.)*)"`).exec(m);
  const inner = msg('level=(?:error|fatal) ') ?? msg('');
  if (!inner) return m;
  return `${m.slice(0, m.indexOf(':') + 1)} ${inner[1]!.replace(/\\"/g, '"')}`;
}

/** Resolves true when `file` exists (inotify on its directory), false after timeoutMs or an abort. */
async function waitForFile(file: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const exists = (): Promise<boolean> => stat(file).then(() => true, () => false);
  if (await exists()) return true;
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const w = watch(path.dirname(file), () => void exists().then((ok) => ok && finish(true)));
    w.on('error', () => finish(false));
    const t = setTimeout(() => finish(false), clampTimer(timeoutMs));
    signal?.addEventListener('abort', () => finish(false), { once: true });
    function finish(ok: boolean): void {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      w.close();
      resolve(ok);
    }
    void exists().then((ok) => ok && finish(true));
  });
}
