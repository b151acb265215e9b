// mount(2) and umount2(2) through koffi: a syscall takes microseconds where spawning
// mount/umount takes milliseconds. Failures throw an Error carrying the errno name as `code`.
import os from 'node:os';
import { errno as lastErrno, libcAsyncFunc, libcFunc } from './libc.js';

const mountFn = libcFunc<(source: string, target: string, fstype: string | null, flags: number, data: string | null) => number>(
  'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
);
const UMOUNT2 = 'int umount2(const char *target, int flags)';
const umount2Fn = libcFunc<(target: string, flags: number) => number>(UMOUNT2);
const umount2Async = libcAsyncFunc<(target: string, flags: number) => number>(UMOUNT2);

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MNT_DETACH = 0x2;

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

export class SyscallError extends Error {
  constructor(readonly syscall: string, readonly errno: number, readonly path: string) {
    const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
    super(`${syscall} ${path}: ${code}`);
    this.code = code;
  }
  readonly code: string;
}

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
  if (mountFn(source, target, fstype, flags, data) !== 0) throw new SyscallError('mount', lastErrno(), target);
}

/** Unmounts `target`; with `ignoreMissing`, a path that is not mounted (EINVAL) or gone (ENOENT) is fine. */
export function umount(target: string, flags = MNT_DETACH, ignoreMissing = true): void {
  if (umount2Fn(target, flags) === 0) return;
  const errno = lastErrno();
  if (ignoreMissing && (errno === os.constants.errno.EINVAL || errno === os.constants.errno.ENOENT)) return;
  throw new SyscallError('umount2', errno, target);
}

/**
 * As umount, on a worker thread: the last unmount of an overlay syncs its upper filesystem,
 * milliseconds the event loop need not wait. On failure the call is made again here, which
 * either succeeds or throws with the errno (a worker's errno cannot be read).
 */
export async function umountAsync(target: string, flags = MNT_DETACH, ignoreMissing = true): Promise<void> {
  if ((await umount2Async(target, flags)) === 0) return;
  umount(target, flags, ignoreMissing);
}
