// Pseudo-terminals for TTY sessions. Node has no openpty, so it comes from libc through koffi;
// the master end is driven by a tty.ReadStream (a non-blocking libuv handle, readable and
// writable), never by blocking reads on the thread pool.
import { closeSync, constants as fsc, openSync } from 'node:fs';
import tty from 'node:tty';
import { errno, libcFunc } from '../sys/libc.js';
import type { TermSize } from './types.js';

// Bound on first use: koffi loads with the first TTY session, not with berth.
const openptyFn = libcFunc<(m: number[], s: number[], name: null, termp: null, winp: null) => number>('int openpty(_Out_ int *amaster, _Out_ int *aslave, void *name, void *termp, void *winp)');
const ioctlFn = libcFunc<(fd: number, request: number, arg: Buffer) => number>('int ioctl(int fd, unsigned long request, void *arg)');
const TIOCSWINSZ = 0x5414;

export interface Pty {
  /** The master side: write = the terminal's input, read = its output. Reads end at EIO. */
  master: tty.ReadStream;
  /** The slave fd, for the child's stdio; close it in the parent once the child has it. */
  slaveFd: number;
  resize(size: TermSize): void;
  closeSlave(): void;
}

function winsize(size: TermSize): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(Math.max(0, Math.min(0xffff, size.height)), 0);
  b.writeUInt16LE(Math.max(0, Math.min(0xffff, size.width)), 2);
  return b;
}

/** The master side of a terminal someone else opened (a console socket hands it over). */
export function terminalFromMaster(masterFd: number, size?: TermSize): { master: tty.ReadStream; resize(size: TermSize): void } {
  if (size) ioctlFn(masterFd, TIOCSWINSZ, winsize(size));
  const master = new tty.ReadStream(masterFd);
  // Once every slave fd is closed the master's read fails with EIO: that is the end of output.
  master.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EIO') master.push(null);
  });
  return {
    master,
    resize(sz) {
      if (!master.destroyed) ioctlFn(masterFd, TIOCSWINSZ, winsize(sz));
    },
  };
}

export function openPty(size?: TermSize): Pty {
  const m = [0];
  const s = [0];
  if (openptyFn(m, s, null, null, null) !== 0) throw new Error(`openpty: errno ${errno()}`);
  const slaveFd = s[0]!;
  const { master, resize } = terminalFromMaster(m[0]!, size);
  let slaveOpen = true;
  return {
    master,
    slaveFd,
    resize,
    closeSlave() {
      if (slaveOpen) closeSync(slaveFd);
      slaveOpen = false;
    },
  };
}

/**
 * Sets the window size of the terminal that is process `pid`'s stdin, when it is one (the kernel
 * then sends the terminal's foreground group SIGWINCH). False when there is no such terminal.
 */
export function resizeTerminalOf(pid: number, size: TermSize): boolean {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/fd/0`, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    return tty.isatty(fd) && ioctlFn(fd, TIOCSWINSZ, winsize(size)) === 0;
  } finally {
    closeSync(fd);
  }
}
