import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { Cgroups } from '../../pkg/cgroups/cgroups.js';
import type { BerthConfig } from '../../pkg/config/config.js';
import { socketPath } from '../../pkg/config/config.js';
import type { Condition, DaemonContext, ExtraService, ModuleInstance } from '../../pkg/cri/module.js';
import { MODULES } from '../../pkg/cri/modules.js';
import { CriServer } from '../../pkg/cri/server.js';
import type { HandlerSet } from '../../pkg/cri/handlers.js';
import { resolveDefaultHandler } from '../../pkg/config/default-handler.js';
import { ConfigReloader, type ReloadOutcome, type ReloadSource } from '../../pkg/config/reload.js';
import { configService } from '../../pkg/cri/berth-config.js';
import { createLogger, setLogLevel, type Logger } from '../../pkg/log/log.js';
import { Counter, Metrics, serveMetrics } from '../../pkg/metrics/metrics.js';
import { killOrphanHelpers } from '../../pkg/process/procs.js';
import { tagChildren } from '../../pkg/process/run.js';
import { Store } from '../../pkg/store/store.js';
import { StartupError } from './startup-error.js';
import { sdNotify, takeNotifySocket } from '../../pkg/sys/notify.js';
import { startIdleMemory } from '../../pkg/sys/idle-memory.js';
import { StartupTimeline } from './startup-timeline.js';
import { errorMessage } from '../../pkg/errors/errors.js';
import { takeCodeCache, type CodeCacheHandle } from './code-cache.js';

export { StartupError };

/** Resolves true when something accepts connections on the unix socket. */
function socketAnswers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Replaces a stale socket file; refuses when a live server holds it or the path is no socket. */
async function claimSocket(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = await lstat(file);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new StartupError(`${file} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(file)) throw new StartupError(`another server is already listening on ${file}`);
  await unlink(file);
}

export interface RunningDaemon {
  socket: string;
  shutdown(): Promise<void>;
  /** Re-reads the config file (SIGHUP); resolves false when the file was refused (logged, counted). */
  reload(): Promise<boolean>;
}

/** Runs a reload, logs its outcome and counts it in berth_config_reloads_total{result}. */
function reporter(reloader: ConfigReloader, log: Logger, metrics: Metrics): () => Promise<ReloadOutcome> {
  const reloads = new Counter({
    name: 'berth_config_reloads_total',
    help: 'Config reloads (SIGHUP, berth config reload), by result: ok, or error when the file was refused.',
    labelNames: ['result'],
    registers: [metrics.registry],
  });
  return async () => {
    try {
      const r = await reloader.reload();
      reloads.inc({ result: 'ok' });
      log.info({ changed: r.changed }, r.changed.length ? 'config reloaded' : 'config reloaded: nothing changed');
      if (r.restartRequired.length) log.warn({ keys: r.restartRequired }, 'config changes that need a restart of berth to take effect');
      return r;
    } catch (err) {
      reloads.inc({ result: 'error' });
      log.error({ err: (err as Error).message }, 'config reload refused: the running config stays');
      throw err;
    }
  };
}

/**
 * Half a second after ready: after a start without a usable code cache, writes one (it then holds
 * the code start-up compiled, and is written before the first idle compaction, whose V8 flag
 * (--expose-gc) would make V8 refuse the cache at the next start); then lets V8 optimise again.
 */
function afterStartup(codeCache: CodeCacheHandle | undefined, log: Logger): void {
  if (!codeCache) return;
  setTimeout(() => {
    if (codeCache.cache !== 'hit') {
      const err = codeCache.save();
      if (err) log.debug({ err: err.message }, 'could not write the code cache: the next start compiles the bundle');
      else log.debug('code cache written for the next start');
    }
    codeCache.startupDone?.();
  }, 500).unref();
}

export async function runDaemon(fileConfig: BerthConfig, source: ReloadSource): Promise<RunningDaemon> {
  const timeline = new StartupTimeline();
  const notifySocket = takeNotifySocket();
  // First: a cgroup driver this host cannot run is a config error (exit 2) before anything starts.
  const cgroups = await Cgroups.detect({ driver: fileConfig.cgroup_driver, parent: fileConfig.runtime.cgroup_parent });
  // The effective config has "auto" and "" resolved for this host; a reload reads the file in the
  // same form, so an unchanged file changes nothing.
  // The default runtime handler is one this host can run (crun, else runc), likewise.
  const effective = (c: BerthConfig) => resolveDefaultHandler(cgroups.effectiveConfig(c), { refusal: (p) => cgroups.runtimeRefusal(p) });
  const { config, fallback } = effective(fileConfig);
  timeline.mark('cgroups');
  const log = createLogger(config.log_level);
  log.info(cgroups.info(), 'cgroups');
  for (const w of cgroups.warnings()) log.warn(w);
  if (fallback) log.warn(fallback, `default runtime handler "${fallback.from}": ${fallback.reason}; pods that name no handler run under "${fallback.to}"`);
  else log.info({ handler: config.runtime.default_handler, path: config.runtime.handlers[config.runtime.default_handler]?.path }, 'default runtime handler');
  const reloader = new ConfigReloader(source, config, (next) => effective(next).config);
  reloader.onChange((changed) => {
    if (changed.includes('log_level')) setLogLevel(log, config.log_level);
  });
  const socket = socketPath(config.listen);
  await claimSocket(socket);
  await mkdir(config.root, { recursive: true, mode: 0o711 });
  const newState = (await mkdir(config.state, { recursive: true, mode: 0o711 })) !== undefined;
  // Helpers a daemon that died on this state directory left running must not finish their
  // work behind reconciliation's back; ours are tagged so the next daemon can do the same.
  // A state directory made just now has had no daemon: the scan (every process's environment,
  // 6-9 ms of start-up with 130 processes) is for restarts.
  const orphans = newState ? [] : await killOrphanHelpers(config.state);
  if (orphans.length) log.warn({ pids: orphans }, 'ended helper processes an earlier daemon left running');
  tagChildren(config.state);
  timeline.mark('dirs');

  const store = Store.open(path.join(config.root, 'berth.db'));
  timeline.mark('store');
  const metrics = new Metrics();
  const ctx: DaemonContext = {
    config,
    cgroups,
    log,
    store,
    metrics,
    services: {},
    conditions: new Map<string, () => Condition | Promise<Condition>>(),
    onConfigChange: (fn) => reloader.onChange(fn),
  };
  const reload = reporter(reloader, log, metrics);
  const started: ModuleInstance[] = [];
  const handlers: HandlerSet = {};
  const extraServices: ExtraService[] = [configService(reload)];
  const closeModules = async () => {
    for (const m of started.reverse()) await m.close?.().catch((err: Error) => log.warn({ err: err.message }, 'module close failed'));
    started.length = 0;
  };
  let server: CriServer | undefined;
  let metricsServer: HttpServer | undefined;
  try {
    for (const mod of MODULES) {
      const inst = await mod.start(ctx);
      log.debug({ module: mod.name, ms: timeline.mark(mod.name) }, 'module started');
      started.push(inst);
      Object.assign(handlers, inst.handlers);
      extraServices.push(...(inst.extraServices ?? []));
    }
    server = new CriServer(handlers, log, metrics, extraServices);
    await server.listen(socket);
    await chmod(socket, 0o660);
    timeline.mark('listen');
    if (config.metrics_listen) {
      const m = await serveMetrics(metrics, config.metrics_listen);
      metricsServer = m.server;
      log.info({ address: m.address }, 'metrics listening');
    }
  } catch (err) {
    server?.grpc.forceShutdown();
    await closeModules();
    store.close();
    throw err;
  }
  const codeCache = takeCodeCache();
  log.info({ socket, ...timeline.summary(), code_cache: codeCache?.cache ?? 'none' }, 'berth ready');
  afterStartup(codeCache, log);
  for (const m of started) m.ready?.();
  // The default process metrics load a second after ready, off the first calls' path (a scrape
  // before then loads them itself).
  metrics.collectDefaultsAfter(1000, (err) => log.warn({ err: errorMessage(err) }, 'default metrics failed to load'));
  const stopTrim = startIdleMemory((r) => log.debug(r, 'idle: gave memory back'));
  // Type=notify under systemd: `systemctl start berth` returns once the socket serves.
  const notified = sdNotify('READY=1', notifySocket);
  if (notified instanceof Error) log.warn({ err: notified.message }, 'could not tell systemd berth is ready');

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      log.info('shutting down: no new calls; containers keep running');
      sdNotify('STOPPING=1', notifySocket);
      stopTrim();
      await server!.shutdown(config.shutdown_grace_seconds * 1000);
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      await closeModules();
      store.close();
      await unlink(socket).catch(() => undefined);
      log.info('berth stopped');
    })());
  return { socket, shutdown, reload: () => reload().then(() => true, () => false) };
}
