// The infra process of a pod that shares one PID namespace: native/build/pause run by the OCI
// runtime in a rootfs berth makes itself (the pause binary alone), joining the pod's pinned
// namespaces. Containers then join /proc/<pausePid>/ns/pid.
import { copyFile, mkdir, readFile, rename, rm, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { failureText, run } from '../process/run.js';
import { PAUSE_PATH } from './namespaces.js';
import type { IdMapping } from './types.js';
import { runtimeCgroupAnnotations } from '../cgroups/paths.js';

export interface PauseOptions {
  id: string;
  runtimePath: string;
  runtimeRoot: string;
  bundleDir: string;
  rootfs: string;
  cgroupsPath: string;
  /** Global runtime flags (--systemd-cgroup under the systemd driver). */
  runtimeFlags: string[];
  netns?: string;
  ipcns?: string;
  utsns?: string;
  /** The pod's user namespace: pause joins it (so its new PID namespace belongs to it). */
  userns?: { path: string; uidMappings: IdMapping[]; gidMappings: IdMapping[] };
}

const ociMap = (m: IdMapping) => ({ containerID: m.containerId, hostID: m.hostId, size: m.length });

/** The shared read-only rootfs (one per daemon): just /pause. */
export async function preparePauseRootfs(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'proc'), { recursive: true });
  await mkdir(path.join(dir, 'dev'), { recursive: true });
  // Copy then rename: after a daemon restart the old binary may be running in a pod (ETXTBSY).
  const tmp = path.join(dir, `.pause-${process.pid}`);
  await copyFile(PAUSE_PATH, tmp);
  await chmod(tmp, 0o755);
  await rename(tmp, path.join(dir, 'pause'));
}

export function pauseContainerId(sandboxId: string): string {
  return sandboxId;
}

/** config.json of pause (exported for its unit test). */
export function pauseSpec(o: PauseOptions): unknown {
  const namespaces: { type: string; path?: string }[] = [{ type: 'pid' }, { type: 'mount' }];
  if (o.netns) namespaces.push({ type: 'network', path: o.netns });
  if (o.ipcns) namespaces.push({ type: 'ipc', path: o.ipcns });
  if (o.utsns) namespaces.push({ type: 'uts', path: o.utsns });
  if (o.userns) namespaces.push({ type: 'user', path: o.userns.path });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      // In a pod user namespace 65535 may be unmapped; its root has no capabilities here anyway.
      user: o.userns ? { uid: 0, gid: 0 } : { uid: 65535, gid: 65535 },
      args: ['/pause'],
      env: ['PATH=/'],
      cwd: '/',
      capabilities: { bounding: [], effective: [], permitted: [] },
      noNewPrivileges: true,
    },
    root: { path: o.rootfs, readonly: true },
    // runc needs /proc in the container to close inherited fds before exec.
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      // A /dev of its own for the runtime's device nodes (runc reopens /dev/null there): the
      // shared rootfs lives under the state dir, on systemd nodes /run, a nodev tmpfs where a
      // node cannot be opened (EACCES); in a user namespace the runtime could not create them
      // in the host-owned rootfs at all.
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=64k'] },
    ],
    linux: {
      namespaces,
      cgroupsPath: o.cgroupsPath,
      ...(o.userns ? { uidMappings: o.userns.uidMappings.map(ociMap), gidMappings: o.userns.gidMappings.map(ociMap) } : {}),
      maskedPaths: [],
      readonlyPaths: [],
    },
    annotations: runtimeCgroupAnnotations(o.cgroupsPath),
  };
}

/**
 * Starts pause detached under the runtime; returns its host PID. The runtime's stdio is /dev/null
 * because a detached container inherits it (a pipe would stay open for the pod's life); runc's
 * errors go to a log file instead.
 */
export async function startPause(o: PauseOptions): Promise<number> {
  await mkdir(o.bundleDir, { recursive: true });
  await writeFile(path.join(o.bundleDir, 'config.json'), JSON.stringify(pauseSpec(o)));
  const pidFile = path.join(o.bundleDir, 'pid');
  const logFile = path.join(o.bundleDir, 'runtime.log');
  const args = ['--root', o.runtimeRoot, ...o.runtimeFlags, '--log', logFile, 'run', '--detach', '--pid-file', pidFile, '--bundle', o.bundleDir, pauseContainerId(o.id)];
  const r = await run(o.runtimePath, args, { stdout: 'ignore', stderr: 'ignore', timeoutMs: 60_000 }).catch((e: Error) => e.message);
  if (typeof r === 'string' || r.code !== 0 || r.timedOut) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    const msgs = log.split('\n').filter(Boolean).map((l) => {
      try {
        return (JSON.parse(l) as { msg?: string }).msg ?? l;
      } catch {
        return l;
      }
    });
    await stopPause(o.runtimePath, o.runtimeRoot, o.id, undefined, o.runtimeFlags).catch(() => undefined);
    throw new Error(`start pause for sandbox ${o.id}: ${o.runtimePath} run: ${msgs.join('; ') || (typeof r === 'string' ? r : failureText(r))}`);
  }
  return Number((await readFile(pidFile, 'utf8')).trim());
}

/** Dead means gone or a zombie (its parent, often pid 1, reaps it when it gets to it). */
async function dead(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat === '' || /^\d+ \(.*\) [ZX]/s.test(stat);
}

/**
 * Kills and deletes the pause container; one that does not exist is fine. pause is killed here
 * first because `runc delete --force` on a running container sleeps in 100 ms steps until it is
 * gone, while on a stopped one it only cleans up.
 */
export async function stopPause(runtimePath: string, runtimeRoot: string, id: string, pid?: number, flags: string[] = []): Promise<void> {
  if (pid) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === '/pause\0') {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 1000 && !(await dead(pid)); i++) await new Promise((r) => setTimeout(r, 2));
    }
  }
  const r = await run(runtimePath, ['--root', runtimeRoot, ...flags, 'delete', '--force', pauseContainerId(id)], { timeoutMs: 60_000 });
  if (r.code === 0 && !r.timedOut) return;
  if (/does not exist|not found/i.test(r.stderr.toString())) return;
  throw new Error(`stop pause of sandbox ${id}: ${failureText(r)}`);
}

export async function removePauseBundle(bundleDir: string): Promise<void> {
  await rm(bundleDir, { recursive: true, force: true });
}
