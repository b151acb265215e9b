// Recovery at daemon start: containers outlive the daemon (conmon owns them). Reload the records,
// report exits that happened while berth was down (exit files), and ask the runtime about the rest.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors/errors.js';
import { hasImageVolumes, remountImageVolumes } from './image-volumes.js';
import { reconcileContainers } from './reconcile.js';
import { nowNs, type ContainerManager } from './service.js';
import { nameKey, type ContainerRecord } from './store.js';

export async function recoverContainers(m: ContainerManager): Promise<void> {
  for (const r of m.table.all()) {
    m.index(r);
    // A kubelet retry of a CreateContainer that finished just before the restart still gets it.
    if (r.fingerprint) m.requests.remember(nameKey(r.info), r.fingerprint, r.info.id, Number(r.info.createdAt / 1_000_000n));
  }
  // Reports every exit file present, through the same path as live exits.
  await m.exits.start();
  await Promise.all([...m.records.values()].map(async (r) => {
    const id = r.info.id;
    if (r.info.state === 'CONTAINER_EXITED') return;
    try {
      if (r.awaitingRuntime) {
        await adoptCutStart(m, r);
        return;
      }
      if ((await m.exits.check(id)) !== undefined) return;
      const st = await m.driver.state(m.handler(r.info.runtimeHandler, r.info.cgroupsPath), id);
      if (!st || st.status === 'stopped') {
        // conmon may be writing the exit file right now; look once more before calling it lost.
        if ((await m.exits.check(id)) !== undefined) return;
        await m.onExit(id, 255, st ? 'the container stopped while berth was down; its exit code is unknown' : 'the runtime no longer knows the container');
        return;
      }
      // Started while berth was going down (a StartContainer cut by the crash): it runs.
      if (st.status === 'running' && r.info.state === 'CONTAINER_CREATED') m.commit(r, { state: 'CONTAINER_RUNNING', startedAt: r.info.startedAt || nowNs() });
      if (st.pid && st.pid !== r.info.pid) m.commit(r, { pid: st.pid });
      if (st.status === 'running') await m.oomWatch.watch(id, r.info.cgroupsPath);
      if (!(await conmonAlive(r.info.bundle, id))) watchWithoutConmon(m, id);
    } catch (err) {
      m.o.log.warn({ id, err: errorMessage(err) }, 'container recovery: runtime state failed');
    }
  }));
  const removed = await reconcileContainers(m);
  await recoverImageVolumes(m);
  m.o.log.info({ containers: m.records.size, removed }, 'containers recovered');
}

/**
 * A container never started, or whose StartContainer was cut by the crash. If the runtime made
 * its container and conmon watches it, the start got that far: adopt it (still CREATED, so a
 * retried start only runs `runtime start`; RUNNING if it was started). Otherwise it stays
 * awaiting the runtime, and reconcileContainers ends its conmon and removes any runtime state.
 */
async function adoptCutStart(m: ContainerManager, r: ContainerRecord): Promise<void> {
  const id = r.info.id;
  const st = await m.driver.state(m.handler(r.info.runtimeHandler, r.info.cgroupsPath), id);
  if (!st || st.status === 'stopped' || !(await conmonAlive(r.info.bundle, id))) return;
  const running = st.status === 'running';
  m.commitRecord(r, { awaitingRuntime: false }, { pid: st.pid, ...(running ? { state: 'CONTAINER_RUNNING' as const, startedAt: nowNs() } : {}) });
  // An exit file seen while it was awaiting was ignored; its exit is to be reported from now on.
  m.exits.forget(id);
  if (running) await m.oomWatch.watch(id, r.info.cgroupsPath);
}

/** Image volume views of live containers that are not mounted any more are mounted again. */
async function recoverImageVolumes(m: ContainerManager): Promise<void> {
  for (const r of m.records.values()) {
    if (r.info.state === 'CONTAINER_EXITED' || !hasImageVolumes(r.info.config.mounts)) continue;
    try {
      const n = await remountImageVolumes(m.o.images, r.info.bundle, r.info.config.mounts);
      if (n) m.o.log.info({ id: r.info.id, views: n }, 'image volumes mounted again');
    } catch (err) {
      m.o.log.warn({ id: r.info.id, err: errorMessage(err) }, 'could not mount the image volumes of a container again');
    }
  }
}

/** Whether the conmon that watches container `id` is still running. */
async function conmonAlive(bundle: string, id: string): Promise<boolean> {
  const pid = Number((await readFile(path.join(bundle, 'conmon-pidfile'), 'utf8').catch(() => '')).trim());
  if (!pid) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('conmon') && cmdline.includes(id);
}

/**
 * A running container whose conmon is gone will never get an exit file. Rare (conmon killed), so
 * asking the runtime every 5 s for these few is acceptable; the exit code is then unknown.
 */
function watchWithoutConmon(m: ContainerManager, id: string): void {
  m.o.log.warn({ id }, 'container has no conmon: its exit will be found by asking the runtime');
  const timer = setInterval(() => {
    const r = m.records.get(id);
    if (!r || r.info.state === 'CONTAINER_EXITED') {
      clearInterval(timer);
      return;
    }
    void m.driver.state(m.handler(r.info.runtimeHandler, r.info.cgroupsPath), id).then(async (st) => {
      if (st && st.status !== 'stopped') return;
      clearInterval(timer);
      if ((await m.exits.check(id)) !== undefined) return;
      await m.onExit(id, 255, 'exited while its monitor (conmon) was gone; the exit code is unknown');
    }, () => undefined);
  }, 5000);
  timer.unref();
}
