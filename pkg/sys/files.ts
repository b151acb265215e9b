// Host files and directories named by a caller (mount sources, log directories, seccomp
// profiles, termination-message files): created only where that is safe, with a bounded walk,
// and read only when they are regular files, never blocking and never past what is kept.
import { constants as fsc } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import path from 'node:path';

/** Kernel filesystems berth never creates anything in. */
export const NO_CREATE_ROOTS = ['/proc', '/sys', '/dev'] as const;

/** Why a host path cannot be created or read; callers turn it into their own typed error. */
export class HostPathError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
  }
}

/** The kernel filesystem root `p` lies in, if any ("/proc/x" → "/proc"). */
export function kernelRootOf(p: string): string | undefined {
  const abs = path.posix.resolve('/', p);
  return NO_CREATE_ROOTS.find((r) => abs === r || abs.startsWith(`${r}/`));
}

/**
 * mkdir -p of an absolute host path, one component at a time (Node's recursive mkdir spins for
 * ever on some /proc paths). Refuses paths under /proc, /sys or /dev and relative paths;
 * existing components, and symlinks to directories, are kept.
 */
export async function mkdirHostPath(p: string, mode = 0o755): Promise<void> {
  if (!path.posix.isAbsolute(p)) throw new HostPathError(p, 'not an absolute path');
  const root = kernelRootOf(p);
  if (root) throw new HostPathError(p, `berth does not create paths under ${root}`);
  const normal = path.posix.normalize(p);
  // Mostly the directory is there already (a pod's log directory, a hostPath): one stat then,
  // instead of a mkdir and a stat per component. (Normalized, a path that resolves to a
  // directory has every component a directory or a link to one, as the walk would leave it.)
  if ((await stat(normal).catch(() => undefined))?.isDirectory()) return;
  const parts = normal.split('/').filter(Boolean);
  let cur = '';
  for (const part of parts) {
    cur = `${cur}/${part}`;
    try {
      await mkdir(cur, { mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new HostPathError(p, `mkdir ${cur}: ${code ?? String(err)}`);
      const st = await stat(cur).catch(() => undefined);
      if (!st?.isDirectory()) throw new HostPathError(p, `${cur} exists and is not a directory`);
    }
  }
}

export interface BoundedRead {
  data: Buffer;
  /** The file had more than `max` bytes; `data` holds the first `max`. */
  truncated: boolean;
}

/**
 * The first `max` bytes of a regular file. The file is opened with O_NONBLOCK (a FIFO or a
 * device opens at once instead of waiting for a writer) and checked with fstat before any read,
 * so a FIFO, /dev/zero or a directory is refused without reading it.
 */
export async function readRegularFile(file: string, max: number): Promise<BoundedRead> {
  let fh;
  try {
    fh = await open(file, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  } catch (err) {
    throw new HostPathError(file, (err as NodeJS.ErrnoException).code ?? String(err));
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new HostPathError(file, 'not a regular file');
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return { data: buf.subarray(0, Math.min(n, max)), truncated: n > max };
  } finally {
    await fh.close();
  }
}
