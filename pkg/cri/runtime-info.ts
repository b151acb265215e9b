import { access } from 'node:fs/promises';
import os from 'node:os';
import { layoutName } from '../cgroups/index.js';
import { redactConfig } from '../config/config.js';
import { run, runChecked } from '../process/run.js';
import { isExecutableAsync } from '../sys/executable.js';
import { DeferredStart } from '../sync/deferred-start.js';
import { versionAtLeast } from '../version/at-least.js';
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from '../version/version.js';
import type { Condition, CriModule, DaemonContext } from './module.js';

/** RuntimeReady: the default OCI runtime and conmon are there to run containers. */
async function runtimeReady(ctx: DaemonContext): Promise<Condition> {
  const { runtime } = ctx.config;
  const handler = runtime.handlers[runtime.default_handler];
  const missing: string[] = [];
  if (!handler) missing.push(`default runtime handler "${runtime.default_handler}" is not configured`);
  else if (!(await isExecutableAsync(handler.path))) missing.push(`OCI runtime ${handler.path} not found or not executable`);
  if (!(await isExecutableAsync(runtime.conmon))) missing.push(`conmon ${runtime.conmon} not found or not executable`);
  return missing.length
    ? { type: 'RuntimeReady', status: false, reason: 'RuntimeNotReady', message: missing.join('; ') }
    : { type: 'RuntimeReady', status: true, reason: '', message: '' };
}

export interface HandlerFeatures {
  recursive_read_only_mounts: boolean;
  user_namespaces: boolean;
}

/** crun releases that run a spec's `rro` mount option (mount_setattr with AT_RECURSIVE): 1.8.1 verified by e2e/container-security.test.ts. */
const CRUN_RRO_SINCE = [1, 8] as const;

/** The kernel has mount_setattr (5.12), which recursive read-only mounts need. */
export function kernelHasMountSetattr(release = os.release()): boolean {
  return versionAtLeast(release, 5, 12);
}

/** Features of a runtime that has no `features` command, from its `--version` text. */
export function featuresFromVersion(version: string, kernelUserns: boolean, kernelRro = kernelHasMountSetattr()): HandlerFeatures {
  const crun = /^crun version (\d+\.\d+)/m.exec(version);
  if (!crun) return { recursive_read_only_mounts: false, user_namespaces: false };
  const rro = versionAtLeast(crun[1]!, ...CRUN_RRO_SINCE);
  return { recursive_read_only_mounts: kernelRro && rro, user_namespaces: kernelUserns };
}

/**
 * What an OCI runtime can do, from `<runtime> features` (runc ≥ 1.1): recursive read-only mounts
 * when its mount options list `rro`, pod user namespaces when its namespaces list `user` (berth
 * pins the namespace itself; the runtime only joins it with the mappings in the spec). A runtime
 * without that command is assumed to lack both, except crun, which has joined user namespaces by
 * path since its first releases (1.8.1 verified by e2e/userns.test.ts) and runs `rro` mounts
 * since 1.8 (crun 1.8.1, Debian 12's, has no `features` command). The kernel must allow user
 * namespaces at all.
 */
export async function probeHandler(runtimePath: string): Promise<HandlerFeatures> {
  const kernelUserns = await access('/proc/self/ns/user').then(() => true, () => false);
  try {
    const { stdout } = await runChecked('runtime features', runtimePath, ['features'], { timeoutMs: 5000 });
    const f = JSON.parse(stdout.toString()) as { mountOptions?: string[]; linux?: { namespaces?: string[] } };
    return {
      recursive_read_only_mounts: (f.mountOptions ?? []).includes('rro'),
      user_namespaces: kernelUserns && (f.linux?.namespaces ?? []).includes('user'),
    };
  } catch {
    const version = await run(runtimePath, ['--version'], { timeoutMs: 5000 }).then((r) => r.stdout.toString(), () => '');
    return featuresFromVersion(version, kernelUserns);
  }
}

const NO_NETWORK: Condition = {
  type: 'NetworkReady',
  status: false,
  reason: 'NetworkPluginNotReady',
  message: 'berth: the CNI network module is not loaded',
};

/** How long after berth serves the runtime handlers are probed if no Status asked first. */
const PROBE_AFTER_READY_MS = 1000;

/** Every configured handler's features, the default one listed first under the empty name. */
async function probeHandlers(ctx: DaemonContext) {
  const { handlers, default_handler } = ctx.config.runtime;
  const probed = await Promise.all(
    Object.entries(handlers).map(async ([name, h]) => ({ name, features: await probeHandler(h.path) })),
  );
  // The default handler is listed once more under the empty name, which is how a pod with no
  // RuntimeClass (and critest without --runtime-handler) asks for it.
  const dflt = probed.find((h) => h.name === default_handler);
  const runtimeHandlers = dflt ? [{ name: '', features: dflt.features }, ...probed] : probed;
  ctx.log.debug({ runtimeHandlers }, 'runtime handler features');
  return runtimeHandlers;
}

/** Version, Status and RuntimeConfig: what kubelet asks first of any runtime. */
export const runtimeInfoModule: CriModule = {
  name: 'runtime-info',
  async start(ctx) {
    if (!ctx.conditions.has('RuntimeReady')) ctx.conditions.set('RuntimeReady', () => runtimeReady(ctx));
    // Probing runs each runtime binary: only Status waits for it. It starts at the first Status or
    // a moment after berth serves, whichever comes first: started at once, its children and their
    // output (and the first spawn's set-up) held up the first calls by 50-100 ms.
    const probe = new DeferredStart(() => probeHandlers(ctx));
    // Node facts beside the handlers' (verbose Status `features`), read by `berth agent` for
    // node labels. cdi: ContainerConfig.CDI_devices and cdi.k8s.io annotations are injected.
    const layout = ctx.cgroups.layout;
    const nodeFeatures = { cgroupVersion: layout ? layoutName(layout) : 'unknown', cdi: true };
    return {
      handlers: {
        Version: async () => ({
          version: '0.1.0',
          runtime_name: RUNTIME_NAME,
          runtime_version: VERSION,
          runtime_api_version: CRI_API_VERSION,
        }),
        Status: async (req) => {
          const have = await Promise.all([...ctx.conditions.values()].map((f) => f()));
          if (!have.some((c) => c.type === 'NetworkReady')) have.push(NO_NETWORK);
          const info: Record<string, string> = {};
          // stateDir (containerd's name) is where critest probes for idmapped mount support;
          // enableCDI and cdiSpecDirs are containerd's names for CDI support.
          if (req.verbose) {
            info.config = JSON.stringify({ ...redactConfig(ctx.config), stateDir: ctx.config.state, enableCDI: true, cdiSpecDirs: ctx.config.cdi.spec_dirs });
            info.features = JSON.stringify(nodeFeatures);
            // The node's cgroup facts: version (1 also on hybrid hosts), driver, controllers.
            info.cgroups = JSON.stringify(ctx.cgroups.info());
            const cdi = ctx.services.cdi;
            if (cdi) info.cdi = JSON.stringify(await cdi.snapshot());
          }
          return {
            status: { conditions: have },
            info,
            runtime_handlers: await probe.get(),
            features: { supplemental_groups_policy: true, user_namespaces_host_network: true },
          };
        },
        RuntimeConfig: async () => ({
          linux: { cgroup_driver: ctx.cgroups.driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
        }),
      },
      ready: () => probe.schedule(PROBE_AFTER_READY_MS),
      close: async () => probe.cancel(),
    };
  },
};
