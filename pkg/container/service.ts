// Container lifecycle: CreateContainer … RemoveContainer, ExecSync, log reopen and resource
// updates. Records live in SQLite and in memory (List is served from memory); work on one
// container is serialised, different containers run in parallel. Exits come from conmon's exit
// files (exits.ts); recovery after a daemon restart is in recover.ts.
import { EventEmitter } from 'node:events';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BerthConfig } from '../config/config.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, errorMessage } from '../errors/errors.js';
import type { ImageService } from '../image/types.js';
import type { Logger } from '../log/log.js';
import type { SandboxService } from '../sandbox/types.js';
import type { Store } from '../store/store.js';
import { deliverSignal } from './deliver.js';
import { readRegularFile } from '../sys/files.js';
import { ExitWatcher } from './exits.js';
import { unmountImageVolumes } from './image-volumes.js';
import { KeyedMutex } from '../sync/keyed-mutex.js';
import type { OciProcess, OciSpec } from './oci.js';
import { removeDirs, unmountRootfs } from './rootfs.js';
import { RuntimeDriver, type RuntimeHandler } from './runtime.js';
import { buildResources, type HostFacts } from './spec.js';
import { ContainerTable, nameKey, type ContainerRecord } from './store.js';
import { ExecMixin } from './exec.js';
import { createContainer } from './create.js';
import { checkResources, validateContainerConfig } from './request.js';
import type {
  ContainerConfigInput, ContainerEvent, ContainerEventType, ContainerEvents, ContainerFilter, ContainerInfo,
  ContainerService, ResourcesInput,
} from './types.js';

export interface ContainerManagerOptions {
  config: BerthConfig;
  log: Logger;
  store: Store;
  sandboxes: SandboxService;
  images: ImageService;
  host: HostFacts;
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);

const TERMINATION_MESSAGE_MAX = 4096;

export class ContainerManager extends ExecMixin implements ContainerService {
  readonly events = new EventEmitter() as ContainerEvents;
  readonly records = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  private readonly reserved = new Set<string>();
  readonly locks = new KeyedMutex();
  readonly table: ContainerTable;
  readonly driver: RuntimeDriver;
  readonly exits: ExitWatcher;
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  readonly bundlesDir: string;

  constructor(readonly o: ContainerManagerOptions) {
    super();
    this.table = new ContainerTable(o.store);
    this.bundlesDir = path.join(o.config.state, 'containers');
    const exitDir = path.join(o.config.state, 'exits');
    this.driver = new RuntimeDriver({
      conmon: o.config.runtime.conmon, exitDir, socketDir: path.join(o.config.state, 'attach'),
      logLevel: 'error', createTimeoutMs: 120_000,
    });
    this.exits = new ExitWatcher(exitDir, (id, code) => this.onExit(id, code));
  }

  handler(name: string): RuntimeHandler {
    const h = this.o.config.runtime.handlers[name];
    if (!h) throw new InvalidArgumentError(`unknown runtime handler "${name}"`);
    return { name, path: h.path, root: h.root || path.join(this.o.config.state, 'runtime', name) };
  }

  emit(type: ContainerEventType, info: ContainerInfo): void {
    const e: ContainerEvent = { type, containerId: info.id, sandboxId: info.sandboxId, createdAt: nowNs() };
    this.events.emit('event', e);
  }

  index(r: ContainerRecord): void {
    this.records.set(r.info.id, r);
    this.byName.set(nameKey(r.info), r.info.id);
  }

  save(r: ContainerRecord): void {
    this.table.put(r);
    this.index(r);
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

  /** Resolves once the container's exit is recorded (or at once if it already is). */
  waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const r = this.records.get(id);
    if (!r || r.info.state === 'CONTAINER_EXITED') return Promise.resolve(true);
    return new Promise((resolve) => {
      const list = this.exitWaiters.get(id) ?? [];
      const t = setTimeout(() => {
        const l = this.exitWaiters.get(id);
        if (l) this.exitWaiters.set(id, l.filter((x) => x !== done));
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      list.push(done);
      this.exitWaiters.set(id, list);
    });
  }

  /** An exit file appeared: record it once (reason, message), wake stop() waiters, emit the event. */
  async onExit(id: string, code: number): Promise<void> {
    const r = this.records.get(id);
    if (!r || r.info.state === 'CONTAINER_EXITED') return;
    const oom = code !== 0 && (await this.oomKilled(r));
    const message = await this.terminationMessage(r);
    if ((r.info.state as string) === 'CONTAINER_EXITED' || !this.records.has(id)) return; // raced with another report
    r.info.state = 'CONTAINER_EXITED';
    r.info.exitCode = code;
    r.info.finishedAt = nowNs();
    r.info.reason = oom ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error';
    r.info.message = message;
    r.info.pid = 0;
    this.save(r);
    for (const w of this.exitWaiters.get(id) ?? []) w();
    this.exitWaiters.delete(id);
    this.emit('CONTAINER_STOPPED_EVENT', r.info);
    // Free the runtime's state and the cgroup now, off the caller's path, so RemoveContainer has
    // less to do; remove repeats it (a container the runtime no longer knows is fine).
    const h = this.handler(r.info.runtimeHandler);
    void this.locks.run(`delete:${id}`, () => this.driver.delete(h, id)).catch((err: unknown) =>
      this.o.log.debug({ id, err: errorMessage(err) }, 'runtime delete after exit failed'));
  }

  /** conmon's oom file, or (cgroup v1) the memory cgroup's oom_kill count, which outlives the exit until delete. */
  private async oomKilled(r: ContainerRecord): Promise<boolean> {
    if (await stat(path.join(r.info.bundle, 'oom')).then(() => true, () => false)) return true;
    if (!r.cgroupsPath || this.o.host.cgroupV2) return false;
    const text = await readFile(path.join('/sys/fs/cgroup/memory', r.cgroupsPath, 'memory.oom_control'), 'utf8').catch(() => '');
    return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0) > 0;
  }

  /** The file the container's termination message is in: the first 4 KiB of a regular file, never blocking. */
  private async terminationMessage(r: ContainerRecord): Promise<string> {
    const want = r.info.annotations['io.kubernetes.container.terminationMessagePath'] || '/dev/termination-log';
    const m = r.info.config.mounts.find((x) => path.posix.normalize(x.containerPath) === want);
    if (!m) return '';
    const read = await readRegularFile(m.hostPath, TERMINATION_MESSAGE_MAX).catch(() => undefined);
    return read ? read.data.toString('utf8') : '';
  }

  async create(sandboxId: string, cfg: ContainerConfigInput): Promise<string> {
    validateContainerConfig(cfg);
    const sb = this.o.sandboxes.get(sandboxId);
    if (sb.state !== 'SANDBOX_READY') throw new FailedPreconditionError(`pod sandbox "${sb.id}" is not ready`);
    const key = nameKey({ sandboxId: sb.id, name: cfg.name, attempt: cfg.attempt });
    if (this.byName.has(key) || this.reserved.has(key)) {
      throw new AlreadyExistsError(`container name "${cfg.name}" (attempt ${cfg.attempt}) is already in use in pod sandbox "${sb.id}" by ${this.byName.get(key) ?? 'a CreateContainer in progress'}`);
    }
    this.reserved.add(key);
    try {
      return await createContainer(this, sb, cfg);
    } finally {
      this.reserved.delete(key);
    }
  }

  async start(id: string): Promise<void> {
    const r = this.record(id);
    await this.locks.run(r.info.id, async () => {
      if (r.info.state !== 'CONTAINER_CREATED') {
        throw new FailedPreconditionError(`container "${r.info.id}" is ${r.info.state.replace('CONTAINER_', '').toLowerCase()}, not created: it can only be started once`);
      }
      try {
        await this.driver.start(this.handler(r.info.runtimeHandler), r.info.id);
      } catch (err) {
        throw new FailedPreconditionError(`start container "${r.info.id}": ${runtimeMessage(err)}`);
      }
      r.info.startedAt = nowNs();
      // A container may have exited before we got here; its exit is already recorded.
      if ((r.info.state as string) === 'CONTAINER_CREATED') r.info.state = 'CONTAINER_RUNNING';
      this.save(r);
      this.emit('CONTAINER_STARTED_EVENT', r.info);
    });
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
    const id = r.info.id;
    if (r.info.state === 'CONTAINER_EXITED') return;
    // An exit file may be there already while its event is still on the way.
    if ((await this.exits.check(id)) !== undefined) return;
    if (timeoutSec > 0 && r.info.state === 'CONTAINER_RUNNING') {
      const deadline = Date.now() + timeoutSec * 1000;
      const exited = (ms: number): Promise<boolean> => this.waitExit(id, ms);
      if (r.info.pid > 0 && (await deliverSignal(r.info.pid, r.info.stopSignal, exited, deadline))) return;
      if (await exited(Math.max(0, deadline - Date.now()))) return;
    }
    const h = this.handler(r.info.runtimeHandler);
    if (r.ownPidNs) this.signal(r, 'SIGKILL');
    else await this.driver.kill(h, id, 'KILL', true).catch(() => this.signal(r, 'SIGKILL'));
    // conmon reports the exit within milliseconds; if it does not, conmon itself may be gone
    // (killed), so ask the runtime (which counts an unreaped zombie as stopped) now and then.
    for (let waited = 0; waited < 30_000; waited += 2000) {
      if (await this.waitExit(id, 2000)) return;
      const st = await this.driver.state(h, id);
      if (!st || st.status === 'stopped') {
        if ((await this.exits.check(id)) !== undefined) return;
        await this.onExit(id, 137);
        r.info.message = r.info.message || 'killed; its monitor (conmon) was gone, so the exit code is assumed';
        this.save(r);
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
      if (r.info.state !== 'CONTAINER_EXITED') await this.stopLocked(r, 0);
      const h = this.handler(r.info.runtimeHandler);
      await this.locks.run(`delete:${r.info.id}`, () => this.driver.delete(h, r.info.id));
      await unmountImageVolumes(r.info.bundle);
      await unmountRootfs(r.rootfs);
      await removeDirs(r.info.bundle, r.layerDir, path.join(this.driver.o.socketDir, r.info.id));
      await rm(path.join(this.driver.o.exitDir, r.info.id), { force: true });
      this.exits.forget(r.info.id);
      this.table.delete(r.info.id);
      this.records.delete(r.info.id);
      this.byName.delete(nameKey(r.info));
      this.emit('CONTAINER_DELETED_EVENT', r.info);
    });
  }

  async reopenLog(id: string): Promise<void> {
    const r = this.record(id);
    if (r.info.state !== 'CONTAINER_RUNNING') throw new FailedPreconditionError(`container "${r.info.id}" is not running`);
    try {
      await this.driver.control(r.info.bundle, '2 0 0');
    } catch (err) {
      throw new FailedPreconditionError(`reopen log of container "${r.info.id}": ${errorMessage(err)}`);
    }
    if (r.info.logPath) await waitForFile(r.info.logPath, 5000);
  }

  async updateResources(id: string, res: ResourcesInput): Promise<void> {
    const r = this.record(id);
    await this.locks.run(r.info.id, async () => {
      if (r.info.state === 'CONTAINER_EXITED') throw new FailedPreconditionError(`container "${r.info.id}" has exited`);
      checkResources('linux', res);
      const oci = buildResources(res, this.o.host.cgroupV2);
      try {
        await this.driver.update(this.handler(r.info.runtimeHandler), r.info.id, oci, r.info.bundle);
      } catch (err) {
        throw new InvalidArgumentError(`update resources of container "${r.info.id}": ${errorMessage(err)}`);
      }
      r.info.config = { ...r.info.config, resources: res };
      this.save(r);
    });
  }

  close(): void {
    this.exits.close();
  }

  /** The process of the container's spec, with another command, for exec. */
  async execProcess(r: ContainerRecord, cmd: string[]): Promise<OciProcess> {
    if (!cmd.length) throw new InvalidArgumentError('exec: empty command');
    const spec = JSON.parse(await readFile(path.join(r.info.bundle, 'config.json'), 'utf8')) as OciSpec;
    return { ...spec.process, args: cmd, terminal: false };
  }
}

/** runc logs in logrus format; keep its msg="…" text when there is one. */
export function runtimeMessage(err: unknown): string {
  const m = errorMessage(err);
  const inner = /msg="((?:[^"\\]|\\.)*)"/.exec(m);
  if (!inner) return m;
  return `${m.slice(0, m.indexOf(':') + 1)} ${inner[1]!.replace(/\\"/g, '"')}`;
}

/** Resolves when `file` exists (inotify on its directory), or after timeoutMs. */
async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const { watch } = await import('node:fs');
  const exists = (): Promise<boolean> => stat(file).then(() => true, () => false);
  if (await exists()) return;
  await new Promise<void>((resolve) => {
    const w = watch(path.dirname(file), () => void exists().then((ok) => ok && finish()));
    const t = setTimeout(finish, timeoutMs);
    function finish(): void {
      clearTimeout(t);
      w.close();
      resolve();
    }
    void exists().then((ok) => ok && finish());
  });
}
