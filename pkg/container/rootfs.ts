// The container's root filesystem: overlay of the image's snapshots (top first) and a writable
// layer of its own, mounted in the daemon's mount namespace at <bundle>/rootfs.
import { lchown, lstat, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import type { IdMapping } from '../sandbox/types.js';
import path from 'node:path';
import { mount, umountAsync } from '../sys/mount.js';

export async function mountRootfs(rootfs: string, lowerdirs: string[], layerDir: string): Promise<void> {
  const upper = path.join(layerDir, 'upper');
  const work = path.join(layerDir, 'work');
  await Promise.all([mkdir(upper, { recursive: true, mode: 0o755 }), mkdir(work, { recursive: true, mode: 0o700 }), mkdir(rootfs, { recursive: true, mode: 0o755 })]);
  if (!lowerdirs.length) throw new Error('image has no layers');
  overlay(rootfs, lowerdirs, `,upperdir=${upper},workdir=${work}`);
}

/**
 * An image's layers as a read-only overlay (no upper dir: the kernel makes it read-only).
 * Overlay wants two lower dirs without an upper one, so a single layer sits on `emptyDir`.
 */
export async function mountReadOnlyView(target: string, lowerdirs: string[], emptyDir: string): Promise<void> {
  if (!lowerdirs.length) throw new Error('image has no layers');
  await Promise.all([mkdir(target, { recursive: true, mode: 0o755 }), mkdir(emptyDir, { recursive: true, mode: 0o755 })]);
  overlay(target, lowerdirs.length > 1 ? lowerdirs : [...lowerdirs, emptyDir], '');
}

function overlay(target: string, lowerdirs: string[], rest: string): void {
  const data = `lowerdir=${lowerdirs.join(':')}${rest}`;
  if (data.length < MAX_MOUNT_DATA) {
    mount('overlay', target, 'overlay', 0, data);
    return;
  }
  // Too long for one page of mount data: as containerd does, name the layers relative to their
  // common parent directory, made the current directory just for this (synchronous) syscall.
  const parent = commonParent(lowerdirs);
  const rel = lowerdirs.map((d) => path.relative(parent, d));
  const short = `lowerdir=${rel.join(':')}${rest}`;
  if (short.length >= MAX_MOUNT_DATA) throw new Error(`too many image layers (${lowerdirs.length}) for an overlay mount`);
  const cwd = process.cwd();
  process.chdir(parent);
  try {
    mount('overlay', target, 'overlay', 0, short);
  } finally {
    process.chdir(cwd);
  }
}

/** Page size less room for the kernel's own additions. */
const MAX_MOUNT_DATA = 4096 - 512;

export function commonParent(dirs: string[]): string {
  let parts = path.dirname(dirs[0]!).split('/');
  for (const d of dirs.slice(1)) {
    const p = path.dirname(d).split('/');
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join('/') || '/';
}

/** On a worker thread: the last unmount of an overlay syncs its upper filesystem (milliseconds). */
export async function unmountRootfs(rootfs: string): Promise<void> {
  await umountAsync(rootfs);
}

/** Reads a file of the image (e.g. /etc/passwd) through the mounted rootfs; '' when absent. */
export async function readImageFile(rootfs: string, file: string): Promise<string> {
  // Only plain files at the fixed paths are read; a symlink inside the image resolves on the host,
  // so refuse to follow one (readFile of a dangling or hostile link would read the host's file).
  const p = path.join(rootfs, file);
  try {
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

/** The host id a container id maps to (undefined when the mapping does not cover it). */
export function hostIdOf(id: number, m: IdMapping): number | undefined {
  return id >= m.containerId && id < m.containerId + m.length ? m.hostId + (id - m.containerId) : undefined;
}

/**
 * Without idmapped mounts (runc 1.1 has none), the root of a pod user namespace can only use its
 * rootfs where the files belong to ids mapped into that namespace. As CRI-O does, the container's
 * own writable layer (which also gives the rootfs its root directory) is shifted to the mapped
 * ids: an entry owned by host id N (N in the mapping's range of container ids) → the host id
 * container id N maps to. Image layers stay as they are (read-only to the pod). The walk reads
 * the upper dir but chowns through the mounted rootfs, so overlayfs sees the change (it caches
 * the upper inode's owner).
 */
export async function shiftLayerOwnership(layerDir: string, rootfs: string, uid: IdMapping, gid: IdMapping): Promise<void> {
  const upper = path.join(layerDir, 'upper');
  const walk = async (rel: string): Promise<void> => {
    const st = await lstat(path.join(upper, rel));
    const u = hostIdOf(st.uid, uid);
    const g = hostIdOf(st.gid, gid);
    if (u !== undefined || g !== undefined) await lchown(path.join(rootfs, rel), u ?? st.uid, g ?? st.gid);
    if (st.isDirectory()) for (const e of await readdir(path.join(upper, rel))) await walk(path.join(rel, e));
  };
  await walk('');
}
