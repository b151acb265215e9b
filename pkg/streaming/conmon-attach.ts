// Attach through conmon, the way CRI-O does: conmon serves the container's stdio on a
// SOCK_SEQPACKET unix socket. Each packet conmon sends starts with the pipe it came from
// (2 stdout, 3 stderr); what the client sends is the container's stdin, and shutting down the
// write side closes that stdin (unless the container keeps it open). Resizes go to conmon's
// control FIFO as "1 <height> <width>\n".
//
// Node's net module knows stream sockets only, so the socket is made and connected through
// libc (koffi) and its fd is handed to a libuv pipe handle: libuv reads with read(2), which on
// a SOCK_SEQPACKET socket returns exactly one packet, so packet boundaries survive.
import { open } from 'node:fs/promises';
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FailedPreconditionError } from '../errors/errors.js';
import { errno as libcErrno, libcFunc } from '../sys/libc.js';
import type { AttachBackend, AttachSession, StdioStreams } from './types.js';

// Bound on first use: koffi loads with the first attach, not with berth.
const socketFn = libcFunc<(domain: number, type: number, protocol: number) => number>('int socket(int domain, int type, int protocol)');
const connectFn = libcFunc<(fd: number, addr: Buffer, len: number) => number>('int connect(int fd, void *addr, uint32_t len)');
const closeFn = libcFunc<(fd: number) => number>('int close(int fd)');
const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 107;
const ENOENT = 2;
const ECONNREFUSED = 111;
const O_PATH = 0o10000000;

const STDOUT_PIPE = 2;
const STDERR_PIPE = 3;
/** conmon reads at most this much per packet; a longer packet would be cut. */
const MAX_PACKET = 32 * 1024;

interface PipeHandleCtor {
  new (type: number): { open(fd: number): number };
}
/** libuv's pipe handle class, fetched on first use (an internal binding; nothing public wraps an fd of this type). */
let pipeWrap: { Pipe: PipeHandleCtor; constants: { SOCKET: number } } | undefined;
function pipeHandleClass() {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  pipeWrap ??= (process as any).binding('pipe_wrap') as { Pipe: PipeHandleCtor; constants: { SOCKET: number } };
  return pipeWrap;
}

/** A failed connect(2), with its errno. */
export class SocketConnectError extends Error {
  constructor(message: string, readonly errno: number) {
    super(message);
  }
}

/** Connects to a SOCK_SEQPACKET unix socket; paths too long for sun_path go through /proc/self/fd. */
export function connectSeqpacket(file: string): net.Socket {
  let dirFd = -1;
  let target = file;
  if (Buffer.byteLength(file) > SUN_PATH_MAX) {
    dirFd = openSync(path.dirname(file), fsConstants.O_RDONLY | O_PATH);
    target = `/proc/self/fd/${dirFd}/${path.basename(file)}`;
  }
  const fd = socketFn(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  try {
    if (fd < 0) throw new Error(`socket: errno ${libcErrno()}`);
    const addr = Buffer.alloc(2 + SUN_PATH_MAX + 1);
    addr.writeUInt16LE(AF_UNIX, 0);
    addr.write(target, 2);
    if (connectFn(fd, addr, 2 + Buffer.byteLength(target) + 1) !== 0) {
      const errno = libcErrno();
      closeFn(fd);
      const why = errno === ENOENT ? 'no such socket' : errno === ECONNREFUSED ? 'connection refused' : `errno ${errno}`;
      throw new SocketConnectError(`connect ${file}: ${why}`, errno);
    }
  } finally {
    if (dirFd >= 0) closeSync(dirFd);
  }
  const { Pipe, constants } = pipeHandleClass();
  const handle = new Pipe(constants.SOCKET);
  const rc = handle.open(fd);
  if (rc !== 0) {
    closeFn(fd);
    throw new Error(`attach socket: uv_pipe_open failed (${rc})`);
  }
  return new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
}

export interface ConmonPaths {
  attachSocketPath(containerId: string): string;
  controlPath(containerId: string): string;
}

export class ConmonAttach implements AttachBackend {
  constructor(private readonly paths: ConmonPaths) {}

  async attach(containerId: string, io: StdioStreams): Promise<AttachSession> {
    const sock = this.connect(containerId);
    const ctl = this.paths.controlPath(containerId);
    sock.on('error', () => {});

    sock.on('data', (pkt: Buffer) => {
      if (pkt.length < 1) return;
      const body = pkt.subarray(1);
      if (pkt[0] === STDOUT_PIPE) io.stdout?.write(body);
      else if (pkt[0] === STDERR_PIPE) (io.tty ? io.stdout : io.stderr)?.write(body);
    });
    if (io.stdin) {
      io.stdin.on('data', (chunk: Buffer) => {
        for (let off = 0; off < chunk.length; off += MAX_PACKET) {
          if (!sock.write(chunk.subarray(off, off + MAX_PACKET))) io.stdin!.pause();
        }
      });
      sock.on('drain', () => io.stdin!.resume());
      io.stdin.once('end', () => sock.end()); // conmon closes the container's stdin (stdin_once)
    }
    if (io.resize) {
      void (async () => {
        for await (const size of io.resize!) {
          const fh = await open(ctl, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
          if (!fh) continue;
          await fh.write(`1 ${size.height} ${size.width}\n`).catch(() => {});
          await fh.close();
        }
      })();
    }
    const done = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    return { done, detach: () => sock.destroy() };
  }

  /** conmon serves the socket while the container runs; a socket gone or refused means it exited. */
  private connect(containerId: string): net.Socket {
    try {
      return connectSeqpacket(this.paths.attachSocketPath(containerId));
    } catch (err) {
      if (err instanceof SocketConnectError && (err.errno === ENOENT || err.errno === ECONNREFUSED)) {
        throw new FailedPreconditionError(`container "${containerId}" is not running (it exited; its output is in its log)`, { cause: err });
      }
      throw err;
    }
  }
}
