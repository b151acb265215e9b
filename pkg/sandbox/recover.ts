// Start-up reconciliation: sandboxes whose namespaces or pause process did not survive (a reboot
// empties /run) are NOTREADY; everything of a sandbox with no record (a RunPodSandbox cut by a
// crash at any point) is taken away: the CNI attachment (its cache entry is written before
// ADD), pause and its cgroup, the pod cgroup berth made, the namespace pins, /dev/shm and the
// sandbox directory.
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PodNetwork } from '../cni/manager.js';
import { isNamespacePin } from '../cni/manager.js';
import { mountsUnder } from '../container/reconcile.js';
import { runEveryStep, describeFailures, type CleanupFailure } from '../sync/cleanup.js';
import type { Logger } from '../log/log.js';
import { removeCgroup } from '../cgroups/index.js';
import { umount } from '../sys/mount.js';
import { NS_KINDS, unpinNamespaces } from './namespaces.js';
import { POD_CGROUP_CLAIM, releasePodCgroup } from './pod-cgroup.js';
import { stopPause } from './pause.js';
import type { SandboxManager } from './service.js';
import type { SandboxRecord } from './store.js';

const ID = /^[0-9a-f]{64}$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function intact(r: SandboxRecord): Promise<string | undefined> {
  const { info } = r;
  for (const p of [info.netnsPath, info.ipcnsPath, info.utsnsPath, info.usernsPath]) {
    if (p && !(await isNamespacePin(p))) return `namespace pin ${p} is gone`;
  }
  if (info.pidMode === 'POD' && (info.pausePid === undefined || !alive(info.pausePid))) return 'pause process is gone';
  return undefined;
}

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

export async function recoverSandboxes(mgr: SandboxManager, cni: PodNetwork, log: Logger): Promise<void> {
  for (const r of mgr.records.values()) {
    if (r.info.state !== 'SANDBOX_READY') continue;
    const why = await intact(r);
    if (!why) continue;
    log.warn({ sandbox: r.info.id, why }, 'sandbox did not survive; marking NOTREADY');
    mgr.commit(r, { state: 'SANDBOX_NOTREADY', pausePid: undefined });
  }
  const known = (id: string) => mgr.records.has(id);
  const orphans = new Set<string>();
  for (const id of await names(mgr.sandboxesDir)) if (ID.test(id) && !known(id)) orphans.add(id);
  for (const kind of NS_KINDS) for (const id of await names(path.join(mgr.nsDir, kind))) if (!known(id)) orphans.add(id);
  for (const id of await cni.attachments()) if (!known(id)) orphans.add(id);
  for (const mnt of [...(await mountsUnder(mgr.sandboxesDir)), ...(await mountsUnder(mgr.nsDir))]) {
    const id = path.basename(mnt) === 'shm' ? path.basename(path.dirname(mnt)) : path.basename(mnt);
    if (ID.test(id) && !known(id)) orphans.add(id);
  }
  for (const id of orphans) {
    const failed = await removeRemains(mgr, cni, id);
    if (failed.length === 0) log.info({ sandbox: id }, 'removed remains of a sandbox with no record');
    else log.warn({ sandbox: id, failed: describeFailures(failed) }, 'could not clean up all remains of a sandbox; the rest is retried at the next start');
  }
}

/**
 * Everything RunPodSandbox makes for `id`, in the order that undoes it; each step is harmless when
 * there is nothing to undo, and each runs even when an earlier one failed (a CNI DEL that fails
 * must not leave the pins and mounts too). The directory goes last and only when every other step
 * worked: it holds the pause spec and the pod-cgroup claim a retry at the next start needs.
 */
async function removeRemains(mgr: SandboxManager, cni: PodNetwork, id: string): Promise<CleanupFailure[]> {
  const dir = path.join(mgr.sandboxesDir, id);
  const pauseSpec = await readFile(path.join(dir, 'pause', 'config.json'), 'utf8').then((t) => JSON.parse(t) as { linux?: { cgroupsPath?: string } }, () => undefined);
  const cgroupsPath = pauseSpec?.linux?.cgroupsPath;
  const failed = await runEveryStep([
    { name: 'network', fn: () => cni.del(id) },
    ...Object.keys(pauseSpec ? mgr.o.config.runtime.handlers : {}).map((name) => ({
      name: `pause (${name})`,
      fn: () => {
        const rt = mgr.runtime(name);
        return stopPause(rt.path, rt.root, id, undefined, mgr.o.cgroups.runtimeFlags(cgroupsPath));
      },
    })),
    { name: 'pause cgroup', fn: async () => { if (cgroupsPath) await removeCgroup(cgroupsPath); } },
    { name: 'namespace pins', fn: () => unpinNamespaces(mgr.nsDir, id) },
    { name: 'shm', fn: async () => umount(path.join(dir, 'shm')) },
    // A pod cgroup berth was making for it (its containers could not exist yet: no record).
    { name: 'pod cgroup', fn: async () => { const c = await readFile(path.join(dir, POD_CGROUP_CLAIM), 'utf8').catch(() => ''); if (c) await releasePodCgroup(c); } },
  ]);
  if (failed.length > 0) return failed;
  return runEveryStep([{ name: 'directory', fn: () => rm(dir, { recursive: true, force: true }) }]);
}
