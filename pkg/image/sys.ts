// mknod(2) and lsetxattr(2) through koffi, which Node's fs lacks: device nodes, fifos and
// overlay whiteouts (0/0 char devices), the opaque xattr and PAX xattrs during unpack.
import os from 'node:os';
import { errno, libcFunc } from '../sys/libc.js';

const mknodFn = libcFunc<(path: string, mode: number, dev: bigint) => number>('int mknod(const char *path, uint32_t mode, uint64_t dev)');
const lsetxattrFn = libcFunc<(path: string, name: string, value: Buffer, size: number, flags: number) => number>(
  'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)',
);
const lgetxattrFn = libcFunc<(path: string, name: string, value: Buffer | null, size: number) => number | bigint>(
  'intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)',
);

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

export class SysError extends Error {
  constructor(readonly syscall: string, readonly code: string, readonly path: string) {
    super(`${syscall} ${path}: ${code}`);
  }
}

function fail(syscall: string, path: string): never {
  const e = errno();
  throw new SysError(syscall, ERRNO_NAMES.get(e) ?? `errno ${e}`, path);
}

/** Linux makedev for the glibc dev_t encoding. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  if (mknodFn(path, mode, makedev(major, minor)) !== 0) fail('mknod', path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  if (lsetxattrFn(path, name, value, value.length, 0) !== 0) fail(`lsetxattr ${name}`, path);
}

/** The xattr's value, or undefined when the file has none of that name. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(64 * 1024);
  const n = Number(lgetxattrFn(path, name, buf, buf.length));
  if (n < 0) {
    const code = ERRNO_NAMES.get(errno());
    if (code === 'ENODATA') return undefined;
    fail(`lgetxattr ${name}`, path);
  }
  return Buffer.from(buf.subarray(0, n));
}
