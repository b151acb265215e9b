// Start-up reconciliation: sandboxes whose namespaces or pause process did not survive (a reboot
// empties /run) are NOTREADY; pins, dirs and CNI attachments of sandboxes with no record (a
// crash in the middle of RunPodSandbox) are cleaned up.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { PodNetwork } from '../cni/manager.js';
import { isNamespacePin } from '../cni/manager.js';
import { errorMessage } from '../errors/errors.js';
import type { Logger } from '../log/log.js';
import { umount } from '../sys/mount.js';
import { rm } from 'node:fs/promises';
import { NS_KINDS, unpinNamespaces } from './namespaces.js';
import type { SandboxManager } from './service.js';
import type { SandboxRecord } from './store.js';

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
    r.info.state = 'SANDBOX_NOTREADY';
    r.info.pausePid = undefined;
    mgr.save(r);
  }
  const known = (id: string) => mgr.records.has(id);
  const orphans = new Set<string>();
  for (const id of await names(mgr.sandboxesDir)) if (/^[0-9a-f]{64}$/.test(id) && !known(id)) orphans.add(id);
  for (const kind of NS_KINDS) for (const id of await names(path.join(mgr.nsDir, kind))) if (!known(id)) orphans.add(id);
  for (const id of orphans) {
    try {
      await cni.del(id);
      await unpinNamespaces(mgr.nsDir, id);
      umount(path.join(mgr.sandboxesDir, id, 'shm'));
      await rm(path.join(mgr.sandboxesDir, id), { recursive: true, force: true });
      log.info({ sandbox: id }, 'removed remains of a sandbox with no record');
    } catch (err) {
      log.warn({ sandbox: id, err: errorMessage(err) }, 'could not clean up remains of a sandbox');
    }
  }
}
