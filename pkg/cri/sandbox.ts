// Pod sandbox and network rpcs: RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus,
// ListPodSandbox, UpdateRuntimeConfig, plus the NetworkReady condition. Conversion only; the work
// is in pkg/sandbox and pkg/cni.
import path from 'node:path';
import { CniManager } from '../cni/manager.js';
import { parsePodCidrs } from '../cni/podcidr.js';
import { toResources } from './container.js';
import { InvalidArgumentError } from '../errors/errors.js';
import { recoverSandboxes } from '../sandbox/recover.js';
import type { SandboxRequest } from '../sandbox/request.js';
import { SandboxManager } from '../sandbox/service.js';
import type { IdMapping, PortMapping, SandboxInfo } from '../sandbox/types.js';
import type { IDMapping__Output } from './gen/runtime/v1/IDMapping.js';
import type { NamespaceOption } from './gen/runtime/v1/NamespaceOption.js';
import type { PodSandboxConfig__Output } from './gen/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxFilter__Output } from './gen/runtime/v1/PodSandboxFilter.js';
import type { PodSandbox } from './gen/runtime/v1/PodSandbox.js';
import type { PodSandboxStatus } from './gen/runtime/v1/PodSandboxStatus.js';
import { addAll, itemEncoder, serveList } from './list-stream.js';
import { DerivedMemo } from './status-memo.js';
import type { CriModule } from './module.js';

const int = (v: string | undefined | null): number | undefined => (v === undefined || v === null ? undefined : Number(v));

const idMapping = (m: IDMapping__Output): IdMapping => ({ containerId: m.container_id, hostId: m.host_id, length: m.length });

export function toSandboxRequest(cfg: PodSandboxConfig__Output | null, handler: string): SandboxRequest {
  const md = cfg?.metadata;
  const sc = cfg?.linux?.security_context;
  const nso = sc?.namespace_options;
  const seccomp = sc?.seccomp;
  return {
    name: md?.name ?? '',
    namespace: md?.namespace ?? '',
    uid: md?.uid ?? '',
    attempt: md?.attempt ?? 0,
    hostname: cfg?.hostname ?? '',
    logDirectory: cfg?.log_directory ?? '',
    dns: cfg?.dns_config ? { servers: cfg.dns_config.servers, searches: cfg.dns_config.searches, options: cfg.dns_config.options } : undefined,
    portMappings: (cfg?.port_mappings ?? []).map(
      (p): PortMapping => ({ protocol: p.protocol, containerPort: p.container_port, hostPort: p.host_port, hostIp: p.host_ip }),
    ),
    labels: cfg?.labels ?? {},
    annotations: cfg?.annotations ?? {},
    cgroupParent: cfg?.linux?.cgroup_parent ?? '',
    sysctls: cfg?.linux?.sysctls ?? {},
    // No namespace options at all: pod network and IPC, a PID namespace per container.
    namespaces: nso
      ? {
          network: nso.network, ipc: nso.ipc, pid: nso.pid, usernsMode: nso.userns_options?.mode,
          ...(nso.userns_options ? { uids: nso.userns_options.uids.map(idMapping), gids: nso.userns_options.gids.map(idMapping) } : {}),
        }
      : { network: 'POD', ipc: 'POD', pid: 'CONTAINER' },
    linux: {
      privileged: sc?.privileged ?? false,
      supplementalGroups: (sc?.supplemental_groups ?? []).map(Number),
      runAsUser: int(sc?.run_as_user?.value),
      runAsGroup: int(sc?.run_as_group?.value),
      readonlyRootfs: sc?.readonly_rootfs ?? false,
      seccompProfile: seccomp ? { type: seccomp.profile_type, localhostRef: seccomp.localhost_ref || undefined } : undefined,
      overhead: toResources(cfg?.linux?.overhead),
      resources: toResources(cfg?.linux?.resources),
    },
    runtimeHandler: handler,
  };
}

const criMapping = (m: IdMapping) => ({ container_id: m.containerId, host_id: m.hostId, length: m.length });

function namespaceOptions(i: SandboxInfo): NamespaceOption {
  return {
    network: i.netnsPath ? 'POD' : 'NODE', ipc: i.ipcnsPath ? 'POD' : 'NODE', pid: i.pidMode,
    // Reported for a pod user namespace only (absent means the host's, as before).
    ...(i.usernsPath ? { userns_options: { mode: 'POD', uids: (i.uidMappings ?? []).map(criMapping), gids: (i.gidMappings ?? []).map(criMapping) } } : {}),
  };
}

function metadata(i: SandboxInfo) {
  return { name: i.name, namespace: i.namespace, uid: i.uid, attempt: i.attempt };
}

export function toStatus(i: SandboxInfo): PodSandboxStatus {
  return {
    id: i.id, metadata: metadata(i), state: i.state, created_at: i.createdAt.toString(),
    network: { ip: i.ip ?? '', additional_ips: i.additionalIps.map((ip) => ({ ip })) },
    linux: { namespaces: { options: namespaceOptions(i) } },
    labels: i.labels, annotations: i.annotations, runtime_handler: i.runtimeHandler,
  };
}

export function toPodSandbox(i: SandboxInfo): PodSandbox {
  return {
    id: i.id, metadata: metadata(i), state: i.state, created_at: i.createdAt.toString(),
    labels: i.labels, annotations: i.annotations, runtime_handler: i.runtimeHandler,
  };
}

/** The sandboxes ListPodSandbox and StreamPodSandboxes answer with, lazily from the index. */
export function* matchingSandboxes(all: Iterable<SandboxInfo>, f: PodSandboxFilter__Output | null): Generator<SandboxInfo> {
  for (const i of all) if (matchesFilter(i, f)) yield i;
}

export function matchesFilter(i: SandboxInfo, f: PodSandboxFilter__Output | null): boolean {
  if (!f) return true;
  if (f.id && !i.id.startsWith(f.id)) return false;
  if (f.state && i.state !== f.state.state) return false;
  for (const [k, v] of Object.entries(f.label_selector ?? {})) if (i.labels[k] !== v) return false;
  return true;
}

/** Status and list objects kept while their sandbox is unchanged (status-memo.ts: encoded once each). */
const statusMemo = new DerivedMemo(toStatus);
const listMemo = new DerivedMemo(toPodSandbox);

export const sandboxModule: CriModule = {
  name: 'sandboxes',
  async start(ctx) {
    const { config, log } = ctx;
    const cni = new CniManager({
      confDir: config.cni.conf_dir, binDirs: config.cni.bin_dirs, cacheDir: path.join(config.root, 'cni', 'results'), log,
    });
    await cni.start();
    ctx.onConfigChange(async (changed) => {
      if (changed.includes('cni.conf_dir') || changed.includes('cni.bin_dirs')) await cni.retarget(config.cni.conf_dir, config.cni.bin_dirs);
    });
    ctx.conditions.set('NetworkReady', async () => {
      // While not ready, each Status re-scans (a readdir): robust even if the watch missed an event.
      if (!cni.networkStatus().ready) await cni.reload();
      const s = cni.networkStatus();
      return { type: 'NetworkReady', status: s.ready, reason: s.reason, message: s.message };
    });
    const mgr = new SandboxManager({ config, cgroups: ctx.cgroups, log, store: ctx.store, cni });
    await mgr.init();
    await recoverSandboxes(mgr, cni, log);
    ctx.services.sandboxes = mgr;
    return {
      close: async () => cni.close(),
      handlers: {
        RunPodSandbox: async (req) => ({ pod_sandbox_id: await mgr.run(toSandboxRequest(req.config, req.runtime_handler)) }),
        StopPodSandbox: async (req) => {
          if (!req.pod_sandbox_id) throw new InvalidArgumentError('StopPodSandbox: pod_sandbox_id is required');
          await mgr.stop(req.pod_sandbox_id);
          return {};
        },
        RemovePodSandbox: async (req) => {
          if (!req.pod_sandbox_id) throw new InvalidArgumentError('RemovePodSandbox: pod_sandbox_id is required');
          await mgr.remove(req.pod_sandbox_id);
          return {};
        },
        PodSandboxStatus: async (req) => {
          const i = mgr.get(req.pod_sandbox_id);
          const info: Record<string, string> = {};
          if (req.verbose) {
            const cniResult = await mgr.networkResult(i.id).catch(() => undefined);
            info.info = JSON.stringify({
              id: i.id, netnsPath: i.netnsPath ?? null, ipcnsPath: i.ipcnsPath ?? null, utsnsPath: i.utsnsPath ?? null,
              pidMode: i.pidMode, pausePid: i.pausePid ?? null, cgroupParent: i.cgroupParent, hostname: i.hostname,
              cniResult: cniResult?.raw ?? null, sysctls: i.sysctls, runtimeHandler: i.runtimeHandler,
              podResources: { overhead: i.linux.overhead ?? null, resources: i.linux.resources ?? null, cgroup: mgr.podCgroup(i.id) },
            });
          }
          return { status: statusMemo.get(i), info, containers_statuses: [], timestamp: (BigInt(Date.now()) * 1_000_000n).toString() };
        },
        ListPodSandbox: async (req) => ({ items: [...matchingSandboxes(mgr.iterate(), req.filter)].map((i) => listMemo.get(i)) }),
        StreamPodSandboxes: (call) => {
          const encode = itemEncoder<PodSandbox>('RuntimeService', 'StreamPodSandboxes', 'pod_sandboxes');
          void serveList(call, (w) => addAll(w, matchingSandboxes(mgr.iterate(), call.request.filter), (i) => encode(toPodSandbox(i))));
        },
        UpdatePodSandboxResources: async (req) => {
          if (!req.pod_sandbox_id) throw new InvalidArgumentError('UpdatePodSandboxResources: pod_sandbox_id is required');
          await mgr.updateResources(req.pod_sandbox_id, { overhead: toResources(req.overhead), resources: toResources(req.resources) });
          return {};
        },
        UpdateRuntimeConfig: async (req) => {
          const cidr = req.runtime_config?.network_config?.pod_cidr ?? '';
          if (cidr) parsePodCidrs(cidr);
          if (cidr && config.cni.conf_template) {
            const file = await cni.writeTemplate(config.cni.conf_template, cidr);
            log.info({ file, podCidr: cidr }, 'wrote CNI config from template');
          }
          return {};
        },
      },
    };
  },
};
