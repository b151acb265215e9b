// posix_spawn(3) through koffi, and the reaping of what it starts. libuv (node 20) starts a child
// with fork(), which copies the daemon's page tables while the event loop waits: 10-40 ms at a
// daemon's 70-250 MiB. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK): no copy, the
// parent waits only until the child has exec'd (well under a millisecond).
import { closeSync, constants as fsc } from 'node:fs';
import { constants as os } from 'node:os';
import { errno, libcBind } from '../sys/libc.js';

type Fn<A extends unknown[]> = (...args: A) => number;

interface Libc {
  spawn: Fn<[pid: number[], path: string, fileActions: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]]>;
  faInit: Fn<[fa: Buffer]>;
  faDestroy: Fn<[fa: Buffer]>;
  faDup2: Fn<[fa: Buffer, fd: number, newfd: number]>;
  faOpen: Fn<[fa: Buffer, fd: number, path: string, flags: number, mode: number]>;
  faChdir: Fn<[fa: Buffer, dir: string]>;
  faCloseFrom: Fn<[fa: Buffer, from: number]>;
  waitpid: Fn<[pid: number, status: Int32Array, options: number]>;
  pipe2: Fn<[fds: Int32Array, flags: number]>;
  dupAbove: Fn<[fd: number, cmd: number, type: string, min: number]>;
  attr: Buffer;
}

// Opaque glibc types, sized generously (x86-64: 80 and 336 bytes).
const FILE_ACTIONS_SIZE = 256;
const ATTR_SIZE = 1024;
const SIGSET_SIZE = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const WNOHANG = 1;
const F_DUPFD_CLOEXEC = 1030;
const O_CLOEXEC = 0o2000000;

let libc: Libc | null | undefined;

/** The bindings, or null when koffi or one of the functions (glibc < 2.34) is not there. */
export function posixSpawnLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    libc = bind();
  } catch {
    libc = null;
  }
  return libc;
}

function bind(): Libc {
  const attr = Buffer.alloc(ATTR_SIZE);
  const fns = {
    spawn: libcBind('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
    faInit: libcBind('int posix_spawn_file_actions_init(void *fa)'),
    faDestroy: libcBind('int posix_spawn_file_actions_destroy(void *fa)'),
    faDup2: libcBind('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    faOpen: libcBind('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, int mode)'),
    faChdir: libcBind('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'),
    faCloseFrom: libcBind('int posix_spawn_file_actions_addclosefrom_np(void *fa, int from)'),
    waitpid: libcBind('int waitpid(int pid, int *status, int options)'),
    pipe2: libcBind('int pipe2(int *fds, int flags)'),
    dupAbove: libcBind('int fcntl(int fd, int cmd, ...)'),
    attr,
  } as Libc;
  // Every child starts with default signal dispositions (node ignores SIGPIPE, and an ignored
  // signal stays ignored across exec) and nothing blocked, as node's own spawn does. All 64
  // bits, not sigfillset(): that leaves out glibc's internal signals 32 and 33, which glibc's
  // posix_spawn otherwise sets to SIG_IGN in the child, and runc would pass that on.
  const all = Buffer.alloc(SIGSET_SIZE);
  all.fill(0xff, 0, 8);
  const none = Buffer.alloc(SIGSET_SIZE);
  const init = libcBind<Fn<[Buffer]>>('int posix_spawnattr_init(void *attr)');
  const setDefault = libcBind<Fn<[Buffer, Buffer]>>('int posix_spawnattr_setsigdefault(void *attr, void *set)');
  const setMask = libcBind<Fn<[Buffer, Buffer]>>('int posix_spawnattr_setsigmask(void *attr, void *set)');
  const setFlags = libcBind<Fn<[Buffer, number]>>('int posix_spawnattr_setflags(void *attr, short flags)');
  if (init(attr) || setDefault(attr, all) || setMask(attr, none) || setFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) {
    throw new Error('posix_spawnattr setup failed');
  }
  return fns;
}

/** What the child gets as fd i: a file descriptor of ours (dup'ed), or /dev/null. */
export type ChildFd = number | 'null';

/** Starts `file` (a path) with `argv` and `envp`; returns its pid, or the errno of the failure (negative). */
export function posixSpawn(c: Libc, file: string, argv: string[], envp: string[], fds: ChildFd[], cwd?: string): number {
  const fa = Buffer.alloc(FILE_ACTIONS_SIZE);
  const init = c.faInit(fa);
  if (init) return -init;
  try {
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i]!;
      const r = fd === 'null' ? c.faOpen(fa, i, '/dev/null', i === 0 ? fsc.O_RDONLY : fsc.O_RDWR, 0) : c.faDup2(fa, fd, i);
      if (r) return -r;
    }
    // Whatever another part of the daemon opened without O_CLOEXEC stays out of the child.
    const r = c.faCloseFrom(fa, Math.max(3, fds.length)) || (cwd !== undefined ? c.faChdir(fa, cwd) : 0);
    if (r) return -r;
    const pid = [0];
    // The file actions' and exec's errors (ENOENT, EACCES, a missing cwd) come back here.
    const err = c.spawn(pid, file, fa, c.attr, [...argv, null], [...envp, null]);
    return err ? -err : pid[0]!;
  } finally {
    c.faDestroy(fa);
  }
}

/** A close-on-exec pipe, [read end, write end], each at an fd of at least `min` (so no dup2 target of the child is a source). */
export function cloexecPipe(c: Libc, min: number): [number, number] {
  const fds = new Int32Array(2);
  if (c.pipe2(fds, O_CLOEXEC) !== 0) throw errnoError(errno(), 'pipe2');
  return [above(c, fds[0]!, min), above(c, fds[1]!, min)];
}

function above(c: Libc, fd: number, min: number): number {
  if (fd >= min) return fd;
  const moved = c.dupAbove(fd, F_DUPFD_CLOEXEC, 'int', min);
  const err = errno();
  closeSync(fd);
  if (moved < 0) throw errnoError(err, 'fcntl');
  return moved;
}

export function errnoError(err: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = errnoName(err);
  const e = new Error(`${syscall} ${code}`) as NodeJS.ErrnoException;
  return Object.assign(e, { errno: -err, code, syscall, ...(path !== undefined ? { path } : {}) });
}

function errnoName(err: number): string {
  for (const [name, n] of Object.entries(os.errno)) if (n === err) return name;
  return `errno ${err}`;
}

// ---- reaping ----

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const waiting = new Map<number, (s: ExitStatus) => void>();
const status = new Int32Array(1);
let sweeper: NodeJS.Timeout | undefined;
let libcForReaper: Libc | undefined;

/**
 * Calls `onExit` once `pid` (a child started by posixSpawn) has exited and is reaped. libuv's own
 * SIGCHLD handler waits only for its own pids, so each SIGCHLD waits for ours here, one pid at
 * a time (never waitpid(-1): that would steal libuv's). A slow sweep backs the signal up and
 * keeps the event loop alive while a child runs, as node's own child handle does.
 */
export function reapOnExit(c: Libc, pid: number, onExit: (s: ExitStatus) => void): void {
  if (!libcForReaper) {
    libcForReaper = c;
    process.on('SIGCHLD', sweep);
  }
  waiting.set(pid, onExit);
  sweeper ??= setInterval(sweep, 1000);
}

function sweep(): void {
  const c = libcForReaper!;
  for (const [pid, onExit] of waiting) {
    const r = c.waitpid(pid, status, WNOHANG);
    if (r === 0) continue;
    const err = r < 0 ? errno() : 0;
    if (r < 0 && err === os.errno.EINTR) continue;
    waiting.delete(pid);
    // ECHILD: someone's waitpid(-1) took it; its status is lost.
    onExit(r === pid ? decodeStatus(status[0]!) : { code: 255, signal: null });
  }
  if (!waiting.size && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

export function decodeStatus(s: number): ExitStatus {
  const sig = s & 0x7f;
  if (sig === 0) return { code: (s >> 8) & 0xff, signal: null };
  return { code: null, signal: signalName(sig) };
}

function signalName(n: number): NodeJS.Signals {
  for (const [name, v] of Object.entries(os.signals)) if (v === n) return name as NodeJS.Signals;
  return 'SIGKILL';
}
