// Pod sandbox lifecycle: RunPodSandbox, StopPodSandbox, RemovePodSandbox and the lookups the CRI
// handlers and the container module use. Records live in SQLite and in memory (List is served
// from memory); work on one sandbox is serialised, different sandboxes run in parallel.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BerthConfig } from '../config/config.js';
import type { CniManager } from '../cni/manager.js';
import { podIps, type CniResult } from '../cni/result.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, errorMessage } from '../errors/errors.js';
import type { ResourcesInput } from '../container/types.js';
import type { Logger } from '../log/log.js';
import type { Store } from '../store/store.js';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, mount, umount } from '../sys/mount.js';
import { mkdirHostPath } from '../sys/files.js';
import { renderHosts, renderResolvConf } from './files.js';
import { KeyedMutex } from '../sync/keyed-mutex.js';
import { pinNamespaces, unpinNamespaces, type NsKind } from './namespaces.js';
import { claimPodCgroup, podCgroupLimits, releasePodCgroup, writePodCgroup, type PodCgroupOwner } from './pod-cgroup.js';
import { preparePauseRootfs, removePauseBundle, startPause, stopPause } from './pause.js';
import { parseQuantity, validateRequest, type SandboxRequest } from './request.js';
import { SandboxTable, type SandboxRecord } from './store.js';
import type { ContainerHooks, SandboxEvent, SandboxInfo, SandboxService } from './types.js';

/** A kubelet retry of an identical RunPodSandbox within this window gets the same sandbox back. */
const RETRY_WINDOW_MS = 5 * 60_000;
const SHM_SIZE = 64 * 1024 * 1024;
const BURST_MAX = 2_147_483_647;

export interface SandboxManagerOptions {
  config: BerthConfig;
  log: Logger;
  store: Store;
  cni: CniManager;
}

export class SandboxManager implements SandboxService {
  private readonly table: SandboxTable;
  readonly records = new Map<string, SandboxRecord>();
  private readonly byName = new Map<string, string>();
  private readonly creating = new Map<string, { fingerprint: string; done: Promise<string> }>();
  private readonly locks = new KeyedMutex();
  private hooks?: ContainerHooks;
  readonly events = new EventEmitter();
  readonly nsDir: string;
  readonly sandboxesDir: string;
  private readonly pauseRootfs: string;

  constructor(private readonly o: SandboxManagerOptions) {
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
    for (const r of all) this.index(r);
    return all;
  }

  private nameKey(i: { name: string; namespace: string; uid: string; attempt: number }): string {
    return `${i.name}_${i.namespace}_${i.uid}_${i.attempt}`;
  }

  private index(r: SandboxRecord): void {
    this.records.set(r.info.id, r);
    this.byName.set(this.nameKey(r.info), r.info.id);
  }

  save(r: SandboxRecord): void {
    this.table.put(r);
    this.index(r);
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

  private runtime(handler: string): { path: string; root: string } {
    const h = this.o.config.runtime.handlers[handler];
    if (!h) throw new InvalidArgumentError(`unknown runtime handler "${handler}"`);
    return { path: h.path, root: h.root || path.join(this.o.config.state, 'runtime', handler) };
  }

  /** RunPodSandbox: validates, then creates the sandbox or joins an identical call in flight. */
  async run(req: SandboxRequest): Promise<string> {
    const c = this.o.config;
    const handler = await validateRequest(req, c.runtime.handlers, c.runtime.default_handler);
    const key = this.nameKey(req);
    const fingerprint = createHash('sha256').update(JSON.stringify({ ...req, runtimeHandler: handler })).digest('hex');
    const inFlight = this.creating.get(key);
    if (inFlight) {
      if (inFlight.fingerprint === fingerprint) return inFlight.done;
      throw new AlreadyExistsError(`pod sandbox name "${key}" is reserved by a RunPodSandbox in progress with a different config`);
    }
    const existing = this.byName.get(key);
    if (existing) {
      const r = this.records.get(existing)!;
      if (r.fingerprint === fingerprint && r.info.state === 'SANDBOX_READY' && Date.now() - r.readyAt < RETRY_WINDOW_MS) return existing;
      throw new AlreadyExistsError(`pod sandbox name "${key}" is already used by sandbox ${existing}`);
    }
    const done = this.create(req, handler, fingerprint);
    this.creating.set(key, { fingerprint, done });
    try {
      return await done;
    } finally {
      this.creating.delete(key);
    }
  }

  private async create(req: SandboxRequest, handler: string, fingerprint: string): Promise<string> {
    const c = this.o.config;
    const id = randomBytes(32).toString('hex');
    const dir = path.join(this.sandboxesDir, id);
    const podNet = req.namespaces.network !== 'NODE';
    const podIpc = req.namespaces.ipc !== 'NODE';
    const pidMode = req.namespaces.pid === 'POD' ? 'POD' : req.namespaces.pid === 'NODE' ? 'NODE' : 'CONTAINER';
    if (podNet && !this.o.cni.networkStatus().ready) await this.o.cni.requireNetwork().catch((err: Error) => {
      throw new FailedPreconditionError(`pod sandbox ${req.namespace}/${req.name}: ${err.message}`);
    });
    // Host network pods keep the host's UTS namespace and so its hostname, as kubelet expects.
    const hostname = podNet ? req.hostname || req.name.slice(0, 63) : os.hostname();
    const userns = req.namespaces.usernsMode === 'POD';
    const kinds: NsKind[] = [...(podNet ? (['net', 'uts'] as const) : []), ...(podIpc ? (['ipc'] as const) : []), ...(userns ? (['user'] as const) : [])];
    const info: SandboxInfo = {
      id, name: req.name, namespace: req.namespace, uid: req.uid, attempt: req.attempt,
      state: 'SANDBOX_READY', createdAt: BigInt(Date.now()) * 1_000_000n, runtimeHandler: handler,
      pidMode, cgroupParent: req.cgroupParent || c.runtime.cgroup_parent, logDirectory: req.logDirectory,
      hostsPath: path.join(dir, 'hosts'), resolvConfPath: path.join(dir, 'resolv.conf'), hostnamePath: path.join(dir, 'hostname'),
      shmPath: podIpc ? path.join(dir, 'shm') : undefined, hostname, additionalIps: [],
      ...(userns ? { uidMappings: req.namespaces.uids, gidMappings: req.namespaces.gids } : {}),
      labels: req.labels, annotations: req.annotations, sysctls: req.sysctls, portMappings: req.portMappings, linux: req.linux,
    };
    const rec: SandboxRecord = { info, fingerprint, readyAt: 0, networkAttached: false };
    const log = this.o.log.child({ sandbox: id, pod: `${req.namespace}/${req.name}` });
    let pause: Promise<{ pid: number; root: string }> | undefined;
    const t0 = performance.now();
    const ms: Record<string, number> = {};
    const lap = (k: string) => (ms[k] = Math.round(performance.now() - t0));
    try {
      await mkdir(dir, { recursive: true, mode: 0o711 });
      const hostResolv = req.dns && (req.dns.servers.length || req.dns.searches.length || req.dns.options.length) ? '' : await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
      // Independent steps in parallel: the namespaces, the files that need no IP, shm, log dir.
      const [pins] = await Promise.all([
        kinds.length
          ? pinNamespaces({ nsDir: this.nsDir, id, kinds, hostname, sysctls: req.sysctls, uidMapping: info.uidMappings?.[0], gidMapping: info.gidMappings?.[0] })
          : Promise.resolve({} as Partial<Record<NsKind, string>>),
        writeFile(info.resolvConfPath, renderResolvConf(req.dns, hostResolv), { mode: 0o644 }),
        writeFile(info.hostnamePath, `${hostname}\n`, { mode: 0o644 }),
        // Recorded as soon as it is made, so a failure below removes it too.
        claimPodCgroup(c.cgroup_driver, req.cgroupParent).then((owner) => void (rec.podCgroupOwner = owner)),
        info.shmPath ? this.mountShm(info.shmPath) : undefined,
        req.logDirectory ? mkdirHostPath(req.logDirectory).catch((err: unknown) => {
          throw new InvalidArgumentError(`config.log_directory: ${errorMessage(err)}`);
        }) : undefined,
      ]);
      lap('namespaces');
      if (rec.podCgroupOwner === 'berth') await this.applyPodLimits(rec);
      info.netnsPath = pins.net;
      info.ipcnsPath = pins.ipc;
      info.utsnsPath = pins.uts;
      info.usernsPath = pins.user;
      pause = pidMode === 'POD' ? this.startPauseFor(info) : undefined;
      let ips: string[] = [];
      if (info.netnsPath) {
        rec.networkAttached = true; // set before ADD so a failure is cleaned up by DEL
        const result = await this.o.cni.add({
          id, netnsPath: info.netnsPath, podName: req.name, podNamespace: req.namespace, podUid: req.uid,
          portMappings: req.portMappings.filter((p) => p.hostPort > 0).map((p) => ({
            hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol.toLowerCase(), ...(p.hostIp ? { hostIP: p.hostIp } : {}),
          })),
          bandwidth: bandwidthOf(req.annotations),
        });
        lap('cni');
        ips = podIps(result);
        info.ip = ips[0];
        info.additionalIps = ips.slice(1);
      }
      const hosts = podNet ? renderHosts(hostname, ips) : await readFile('/etc/hosts', 'utf8').catch(() => renderHosts(hostname, []));
      await writeFile(info.hostsPath, hosts, { mode: 0o644 });
      if (pause) {
        const p = await pause;
        lap('pause');
        info.pausePid = p.pid;
        rec.runtimeRoot = p.root;
      }
      rec.readyAt = Date.now();
      this.save(rec);
      lap('saved');
      log.info({ ip: info.ip, netns: info.netnsPath, ms }, 'pod sandbox ready');
      this.emit('CONTAINER_CREATED_EVENT', id);
      this.emit('CONTAINER_STARTED_EVENT', id);
      return id;
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'RunPodSandbox failed; cleaning up');
      // pause runs beside the CNI ADD: let it finish before tearing it down.
      await pause?.catch(() => undefined);
      await this.teardown(rec, true).catch((e: Error) => log.warn({ err: e.message }, 'cleanup after failed RunPodSandbox incomplete'));
      throw err;
    }
  }

  private async mountShm(p: string): Promise<void> {
    await mkdir(p, { mode: 0o1777 });
    mount('shm', p, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${SHM_SIZE}`);
  }

  private async startPauseFor(info: SandboxInfo): Promise<{ pid: number; root: string }> {
    const rt = this.runtime(info.runtimeHandler);
    const cgroupsPath = this.o.config.cgroup_driver === 'systemd' ? `${info.cgroupParent || 'system.slice'}:berth:${info.id}` : path.posix.join(info.cgroupParent || '/', info.id);
    const pid = await startPause({
      id: info.id, runtimePath: rt.path, runtimeRoot: rt.root, bundleDir: path.join(this.sandboxesDir, info.id, 'pause'),
      rootfs: this.pauseRootfs, cgroupsPath, netns: info.netnsPath, ipcns: info.ipcnsPath, utsns: info.utsnsPath,
      userns: info.usernsPath ? { path: info.usernsPath, uidMappings: info.uidMappings ?? [], gidMappings: info.gidMappings ?? [] } : undefined,
    });
    return { pid, root: rt.root };
  }

  /** Network down and pause gone: what StopPodSandbox leaves. With `all`, also pins, shm, files. */
  private async teardown(rec: SandboxRecord, all: boolean): Promise<void> {
    const { info } = rec;
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
        if (rec.networkAttached) await this.o.cni.del(info.id);
        rec.networkAttached = false;
      }),
      step('pause', async () => {
        if (info.pidMode === 'POD' && !rec.pauseDeleted) {
          const rt = this.runtime(info.runtimeHandler);
          await stopPause(rt.path, rec.runtimeRoot ?? rt.root, info.id, info.pausePid);
          rec.pauseDeleted = true;
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
    if (errors.length) throw new Error(`pod sandbox ${info.id}: ${errors.join('; ')}`);
  }

  private async stopLocked(rec: SandboxRecord): Promise<void> {
    await this.hooks?.stopAll(rec.info.id);
    const wasStopped = rec.info.state === 'SANDBOX_NOTREADY' && !rec.networkAttached && (rec.info.pidMode !== 'POD' || rec.pauseDeleted);
    await this.teardown(rec, false);
    if (wasStopped) return; // a repeated stop: nothing changed, nothing to write
    rec.info.state = 'SANDBOX_NOTREADY';
    rec.info.pausePid = undefined;
    this.save(rec);
    this.emit('CONTAINER_STOPPED_EVENT', rec.info.id);
  }

  private emit(type: SandboxEvent['type'], sandboxId: string): void {
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
      await this.teardown(rec, true);
      this.emit('CONTAINER_DELETED_EVENT', full);
      this.table.delete(full);
      this.records.delete(full);
      if (this.byName.get(this.nameKey(rec.info)) === full) this.byName.delete(this.nameKey(rec.info));
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
      rec.info.linux = linux;
      this.save(rec);
      if (rec.podCgroupOwner === 'berth') await this.applyPodLimits(rec);
    });
  }

  private async applyPodLimits(rec: SandboxRecord): Promise<void> {
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

function bandwidthOf(annotations: Record<string, string>): { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number } | undefined {
  const ing = annotations['kubernetes.io/ingress-bandwidth'];
  const eg = annotations['kubernetes.io/egress-bandwidth'];
  if (ing === undefined && eg === undefined) return undefined;
  const out: Record<string, number> = {};
  if (ing !== undefined) Object.assign(out, { ingressRate: parseQuantity(ing), ingressBurst: BURST_MAX });
  if (eg !== undefined) Object.assign(out, { egressRate: parseQuantity(eg), egressBurst: BURST_MAX });
  return out;
}
