// The container's root filesystem: overlay of the image's snapshots (top first) and a writable
// layer of its own, mounted in the daemon's mount namespace at <bundle>/rootfs.
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { mount, umount } from '../sys/mount.js';

export async function mountRootfs(rootfs: string, lowerdirs: string[], layerDir: string): Promise<void> {
  const upper = path.join(layerDir, 'upper');
  const work = path.join(layerDir, 'work');
  await Promise.all([mkdir(upper, { recursive: true, mode: 0o755 }), mkdir(work, { recursive: true, mode: 0o700 }), mkdir(rootfs, { recursive: true, mode: 0o755 })]);
  if (!lowerdirs.length) throw new Error('image has no layers');
  mount('overlay', rootfs, 'overlay', 0, `lowerdir=${lowerdirs.join(':')},upperdir=${upper},workdir=${work}`);
}

export async function unmountRootfs(rootfs: string): Promise<void> {
  umount(rootfs);
}

/** Reads a file of the image (e.g. /etc/passwd) through the mounted rootfs; '' when absent. */
export async function readImageFile(rootfs: string, file: string): Promise<string> {
  // Only plain files at the fixed paths are read; a symlink inside the image resolves on the host,
  // so refuse to follow one (readFile of a dangling or hostile link would read the host's file).
  const p = path.join(rootfs, file);
  try {
    const { lstat } = await import('node:fs/promises');
    const st = await lstat(p);
    if (!st.isFile() || st.size > 4 * 1024 * 1024) return '';
    return await readFile(p, 'utf8');
  } catch {
    return '';
  }
}

export async function removeDirs(...dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
