// The infra process of a pod that shares one PID namespace: native/build/pause run by the OCI
// runtime in a rootfs berth makes itself (the pause binary alone), joining the pod's pinned
// namespaces. Containers then join /proc/<pausePid>/ns/pid.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PAUSE_PATH } from './namespaces.js';

const run = promisify(execFile);

export interface PauseOptions {
  id: string;
  runtimePath: string;
  runtimeRoot: string;
  bundleDir: string;
  rootfs: string;
  cgroupsPath: string;
  netns?: string;
  ipcns?: string;
  utsns?: string;
}

/** The shared read-only rootfs (one per daemon): just /pause. */
export async function preparePauseRootfs(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(PAUSE_PATH, path.join(dir, 'pause'));
  await chmod(path.join(dir, 'pause'), 0o755);
}

export function pauseContainerId(sandboxId: string): string {
  return sandboxId;
}

function spec(o: PauseOptions): unknown {
  const namespaces: { type: string; path?: string }[] = [{ type: 'pid' }, { type: 'mount' }];
  if (o.netns) namespaces.push({ type: 'network', path: o.netns });
  if (o.ipcns) namespaces.push({ type: 'ipc', path: o.ipcns });
  if (o.utsns) namespaces.push({ type: 'uts', path: o.utsns });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 65535, gid: 65535 },
      args: ['/pause'],
      env: ['PATH=/'],
      cwd: '/',
      capabilities: { bounding: [], effective: [], permitted: [] },
      noNewPrivileges: true,
      oomScoreAdj: -998,
    },
    root: { path: o.rootfs, readonly: true },
    mounts: [],
    linux: {
      namespaces,
      cgroupsPath: o.cgroupsPath,
      maskedPaths: [],
      readonlyPaths: [],
    },
  };
}

/** Starts pause detached under the runtime; returns its host PID. */
export async function startPause(o: PauseOptions): Promise<number> {
  await mkdir(o.bundleDir, { recursive: true });
  await writeFile(path.join(o.bundleDir, 'config.json'), JSON.stringify(spec(o)));
  const pidFile = path.join(o.bundleDir, 'pid');
  try {
    await run(o.runtimePath, ['--root', o.runtimeRoot, 'run', '--detach', '--pid-file', pidFile, '--bundle', o.bundleDir, pauseContainerId(o.id)], {
      timeout: 60_000,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    await stopPause(o.runtimePath, o.runtimeRoot, o.id).catch(() => undefined);
    throw new Error(`start pause for sandbox ${o.id}: ${stderr || (err as Error).message}`);
  }
  return Number((await readFile(pidFile, 'utf8')).trim());
}

/** Kills and deletes the pause container; one that does not exist is fine. */
export async function stopPause(runtimePath: string, runtimeRoot: string, id: string): Promise<void> {
  try {
    await run(runtimePath, ['--root', runtimeRoot, 'delete', '--force', pauseContainerId(id)], { timeout: 60_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '');
    if (/does not exist|not found/i.test(stderr)) return;
    throw new Error(`stop pause of sandbox ${id}: ${stderr.trim() || (err as Error).message}`);
  }
}

export async function removePauseBundle(bundleDir: string): Promise<void> {
  await rm(bundleDir, { recursive: true, force: true });
}
