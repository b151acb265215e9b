// Container rpcs: CreateContainer, StartContainer, StopContainer, RemoveContainer,
// ContainerStatus, ListContainers, ExecSync, ReopenContainerLog, UpdateContainerResources.
// Conversion only; the work is in pkg/container.
import { CdiRegistry } from '../cdi/registry.js';
import { recoverContainers } from '../container/recover.js';
import { APPARMOR_DEFAULT, ensureDefaultProfile } from '../container/apparmor.js';
import { readHostFacts } from '../container/host.js';
import { ContainerManager } from '../container/service.js';
import { clampTimeoutSeconds } from '../container/timeouts.js';
import { signalFromCri, signalToCri } from '../container/signals.js';
import type {
  ContainerConfigInput, ContainerFilter, ContainerInfo, MountInput, NamespaceMode, ResourcesInput, SecurityProfileInput,
} from '../container/types.js';
import { InvalidArgumentError } from '../errors/errors.js';
import type { ContainerConfig__Output } from './gen/runtime/v1/ContainerConfig.js';
import type { ContainerFilter__Output } from './gen/runtime/v1/ContainerFilter.js';
import type { Container } from './gen/runtime/v1/Container.js';
import type { ContainerStatus } from './gen/runtime/v1/ContainerStatus.js';
import type { LinuxContainerResources, LinuxContainerResources__Output } from './gen/runtime/v1/LinuxContainerResources.js';
import type { LinuxContainerSecurityContext__Output } from './gen/runtime/v1/LinuxContainerSecurityContext.js';
import type { Mount } from './gen/runtime/v1/Mount.js';
import { addAll, itemEncoder, serveList } from './list-stream.js';
import { DerivedMemo } from './status-memo.js';
import { need, type CriModule } from './module.js';

const int = (v: string | undefined | null): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));
const nz = (v: string | undefined | null): number | undefined => {
  const n = int(v);
  return n ? n : undefined;
};

const PROP: Record<string, MountInput['propagation']> = {
  PROPAGATION_PRIVATE: 'PRIVATE',
  PROPAGATION_HOST_TO_CONTAINER: 'HOST_TO_CONTAINER',
  PROPAGATION_BIDIRECTIONAL: 'BIDIRECTIONAL',
};
const PROP_BACK: Record<MountInput['propagation'], Mount['propagation']> = {
  PRIVATE: 'PROPAGATION_PRIVATE',
  HOST_TO_CONTAINER: 'PROPAGATION_HOST_TO_CONTAINER',
  BIDIRECTIONAL: 'PROPAGATION_BIDIRECTIONAL',
};

export function toResources(r: LinuxContainerResources__Output | null | undefined): ResourcesInput | undefined {
  if (!r) return undefined;
  return {
    cpuPeriod: nz(r.cpu_period), cpuQuota: nz(r.cpu_quota), cpuShares: nz(r.cpu_shares),
    memoryLimitInBytes: nz(r.memory_limit_in_bytes), memorySwapLimitInBytes: nz(r.memory_swap_limit_in_bytes),
    oomScoreAdj: int(r.oom_score_adj), cpusetCpus: r.cpuset_cpus || undefined, cpusetMems: r.cpuset_mems || undefined,
    hugepageLimits: (r.hugepage_limits ?? []).map((h) => ({ pageSize: h.page_size, limit: Number(h.limit) })),
    unified: r.unified ?? {},
  };
}

/** CRI's seccomp/AppArmor profile, with the deprecated string fields as fallback. */
function profile(p: { profile_type: string; localhost_ref: string } | null | undefined, legacy: string): SecurityProfileInput | undefined {
  if (p) return { type: p.profile_type as SecurityProfileInput['type'], localhostRef: p.localhost_ref || undefined };
  if (!legacy) return undefined;
  if (legacy === 'unconfined') return { type: 'Unconfined' };
  if (legacy === 'runtime/default' || legacy === 'docker/default') return { type: 'RuntimeDefault' };
  if (legacy.startsWith('localhost/')) return { type: 'Localhost', localhostRef: legacy.slice('localhost/'.length) };
  throw new InvalidArgumentError(`unknown security profile "${legacy}"`);
}

function security(sc: LinuxContainerSecurityContext__Output | null | undefined): ContainerConfigInput['security'] {
  const ns = sc?.namespace_options;
  return {
    capabilities: {
      add: sc?.capabilities?.add_capabilities ?? [], drop: sc?.capabilities?.drop_capabilities ?? [],
      addAmbient: sc?.capabilities?.add_ambient_capabilities ?? [],
    },
    privileged: sc?.privileged ?? false,
    namespaces: {
      network: (ns?.network ?? 'POD') as NamespaceMode, pid: (ns?.pid ?? 'CONTAINER') as NamespaceMode,
      ipc: (ns?.ipc ?? 'POD') as NamespaceMode, targetId: ns?.target_id ?? '',
    },
    runAsUser: int(sc?.run_as_user?.value),
    runAsGroup: int(sc?.run_as_group?.value),
    runAsUsername: sc?.run_as_username || undefined,
    readonlyRootfs: sc?.readonly_rootfs ?? false,
    supplementalGroups: (sc?.supplemental_groups ?? []).map(Number),
    supplementalGroupsPolicy: sc?.supplemental_groups_policy === 'Strict' ? 'Strict' : 'Merge',
    noNewPrivs: sc?.no_new_privs ?? false,
    maskedPaths: sc?.masked_paths ?? [],
    readonlyPaths: sc?.readonly_paths ?? [],
    seccomp: profile(sc?.seccomp, sc?.seccomp_profile_path ?? ''),
    apparmor: profile(sc?.apparmor, sc?.apparmor_profile ?? ''),
  };
}

export function toConfigInput(c: ContainerConfig__Output | null): ContainerConfigInput {
  if (!c) throw new InvalidArgumentError('CreateContainer: config is required');
  return {
    name: c.metadata?.name ?? '', attempt: c.metadata?.attempt ?? 0, image: c.image?.image ?? '',
    command: c.command ?? [], args: c.args ?? [], workingDir: c.working_dir ?? '',
    envs: (c.envs ?? []).map((e) => ({ key: e.key, value: Buffer.from(e.value).toString('utf8') })),
    mounts: (c.mounts ?? []).map((m): MountInput => ({
      containerPath: m.container_path, hostPath: m.host_path, readonly: m.readonly,
      propagation: PROP[m.propagation] ?? 'PRIVATE', recursiveReadOnly: m.recursive_read_only, selinuxRelabel: m.selinux_relabel,
      ...(m.image ? { image: m.image.image, ...(m.image_sub_path ? { imageSubPath: m.image_sub_path } : {}) } : {}),
    })),
    devices: (c.devices ?? []).map((d) => ({ containerPath: d.container_path, hostPath: d.host_path, permissions: d.permissions })),
    labels: c.labels ?? {}, annotations: c.annotations ?? {}, logPath: c.log_path ?? '',
    stdin: c.stdin ?? false, stdinOnce: c.stdin_once ?? false, tty: c.tty ?? false,
    resources: toResources(c.linux?.resources),
    security: security(c.linux?.security_context),
    stopSignal: signalFromCri(c.stop_signal),
    cdiDevices: (c.CDI_devices ?? []).map((d) => d.name),
  };
}

function fromResources(r: ResourcesInput | undefined): LinuxContainerResources | undefined {
  if (!r) return undefined;
  return {
    cpu_period: r.cpuPeriod ?? 0, cpu_quota: r.cpuQuota ?? 0, cpu_shares: r.cpuShares ?? 0,
    memory_limit_in_bytes: r.memoryLimitInBytes ?? 0, memory_swap_limit_in_bytes: r.memorySwapLimitInBytes ?? 0,
    oom_score_adj: r.oomScoreAdj ?? 0, cpuset_cpus: r.cpusetCpus ?? '', cpuset_mems: r.cpusetMems ?? '',
    hugepage_limits: r.hugepageLimits.map((h) => ({ page_size: h.pageSize, limit: h.limit })), unified: r.unified,
  };
}

/** ListContainers' and StreamContainers' filter: empty fields match everything. */
export function toContainerFilter(f: ContainerFilter__Output | null): ContainerFilter {
  return {
    id: f?.id || undefined, sandboxId: f?.pod_sandbox_id || undefined,
    state: f?.state ? f.state.state : undefined,
    labelSelector: f?.label_selector && Object.keys(f.label_selector).length ? f.label_selector : undefined,
  };
}

export function toContainer(i: ContainerInfo): Container {
  return {
    id: i.id, pod_sandbox_id: i.sandboxId, metadata: { name: i.name, attempt: i.attempt },
    image: { image: i.image, image_ref: i.imageId }, image_ref: i.imageRef, image_id: i.imageId, state: i.state,
    created_at: i.createdAt.toString(), labels: i.labels, annotations: i.annotations,
  };
}

/** The CRI status of a container (without the verbose info); GetContainerEvents sends it too. */
export function toStatus(i: ContainerInfo): ContainerStatus {
  return {
    id: i.id, metadata: { name: i.name, attempt: i.attempt }, state: i.state,
    created_at: i.createdAt.toString(), started_at: i.startedAt.toString(), finished_at: i.finishedAt.toString(),
    exit_code: i.exitCode, image: { image: i.image, image_ref: i.imageId }, image_ref: i.imageRef, image_id: i.imageId,
    reason: i.reason, message: i.message, labels: i.labels, annotations: i.annotations,
    mounts: i.config.mounts.map((m) => ({
      container_path: m.containerPath, host_path: m.hostPath, readonly: m.readonly, selinux_relabel: m.selinuxRelabel,
      propagation: PROP_BACK[m.propagation], recursive_read_only: m.recursiveReadOnly,
      ...(m.image !== undefined ? { image: { image: m.image, image_ref: m.imageId ?? '' }, image_sub_path: m.imageSubPath ?? '' } : {}),
    })),
    log_path: i.logPath,
    resources: i.config.resources ? { linux: fromResources(i.config.resources) } : null,
    user: { linux: { uid: i.user.uid, gid: i.user.gid, supplemental_groups: i.user.additionalGids } },
    // By number: the enum's names differ between cri-api releases.
    stop_signal: signalToCri(i.stopSignal) as ContainerStatus['stop_signal'],
  };
}

/** Status and list objects kept while their container is unchanged (status-memo.ts: encoded once each). */
const statusMemo = new DerivedMemo(toStatus);
const listMemo = new DerivedMemo(toContainer);

declare module './module.js' {
  interface Services {
    cdi: CdiRegistry;
  }
}

export const containerModule: CriModule = {
  name: 'containers',
  async start(ctx) {
    const sandboxes = need(ctx, 'sandboxes');
    const images = need(ctx, 'images');
    const cdi = new CdiRegistry({ specDirs: ctx.config.cdi.spec_dirs, log: ctx.log.child({ module: 'cdi' }) });
    ctx.services.cdi = cdi;
    const host = await readHostFacts(ctx.cgroups.version === 2);
    if (host.apparmorEnabled) {
      const why = await ensureDefaultProfile();
      if (why) ctx.log.warn({ err: why }, `AppArmor: the default profile ${APPARMOR_DEFAULT} is not loaded; containers asking for the runtime default run unconfined`);
      else ctx.log.info(`AppArmor: containers get the ${APPARMOR_DEFAULT} profile by default`);
    }
    const m = new ContainerManager({ config: ctx.config, cgroups: ctx.cgroups, log: ctx.log, store: ctx.store, sandboxes, images, host, cdi });
    await recoverContainers(m);
    ctx.services.containers = m;
    sandboxes.setContainerHooks(m.sandboxHooks());
    // A container's own image and the images it mounts as volumes are in use until it is removed.
    images.setInUseCheck((imageId) => m.list().some((c) => c.imageId === imageId || c.config.mounts.some((x) => x.imageId === imageId)));
    return {
      close: async () => {
        cdi.close();
        await m.close();
      },
      handlers: {
        CreateContainer: async (req) => {
          if (!req.pod_sandbox_id) throw new InvalidArgumentError('CreateContainer: pod_sandbox_id is required');
          return { container_id: await m.create(req.pod_sandbox_id, toConfigInput(req.config)) };
        },
        StartContainer: async (req) => {
          await m.start(req.container_id);
          return {};
        },
        StopContainer: async (req) => {
          await m.stop(req.container_id, clampTimeoutSeconds(req.timeout));
          return {};
        },
        RemoveContainer: async (req) => {
          await m.remove(req.container_id);
          return {};
        },
        ListContainers: async (req) => ({ containers: m.list(toContainerFilter(req.filter)).map((i) => listMemo.get(i)) }),
        StreamContainers: (call) => {
          const encode = itemEncoder<Container>('RuntimeService', 'StreamContainers', 'containers');
          void serveList(call, (w) => addAll(w, m.iterate(toContainerFilter(call.request.filter)), (c) => encode(toContainer(c))));
        },
        ContainerStatus: async (req) => {
          const i = m.get(req.container_id);
          const info: Record<string, string> = {};
          if (req.verbose) {
            info.info = JSON.stringify({
              pid: i.pid, runtimeHandler: i.runtimeHandler, bundle: i.bundle, sandboxID: i.sandboxId,
              runtimeSpec: await m.ociSpec(i.id).catch(() => null),
            });
          }
          return { status: statusMemo.get(i), info };
        },
        ExecSync: async (req, call) => {
          const r = await m.execSync(req.container_id, req.cmd, clampTimeoutSeconds(req.timeout), call.signal);
          return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
        },
        ReopenContainerLog: async (req) => {
          await m.reopenLog(req.container_id);
          return {};
        },
        UpdateContainerResources: async (req) => {
          const r = toResources(req.linux);
          if (!r) throw new InvalidArgumentError('UpdateContainerResources: linux resources are required');
          await m.updateResources(req.container_id, r);
          return {};
        },
      },
    };
  },
};
