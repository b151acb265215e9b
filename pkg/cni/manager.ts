// The pod network: which CNI network is configured (watched, so NetworkReady follows the conf dir
// without a restart), ADD/CHECK/DEL of a pod through the plugin chain, and the result cache DEL
// relies on (the config, args and result of the ADD, as libcni keeps them).
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/log.js';
import { discover, type LoadedNetwork, type NetworkConfList } from './config.js';
import { findPlugin, invokePlugin, type CniCommand } from './exec.js';
import { parseResult, type CniResult } from './result.js';
import { versionAtLeast } from '../version/at-least.js';

export const IF_NAME = 'eth0';

export interface PortMappingSpec {
  hostPort: number;
  containerPort: number;
  protocol: string; // tcp, udp, sctp
  hostIP?: string;
}

export interface BandwidthSpec {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

export interface AttachRequest {
  id: string;
  netnsPath: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  portMappings: PortMappingSpec[];
  bandwidth?: BandwidthSpec;
}

interface CacheEntry {
  network: NetworkConfList;
  netnsPath: string;
  args: [string, string][];
  runtimeConfig: Record<string, unknown>;
  /** Absent while the ADD runs (or when a crash cut it): DEL then runs without prevResult. */
  result?: Record<string, unknown>;
}

export interface NetworkStatus {
  ready: boolean;
  reason: string;
  message: string;
}

export interface CniOptions {
  confDir: string;
  binDirs: string[];
  cacheDir: string;
  log: Logger;
}

/** What the sandbox service needs from the pod network: CniManager, or a fake in tests. */
export interface PodNetwork {
  networkStatus(): NetworkStatus;
  /** The network to attach pods to; throws while none is configured. */
  requireNetwork(): Promise<unknown>;
  /** ADD; on failure the partial attachment is undone before the error is thrown. */
  add(req: AttachRequest): Promise<CniResult>;
  /** DEL with what ADD used; a no-op for an id with no attachment (idempotent). */
  del(id: string): Promise<void>;
  cachedResult(id: string): Promise<CniResult | undefined>;
  /** Ids with an attachment begun and not deleted (an ADD a crash cut is one): reconciliation. */
  attachments(): Promise<string[]>;
}

export class CniManager implements PodNetwork {
  private network?: LoadedNetwork;
  private status: NetworkStatus = { ready: false, reason: 'NetworkPluginNotReady', message: 'cni config not loaded yet' };
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;
  private reloading?: Promise<void>;

  constructor(private readonly opts: CniOptions) {}

  async start(): Promise<void> {
    // Watching needs the directory; creating an empty conf dir changes nothing for CNI.
    await mkdir(this.opts.cacheDir, { recursive: true, mode: 0o700 });
    // A cache write a crash cut short (the entry it was replacing, if any, is intact).
    for (const n of await readdir(this.opts.cacheDir)) if (n.endsWith('.tmp')) await rm(path.join(this.opts.cacheDir, n), { force: true });
    try {
      await mkdir(this.opts.confDir, { recursive: true });
      this.watcher = watch(this.opts.confDir, () => this.scheduleReload());
      this.watcher.on('error', (err) => this.opts.log.warn({ err: err.message }, 'cni conf dir watch failed'));
    } catch (err) {
      // Not fatal: Status re-scans while the network is not ready, and RunPodSandbox re-scans too.
      this.opts.log.warn({ dir: this.opts.confDir, err: (err as Error).message }, 'cannot watch the CNI conf dir');
    }
    await this.reload();
  }

  close(): void {
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
  }

  /**
   * Follows a config reload to another conf dir or plugin dirs: watches and scans anew. Pods
   * already attached are torn down with the network their cache entry recorded.
   */
  async retarget(confDir: string, binDirs: string[]): Promise<void> {
    this.close();
    this.watcher = undefined;
    this.opts.confDir = confDir;
    this.opts.binDirs = binDirs;
    await this.start();
  }

  networkStatus(): NetworkStatus {
    return this.status;
  }

  currentNetwork(): LoadedNetwork | undefined {
    return this.network;
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    // Editors and installers write in several steps; one reload after the burst.
    this.reloadTimer = setTimeout(() => void this.reload(), 25);
  }

  async reload(): Promise<void> {
    const run = async () => {
      const { network, problems } = await discover(this.opts.confDir);
      if (!network) {
        this.network = undefined;
        const why = problems.length ? `: ${problems.join('; ')}` : '';
        this.status = { ready: false, reason: 'NetworkPluginNotReady', message: `cni config uninitialized: no valid network config in ${this.opts.confDir}${why}` };
        return;
      }
      const missing: string[] = [];
      for (const p of network.conf.plugins) await findPlugin(p.type, this.opts.binDirs).catch((e: Error) => missing.push(e.message));
      if (missing.length) {
        this.network = undefined;
        this.status = { ready: false, reason: 'NetworkPluginNotReady', message: `${network.file}: ${missing.join('; ')}` };
        return;
      }
      const changed = this.network?.file !== network.file || JSON.stringify(this.network.conf) !== JSON.stringify(network.conf);
      this.network = network;
      this.status = { ready: true, reason: '', message: '' };
      if (changed) this.opts.log.info({ file: network.file, network: network.conf.name }, 'cni network loaded');
    };
    // Serialise reloads so an older scan never overwrites a newer one.
    const prev = this.reloading ?? Promise.resolve();
    const next = prev.then(run, run);
    this.reloading = next;
    await next;
  }

  /** The network to attach pods to; re-scans once in case a watch event has not arrived yet. */
  async requireNetwork(): Promise<LoadedNetwork> {
    if (!this.network) await this.reload();
    if (!this.network) throw new Error(`network not ready: ${this.status.message}`);
    return this.network;
  }

  private cacheFile(id: string): string {
    return path.join(this.opts.cacheDir, `${id}.json`);
  }

  private async runChain(cmd: CniCommand, e: Omit<CacheEntry, 'result'> & { id: string; prev?: Record<string, unknown> }): Promise<Record<string, unknown> | undefined> {
    const { network } = e;
    const plugins = cmd === 'DEL' ? [...network.plugins].reverse() : network.plugins;
    let prev = e.prev;
    for (const plugin of plugins) {
      // pinns brings `lo` up in every netns berth makes, so a chained loopback plugin (which only
      // sets lo up on ADD and down on DEL) is skipped: 5-10 ms per call for nothing.
      if (plugin.type === 'loopback' && network.plugins[0] !== plugin) continue;
      const runtimeConfig: Record<string, unknown> = {};
      for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
        if (on && e.runtimeConfig[cap] !== undefined) runtimeConfig[cap] = e.runtimeConfig[cap];
      }
      const stdin: Record<string, unknown> = { ...plugin, cniVersion: network.cniVersion, name: network.name };
      if (Object.keys(runtimeConfig).length) stdin.runtimeConfig = runtimeConfig;
      const passPrev = cmd === 'ADD' ? versionAtLeast(network.cniVersion, 0, 3) : versionAtLeast(network.cniVersion, 0, 4);
      if (prev && passPrev) stdin.prevResult = prev;
      const t0 = performance.now();
      const out = await invokePlugin({
        command: cmd, type: plugin.type, binDirs: this.opts.binDirs, containerId: e.id, netns: e.netnsPath,
        ifName: IF_NAME, args: e.args, stdin,
      });
      this.opts.log.debug({ id: e.id, plugin: plugin.type, cmd, ms: Math.round(performance.now() - t0) }, 'cni plugin');
      if (cmd === 'ADD') {
        if (!out || typeof out !== 'object') throw new Error(`CNI plugin ${plugin.type} ADD returned no result`);
        prev = out as Record<string, unknown>;
      }
    }
    return prev;
  }

  /** CNI ADD of the pod; on failure the partial chain is torn down before the error is thrown. */
  async add(req: AttachRequest): Promise<CniResult> {
    const { conf: network } = await this.requireNetwork();
    const args: [string, string][] = [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', req.podNamespace],
      ['K8S_POD_NAME', req.podName],
      ['K8S_POD_INFRA_CONTAINER_ID', req.id],
      ['K8S_POD_UID', req.podUid],
    ];
    const runtimeConfig: Record<string, unknown> = {};
    if (req.portMappings.length) runtimeConfig.portMappings = req.portMappings;
    if (req.bandwidth) runtimeConfig.bandwidth = req.bandwidth;
    const entry = { id: req.id, network, netnsPath: req.netnsPath, args, runtimeConfig };
    // Written before ADD: whatever a crash in the middle of it leaves, DEL can take away.
    await this.writeCache(req.id, { network, netnsPath: req.netnsPath, args, runtimeConfig });
    let raw: Record<string, unknown> | undefined;
    try {
      raw = await this.runChain('ADD', entry);
      const result = parseResult(raw, network.cniVersion);
      await this.writeCache(req.id, { network, netnsPath: req.netnsPath, args, runtimeConfig, result: raw });
      return result;
    } catch (err) {
      // Undone now; when that fails the cache entry stays, so a later del() (or the next start) retries.
      await this.runChain('DEL', { ...entry, prev: raw }).then(() => rm(this.cacheFile(req.id), { force: true })).catch((e: Error) =>
        this.opts.log.warn({ id: req.id, err: e.message }, 'cni cleanup after failed ADD failed'));
      throw err;
    }
  }

  private async writeCache(id: string, entry: CacheEntry): Promise<void> {
    const file = this.cacheFile(id);
    await writeFile(`${file}.tmp`, JSON.stringify(entry), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  async attachments(): Promise<string[]> {
    const names = await readdir(this.opts.cacheDir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
  }

  async cachedResult(id: string): Promise<CniResult | undefined> {
    const entry = await this.readCache(id);
    return entry?.result ? parseResult(entry.result, entry.network.cniVersion) : undefined;
  }

  private async readCache(id: string): Promise<CacheEntry | undefined> {
    try {
      return JSON.parse(await readFile(this.cacheFile(id), 'utf8')) as CacheEntry;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * CNI DEL with the config and args of the ADD. No cache entry means nothing is attached (or a
   * DEL already ran): a no-op. A netns that is gone (reboot) is passed as empty, which plugins
   * accept, so IPAM reservations and host-side rules are still released.
   */
  async del(id: string): Promise<void> {
    const entry = await this.readCache(id);
    if (!entry) return;
    const netns = (await isNamespacePin(entry.netnsPath)) ? entry.netnsPath : '';
    await this.runChain('DEL', { id, network: entry.network, netnsPath: netns, args: entry.args, runtimeConfig: entry.runtimeConfig, prev: entry.result });
    await rm(this.cacheFile(id), { force: true });
  }

  /** CNI CHECK against the cached ADD; a no-op for networks below 0.4.0 or with disableCheck. */
  async check(id: string): Promise<void> {
    const entry = await this.readCache(id);
    if (!entry?.result) throw new Error(`sandbox ${id} has no network attachment`);
    if (!versionAtLeast(entry.network.cniVersion, 0, 4) || entry.network.disableCheck) return;
    await this.runChain('CHECK', { id, network: entry.network, netnsPath: entry.netnsPath, args: entry.args, runtimeConfig: entry.runtimeConfig, prev: entry.result });
  }

  /** UpdateRuntimeConfig: writes the configured template with the pod CIDR into the conf dir. */
  async writeTemplate(templateFile: string, podCidr: string): Promise<string> {
    const template = await readFile(templateFile, 'utf8');
    const text = template.replaceAll('{{.PodCIDR}}', podCidr).replaceAll('{{ .PodCIDR }}', podCidr);
    const target = path.join(this.opts.confDir, '00-berth-podcidr.conflist');
    // Written under a dot name and renamed, so discovery never reads half a file.
    const tmp = path.join(this.opts.confDir, '.00-berth-podcidr.conflist.tmp');
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, target);
    await this.reload();
    return target;
  }
}

/** True when `file` is a mounted namespace (nsfs), not the empty file left when the pin is gone. */
export async function isNamespacePin(file: string): Promise<boolean> {
  try {
    const [f, d] = await Promise.all([stat(file), stat(path.dirname(file))]);
    return f.dev !== d.dev;
  } catch {
    return false;
  }
}
