// RunPodSandbox's work: pinned namespaces, the pod's files and /dev/shm, the CNI attachment and
// (shared PID namespace) pause. Each step registers its undo before it runs, so a failure at any
// point takes away exactly what was made; a cleanup that fails in turn leaves a NOTREADY record
// that RemovePodSandbox finishes, instead of things no record knows.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { podIps } from '../cni/result.js';
import { FailedPreconditionError, InvalidArgumentError, errorMessage } from '../errors/errors.js';
import { mkdirHostPath } from '../sys/files.js';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, mount, umount } from '../sys/mount.js';
import { CleanupStack, describeFailures, settleAll } from '../sync/cleanup.js';
import { renderHosts, renderResolvConf } from './files.js';
import { pinNamespaces, unpinNamespaces, type NsKind } from './namespaces.js';
import { claimPodCgroup, POD_CGROUP_CLAIM, releasePodCgroup } from './pod-cgroup.js';
import { removePauseBundle, startPause, stopPause } from './pause.js';
import { parseQuantity, type SandboxRequest } from './request.js';
import type { SandboxManager } from './service.js';
import type { SandboxRecord } from './store.js';
import type { SandboxInfo } from './types.js';

const SHM_SIZE = 64 * 1024 * 1024;
const BURST_MAX = 2_147_483_647;

export async function createSandbox(m: SandboxManager, req: SandboxRequest, handler: string, fingerprint: string): Promise<string> {
  const c = m.o.config;
  const id = randomBytes(32).toString('hex');
  const dir = path.join(m.sandboxesDir, id);
  const podNet = req.namespaces.network !== 'NODE';
  const podIpc = req.namespaces.ipc !== 'NODE';
  const pidMode = req.namespaces.pid === 'POD' ? 'POD' : req.namespaces.pid === 'NODE' ? 'NODE' : 'CONTAINER';
  if (podNet && !m.o.cni.networkStatus().ready) await m.o.cni.requireNetwork().catch((err: Error) => {
    throw new FailedPreconditionError(`pod sandbox ${req.namespace}/${req.name}: ${err.message}`);
  });
  // Host network pods keep the host's UTS namespace and so its hostname, as kubelet expects.
  const hostname = podNet ? req.hostname || req.name.slice(0, 63) : os.hostname();
  const userns = req.namespaces.usernsMode === 'POD';
  const kinds: NsKind[] = [...(podNet ? (['net', 'uts'] as const) : []), ...(podIpc ? (['ipc'] as const) : []), ...(userns ? (['user'] as const) : [])];
  const info: SandboxInfo = {
    id, name: req.name, namespace: req.namespace, uid: req.uid, attempt: req.attempt,
    state: 'SANDBOX_READY', createdAt: BigInt(Date.now()) * 1_000_000n, runtimeHandler: handler,
    pidMode, cgroupParent: m.o.cgroups.podParent(req.cgroupParent), logDirectory: req.logDirectory,
    hostsPath: path.join(dir, 'hosts'), resolvConfPath: path.join(dir, 'resolv.conf'), hostnamePath: path.join(dir, 'hostname'),
    shmPath: podIpc ? path.join(dir, 'shm') : undefined, hostname, additionalIps: [],
    ...(userns ? { uidMappings: req.namespaces.uids, gidMappings: req.namespaces.gids } : {}),
    labels: req.labels, annotations: req.annotations, sysctls: req.sysctls, portMappings: req.portMappings, linux: req.linux,
  };
  const rec: SandboxRecord = { info, fingerprint, readyAt: 0, networkAttached: false };
  const log = m.o.log.child({ sandbox: id, pod: `${req.namespace}/${req.name}` });
  const undo = new CleanupStack();
  let pause: Promise<{ pid: number; root: string }> | undefined;
  const t0 = performance.now();
  const ms: Record<string, number> = {};
  const lap = (k: string) => (ms[k] = Math.round(performance.now() - t0));
  try {
    // Every undo is registered before its step and is harmless when the step made nothing.
    undo.add('files', () => rm(dir, { recursive: true, force: true }));
    undo.add('namespaces', () => unpinNamespaces(m.nsDir, id));
    undo.add('pod cgroup', async () => rec.podCgroupOwner === 'berth' && releasePodCgroup(info.cgroupParent));
    if (info.shmPath) undo.add('shm', async () => umount(info.shmPath!));
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const hostResolv = req.dns && (req.dns.servers.length || req.dns.searches.length || req.dns.options.length) ? '' : await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    // Independent steps in parallel: the namespaces, the files that need no IP, shm, log dir.
    // All of them settle before a failure unwinds, or a step still running would make what its
    // undo had already taken away (pins, the shm mount, the pod cgroup) and leave it behind.
    const [pins] = await settleAll([
      kinds.length
        ? pinNamespaces({ nsDir: m.nsDir, id, kinds, hostname, sysctls: req.sysctls, uidMapping: info.uidMappings?.[0], gidMapping: info.gidMappings?.[0] })
        : Promise.resolve({} as Partial<Record<NsKind, string>>),
      writeFile(info.resolvConfPath, renderResolvConf(req.dns, hostResolv), { mode: 0o644 }),
      writeFile(info.hostnamePath, `${hostname}\n`, { mode: 0o644 }),
      // Recorded as soon as it is made, so a failure below removes it too.
      claimPodCgroup(m.o.cgroups.driver, req.cgroupParent, () => writeFile(path.join(dir, POD_CGROUP_CLAIM), req.cgroupParent)).then((owner) => void (rec.podCgroupOwner = owner)),
      info.shmPath ? mountShm(info.shmPath) : undefined,
      req.logDirectory ? mkdirHostPath(req.logDirectory).catch((err: unknown) => {
        throw new InvalidArgumentError(`config.log_directory: ${errorMessage(err)}`);
      }) : undefined,
    ]);
    lap('namespaces');
    if (rec.podCgroupOwner === 'berth') await m.applyPodLimits(rec);
    info.netnsPath = pins.net;
    info.ipcnsPath = pins.ipc;
    info.utsnsPath = pins.uts;
    info.usernsPath = pins.user;
    if (pidMode === 'POD') {
      const rt = m.runtime(handler);
      undo.add('pause', async () => {
        await stopPause(rt.path, rt.root, id, (await pause?.catch(() => undefined))?.pid, m.o.cgroups.runtimeFlags(rec.pauseCgroupsPath));
        await removePauseBundle(path.join(dir, 'pause'));
      });
      pause = startPauseFor(m, info, rec);
      pause.catch(() => undefined); // awaited below; a failure there is the one reported
    }
    let ips: string[] = [];
    if (info.netnsPath) {
      undo.add('network', () => m.o.cni.del(id));
      const result = await m.o.cni.add({
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
    rec.networkAttached = info.netnsPath !== undefined;
    m.save(rec);
    undo.release();
    lap('saved');
    log.info({ ip: info.ip, netns: info.netnsPath, ms }, 'pod sandbox ready');
    m.emit('CONTAINER_CREATED_EVENT', id);
    m.emit('CONTAINER_STARTED_EVENT', id);
    return id;
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'RunPodSandbox failed; cleaning up');
    // pause runs beside the CNI ADD: let it finish before tearing it down.
    await pause?.catch(() => undefined);
    const failed = await undo.unwind();
    if (failed.length) keepForRemoval(m, rec, failed.map((f) => f.step), describeFailures(failed));
    throw err;
  }
}

/**
 * The cleanup of a failed RunPodSandbox failed too: keep a NOTREADY record, so the sandbox is
 * listed and RemovePodSandbox (kubelet garbage-collects NOTREADY sandboxes) finishes the job.
 */
function keepForRemoval(m: SandboxManager, rec: SandboxRecord, steps: string[], why: string): void {
  rec.info.state = 'SANDBOX_NOTREADY';
  rec.info.pausePid = undefined;
  rec.networkAttached = steps.includes('network');
  rec.pauseDeleted = !steps.includes('pause');
  try {
    m.save(rec);
    m.o.log.warn({ sandbox: rec.info.id, steps: why }, 'cleanup after a failed RunPodSandbox incomplete: kept as NOTREADY for RemovePodSandbox');
  } catch (err) {
    m.o.log.error({ sandbox: rec.info.id, steps: why, err: errorMessage(err) }, 'cleanup after a failed RunPodSandbox incomplete and no record could be kept; the next start removes the rest');
  }
}

async function mountShm(p: string): Promise<void> {
  await mkdir(p, { mode: 0o1777 });
  mount('shm', p, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${SHM_SIZE}`);
}

async function startPauseFor(m: SandboxManager, info: SandboxInfo, rec: SandboxRecord): Promise<{ pid: number; root: string }> {
  const rt = m.runtime(info.runtimeHandler);
  const cgroupsPath = m.o.cgroups.containerPath(info.cgroupParent, info.id);
  // Recorded before the start, so a failed start is cleaned up with the same driver's flags.
  rec.pauseCgroupsPath = cgroupsPath;
  const pid = await startPause({
    id: info.id, runtimePath: rt.path, runtimeRoot: rt.root, bundleDir: path.join(m.sandboxesDir, info.id, 'pause'),
    rootfs: m.pauseRootfs, cgroupsPath, runtimeFlags: m.o.cgroups.runtimeFlags(cgroupsPath), netns: info.netnsPath, ipcns: info.ipcnsPath, utsns: info.utsnsPath,
    userns: info.usernsPath ? { path: info.usernsPath, uidMappings: info.uidMappings ?? [], gidMappings: info.gidMappings ?? [] } : undefined,
  });
  return { pid, root: rt.root };
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
