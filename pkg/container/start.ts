// StartContainer: the runtime's container is made here, not at CreateContainer (as containerd
// creates its task at start): conmon → `runtime create`, then `runtime start`. CreateContainer
// has checked and written everything else (spec, mounts, rootfs, record), so what can fail here
// is what only the runtime knows, e.g. a command that does not exist. A failure records the
// container as exited with reason StartError and leaves no conmon or runtime state.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FailedPreconditionError, errorMessage } from '../errors/errors.js';
import { Phases } from '../log/phases.js';
import type { OciSpec } from './oci.js';
import { removeDirs } from './rootfs.js';
import { killConmonGroup, type RuntimeHandler } from './runtime.js';
import { buildResources, clampOomScoreAdj } from './spec.js';
import type { ContainerRecord } from './store.js';
import type { ResourcesInput } from './types.js';
import { nowNs, runtimeMessage, START_ERROR_EXIT_CODE, type ContainerManager } from './service.js';

/** Runs with the container's lock held, in a READY pod. */
export async function startLocked(m: ContainerManager, r: ContainerRecord): Promise<void> {
  if (r.info.state !== 'CONTAINER_CREATED') {
    throw new FailedPreconditionError(`container "${r.info.id}" is ${r.info.state.replace('CONTAINER_', '').toLowerCase()}, not created: it can only be started once`);
  }
  const h = m.handler(r.info.runtimeHandler, r.info.cgroupsPath);
  const phases = new Phases();
  if (r.awaitingRuntime) await createInRuntime(m, r, h);
  phases.mark('create');
  // Watched from before the start: the cgroup exists since the runtime's create, and a container
  // that is OOM-killed at once under the systemd driver has its scope removed before start returns.
  await m.oomWatch.watch(r.info.id, r.info.cgroupsPath);
  phases.mark('oomWatch');
  // Taken before the runtime starts the process: a process that exits at once has its exit
  // recorded while `start` is still returning, and started_at must not come after finished_at.
  const startedAt = nowNs();
  try {
    await m.driver.start(h, r.info.id);
    phases.mark('start');
  } catch (err) {
    throw failStart(m, r, runtimeMessage(err));
  }
  // A container may have exited before we got here; its exit is already recorded.
  const running = (r.info.state as string) === 'CONTAINER_CREATED';
  m.commit(r, { startedAt, ...(running ? { state: 'CONTAINER_RUNNING' as const } : {}) });
  m.emit('CONTAINER_STARTED_EVENT', r.info);
  m.o.log.debug({ id: r.info.id, phases: phases.ms }, 'container started');
}

/** conmon → `runtime create`; the pid is on disk (and the record no longer awaiting) before start. */
async function createInRuntime(m: ContainerManager, r: ContainerRecord, h: RuntimeHandler): Promise<void> {
  const { id, config: cfg, bundle } = r.info;
  // A start retried after a failed write below: conmon's old exit file must not stand for this run's.
  await rm(path.join(m.driver.exitDir, id), { force: true });
  m.exits.forget(id);
  let pid: number;
  try {
    ({ pid } = await m.driver.create(h, {
      id, name: cfg.name, bundle, logPath: r.info.logPath || path.join(bundle, 'console.log'),
      tty: cfg.tty, stdin: cfg.stdin, stdinOnce: cfg.stdinOnce,
    }));
  } catch (err) {
    // The driver has ended conmon's process group; what the runtime made is removed here.
    await discardRuntime(m, r, h);
    throw failStart(m, r, runtimeMessage(err), { runtime: false });
  }
  try {
    m.commitRecord(r, { awaitingRuntime: false }, { pid });
  } catch (err) {
    // Not on disk: the runtime's container must not outlive the record that would own it.
    await killConmonGroup(path.join(bundle, 'conmon-pidfile'));
    await discardRuntime(m, r, h);
    throw err;
  }
}

/**
 * The runtime's container, conmon's exit file and attach directory of a failed create. Never
 * throws: what it cannot remove is logged, and start-up reconciliation removes it.
 */
async function discardRuntime(m: ContainerManager, r: ContainerRecord, h: RuntimeHandler): Promise<void> {
  const id = r.info.id;
  try {
    await m.driver.delete(h, id);
    await removeDirs(path.join(m.driver.exitDir, id), path.join(m.driver.socketDir, id));
    m.exits.forget(id);
  } catch (e) {
    m.o.log.warn({ id, err: errorMessage(e) }, 'start container: runtime cleanup incomplete');
  }
}

/**
 * Records a start that failed as exited (not CREATED for ever), as containerd does: kubelet then
 * makes the next attempt. Returns the error for the caller to throw.
 */
function failStart(m: ContainerManager, r: ContainerRecord, message: string, o: { runtime: boolean } = { runtime: true }): Error {
  m.commitRecord(r, { awaitingRuntime: false }, { state: 'CONTAINER_EXITED', exitCode: START_ERROR_EXIT_CODE, reason: 'StartError', message, finishedAt: nowNs(), pid: 0 });
  m.exited(r, o);
  return new FailedPreconditionError(`start container "${r.info.id}": ${message}`);
}

/**
 * UpdateContainerResources before the runtime's container exists: the new limits go into the
 * bundle's spec (the devices rules stay), so the runtime's create applies them.
 */
export async function updateSpecResources(m: ContainerManager, r: ContainerRecord, res: ResourcesInput): Promise<void> {
  const file = path.join(r.info.bundle, 'config.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as OciSpec;
  spec.linux.resources = { ...buildResources(res, m.o.host.cgroupV2), devices: spec.linux.resources.devices };
  if (res.oomScoreAdj !== undefined) spec.process.oomScoreAdj = clampOomScoreAdj(res.oomScoreAdj, m.o.host.caps);
  // Written whole or not at all: a crash leaves the old spec, which matches the record.
  const tmp = `${file}.update`;
  try {
    await writeFile(tmp, JSON.stringify(spec));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}
