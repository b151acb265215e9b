// `berth agent`: the DaemonSet's node agent. It installs or upgrades berth on the host,
// (re)starts it through the host's systemd only when berth's files or unit changed, waits for
// it to answer, labels the node with what berth reports, keeps berth's RuntimeClasses, and
// keeps the node's config in step with the ConfigMap berth-config (hot reload, no restart).
// Progress and refusals go out as Events on the node and into /readyz.
import { execFile } from 'node:child_process';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { BerthClient } from '../client/berth.js';
import { CriClient } from '../client/cri.js';
import { dropInDir } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { buildDropIn, CONFIGMAP_NAME, DropIn } from './configsync.js';
import { Health } from './health.js';
import { Informer } from './informer.js';
import { CONFIG_FILE, Installer, UNIT_FILE, UNIT_NAME, type InstallResult, type UninstallResult } from './install.js';
import { apiMessage, Kube, loadKubeConfig } from './kube.js';
import { factsFromStatus, nodeMetadata, nodePatch, type NodeFacts } from './nodeinfo.js';

export interface AgentOptions {
  kubeconfig?: string;
  nodeName: string;
  namespace: string;
  /** Where the host's / is mounted (the DaemonSet mounts it at /host). */
  hostRoot: string;
  /** The berth package to install (scripts/package.mjs); the agent's own by default. */
  source: string;
  /** berth's socket as the agent reaches it. */
  socket: string;
  /** Command that runs the host's systemctl (`nsenter -t 1 -m -- systemctl`); undefined: berth's service is not managed. */
  systemctl?: string[];
  /** host:port of /healthz and /readyz. */
  healthListen: string;
  /** Re-check node labels and RuntimeClasses this often. */
  resyncSeconds: number;
}

const CHECKS = ['install', 'berth', 'node', 'runtimeclasses', 'config'];

export class Agent {
  readonly health = new Health(CHECKS);
  readonly kube: Kube;
  private readonly installer: Installer;
  private readonly dropIn: DropIn;
  private cri?: CriClient;
  private berth?: BerthClient;
  private configMaps?: Informer<V1ConfigMap>;
  private secrets?: Informer<V1Secret>;
  private stopping = false;
  private syncing: Promise<void> = Promise.resolve();
  private syncTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private lastRefusal?: string;
  private readyAnnounced = false;

  constructor(
    private readonly o: AgentOptions,
    private readonly log: Logger,
  ) {
    this.kube = new Kube(loadKubeConfig(o.kubeconfig), o.nodeName, log);
    this.installer = new Installer(o.source, o.hostRoot);
    this.dropIn = new DropIn(path.join(o.hostRoot, CONFIG_FILE));
  }

  /** Installs, starts berth, labels the node, creates RuntimeClasses, starts the config watches. */
  async run(): Promise<void> {
    await this.install();
    const facts = await this.waitForBerth();
    if (!facts) return;
    await this.publish(facts);
    const ns = this.o.namespace;
    const core = this.kube.core;
    this.configMaps = new Informer<V1ConfigMap>(this.kube.kc, `/api/v1/namespaces/${ns}/configmaps`,
      () => core.listNamespacedConfigMap({ namespace: ns, fieldSelector: `metadata.name=${CONFIGMAP_NAME}` }), () => this.scheduleSync(), this.log,
      `metadata.name=${CONFIGMAP_NAME}`);
    this.secrets = new Informer<V1Secret>(this.kube.kc, `/api/v1/namespaces/${ns}/secrets`,
      () => core.listNamespacedSecret({ namespace: ns }), () => this.scheduleSync(), this.log);
    await Promise.all([this.configMaps.start(), this.secrets.start()]);
    // Even with no ConfigMap at all there is a state to apply (no drop-in).
    this.scheduleSync();
    this.resyncTimer = setInterval(() => void this.resync(), this.o.resyncSeconds * 1000);
  }

  private async systemctl(...args: string[]): Promise<void> {
    if (!this.o.systemctl) return;
    const [cmd, ...pre] = this.o.systemctl;
    await promisify(execFile)(cmd!, [...pre, ...args], { timeout: 120_000 });
  }

  private async install(): Promise<InstallResult> {
    const before = await this.installer.manifest();
    let r: InstallResult;
    try {
      r = await this.installer.install();
      if (r.unitChanged) await this.systemctl('daemon-reload');
      await this.systemctl('enable', UNIT_NAME);
      // A restart only for new files or a new unit: otherwise start is a no-op on a running berth.
      await this.systemctl(r.treeChanged || r.unitChanged ? 'restart' : 'start', UNIT_NAME);
    } catch (err) {
      const msg = (err as Error).message;
      this.health.set('install', msg);
      await this.kube.event('Warning', 'InstallFailed', `berth install failed: ${msg}`);
      throw err;
    }
    this.health.set('install', true);
    this.log.info({ ...r }, 'berth installed');
    const managed = this.o.systemctl ? '' : ' (its service is not managed by the agent: --systemctl none)';
    if (!before) await this.kube.event('Normal', 'Installed', `berth ${r.version} installed: ${r.wrote.join(', ')}${managed}`);
    else if (r.treeChanged || r.unitChanged) {
      const what = before.version !== r.version ? `upgraded from ${before.version} to ${r.version}` : `${r.version} reinstalled (${r.wrote.join(', ')})`;
      await this.kube.event('Normal', 'Upgraded', `berth ${what}${this.o.systemctl ? ', restarted' : managed}`);
    }
    return r;
  }

  /** Polls berth's socket until it answers Version and Status; undefined if the agent stops first. */
  private async waitForBerth(): Promise<NodeFacts | undefined> {
    let delay = 250;
    let lastLog = 0;
    for (;;) {
      if (this.stopping) return undefined;
      try {
        const facts = await this.readFacts();
        this.health.set('berth', facts.ready ? true : 'berth is not RuntimeReady');
        return facts;
      } catch (err) {
        this.health.set('berth', `not answering on ${this.o.socket}: ${(err as Error).message}`);
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          this.log.info({ socket: this.o.socket, err: (err as Error).message }, 'waiting for berth to answer');
        }
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  private async readFacts(): Promise<NodeFacts> {
    this.cri ??= new CriClient(this.o.socket);
    const version = await this.cri.runtime('Version', {}, { timeoutMs: 5000 });
    const status = await this.cri.runtime('Status', { verbose: true }, { timeoutMs: 5000 });
    return factsFromStatus(version, status);
  }

  /** Node labels and annotations, then RuntimeClasses for berth's handlers. */
  private async publish(facts: NodeFacts): Promise<void> {
    try {
      const node = await this.kube.readNode();
      const patch = nodePatch({ labels: node.metadata?.labels, annotations: node.metadata?.annotations }, nodeMetadata(facts));
      if (patch) await this.kube.patchNode(patch);
      this.health.set('node', true);
    } catch (err) {
      this.health.set('node', apiMessage(err));
      this.log.warn({ err: apiMessage(err) }, 'cannot label the node');
    }
    try {
      const done = await this.kube.ensureRuntimeClasses(facts.handlers.map((h) => h.name));
      if (done.length) this.log.info({ done }, 'RuntimeClasses');
      this.health.set('runtimeclasses', true);
    } catch (err) {
      this.health.set('runtimeclasses', apiMessage(err));
      this.log.warn({ err: apiMessage(err) }, 'cannot create RuntimeClasses');
    }
    const published = ['install', 'berth', 'node', 'runtimeclasses'].every((c) => this.health.passed(c));
    if (!this.readyAnnounced && facts.ready && published) {
      this.readyAnnounced = true;
      await this.kube.event('Normal', 'BerthReady', `berth ${facts.version} ready; handlers ${facts.handlers.map((h) => h.name).join(', ')}`);
    }
  }

  private async resync(): Promise<void> {
    try {
      await this.publish(await this.readFacts());
      this.health.set('berth', true);
    } catch (err) {
      this.health.set('berth', `not answering on ${this.o.socket}: ${(err as Error).message}`);
    }
  }

  private scheduleSync(): void {
    if (this.stopping) return;
    clearTimeout(this.syncTimer);
    // A ConfigMap and its Secret often change together: one sync after the burst.
    this.syncTimer = setTimeout(() => {
      this.syncing = this.syncing.then(() => this.syncConfig());
    }, 50);
  }

  /** Waits for the config syncs scheduled so far (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.syncing;
  }

  private async syncConfig(): Promise<void> {
    if (this.stopping) return;
    if (!this.configMaps?.synced || !this.secrets?.synced) {
      // Before the first lists: the first change they bring (or run()'s own sync) runs it.
      this.log.debug('config sync waits for the first lists');
      return;
    }
    const ns = this.o.namespace;
    const cm = this.configMaps.get(CONFIGMAP_NAME, ns);
    let changed: string[] = [];
    try {
      const text = buildDropIn(cm?.data, (name) => this.secrets!.get(name, ns), `ConfigMap ${ns}/${CONFIGMAP_NAME}`);
      const r = await this.dropIn.apply(text, async () => {
        changed = await this.reloadBerth();
      });
      this.health.set('config', true);
      this.lastRefusal = undefined;
      if (!r.unchanged) {
        this.log.info({ changed }, 'cluster config applied');
        await this.kube.event('Normal', 'ConfigApplied', `berth config from ConfigMap ${ns}/${CONFIGMAP_NAME} (resourceVersion ${cm?.metadata?.resourceVersion ?? 'none'}) applied without a restart; changed: ${changed.join(', ') || 'nothing'}`);
      }
    } catch (err) {
      const msg = (err as { details?: string }).details || (err as Error).message;
      this.health.set('config', `refused: ${msg}`);
      this.log.warn({ err: msg }, 'cluster config refused; the previous config stays in force');
      if (msg !== this.lastRefusal) {
        this.lastRefusal = msg;
        await this.kube.event('Warning', 'ConfigRefused', `ConfigMap ${ns}/${CONFIGMAP_NAME} (resourceVersion ${cm?.metadata?.resourceVersion ?? 'none'}) refused, the previous config stays in force: ${msg}`);
      }
    }
  }

  /** berth.v1.Config/Reload; a berth that is down reads the (checked) file when it starts. */
  private async reloadBerth(): Promise<string[]> {
    this.berth ??= new BerthClient(this.o.socket);
    try {
      const r = await this.berth.reloadConfig();
      if (r.restart_required.length) this.log.warn({ keys: r.restart_required }, 'node config changes that need a berth restart');
      return r.changed;
    } catch (err) {
      if ((err as { code?: number }).code !== grpcStatus.UNAVAILABLE) throw err;
      this.log.warn({ socket: this.o.socket }, 'berth is not answering; it reads the new config when it starts');
      return [];
    }
  }

  /** Closes the watches and clients; berth keeps running. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.syncTimer);
    clearInterval(this.resyncTimer);
    await Promise.all([this.configMaps?.stop(), this.secrets?.stop()]);
    await this.syncing;
    await this.health.close();
    this.cri?.close();
    this.berth?.close();
  }

  /** Stops berth, removes what the agent installed and berth's node labels; keeps berth's state (/var/lib/berth). */
  async uninstall(): Promise<UninstallResult> {
    await this.systemctl('disable', '--now', UNIT_NAME);
    const r = await this.installer.uninstall([`/${path.relative(this.o.hostRoot, this.dropIn.file)}`]);
    await rmdir(path.join(this.o.hostRoot, dropInDir(CONFIG_FILE))).catch(() => undefined);
    if (r.removed.includes(UNIT_FILE)) await this.systemctl('daemon-reload');
    const node = await this.kube.readNode();
    const patch = nodePatch({ labels: node.metadata?.labels, annotations: node.metadata?.annotations }, { labels: {}, annotations: {} });
    if (patch) await this.kube.patchNode(patch);
    const kept = r.kept.length ? `; kept, changed since install: ${r.kept.join(', ')}` : '';
    await this.kube.event('Normal', 'Uninstalled', `berth uninstalled: removed ${r.removed.join(', ')}${kept}`);
    return r;
  }
}
