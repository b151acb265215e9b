// sd_notify(3) from the daemon's own process: one datagram on the unix socket systemd names in
// NOTIFY_SOCKET (Type=notify units). Node's dgram has no unix sockets, so socket(2) and
// sendto(2) go through koffi; sending from our own pid lets systemd match the message to the
// unit without NotifyAccess=all and without the race of a helper process that exits at once.
import { errno, libcFunc } from './libc.js';

const socketFn = libcFunc<(domain: number, type: number, protocol: number) => number>('int socket(int domain, int type, int protocol)');
const sendtoFn = libcFunc<(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number>(
  'long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
);
const closeFn = libcFunc<(fd: number) => number>('int close(int fd)');

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 108;

/** struct sockaddr_un for `socketPath`; a leading "@" is Linux's abstract namespace (a NUL byte). */
export function sockaddrUn(socketPath: string): Buffer {
  const name = Buffer.from(socketPath.startsWith('@') ? `\0${socketPath.slice(1)}` : socketPath);
  if (name.length >= SUN_PATH_MAX) throw new Error(`notify socket path too long: ${socketPath}`);
  const addr = Buffer.alloc(2 + name.length + (socketPath.startsWith('@') ? 0 : 1));
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return addr;
}

/**
 * NOTIFY_SOCKET, taken out of the environment: no child may inherit it. runc, given one, proxies
 * it into the container and `runc start` waits for the container itself to report READY=1,
 * so every StartContainer of a daemon started by systemd would hang.
 */
export function takeNotifySocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  return socket || undefined;
}

/**
 * Sends `state` ("READY=1", "STOPPING=1", "STATUS=…") to systemd; false when not started by
 * systemd with a notify socket. Errors are returned, not thrown: readiness is best effort.
 */
export function sdNotify(state: string, socketPath: string | undefined): boolean | Error {
  if (!socketPath) return false;
  const fd = socketFn(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) return new Error(`sd_notify: socket: errno ${errno()}`);
  try {
    const addr = sockaddrUn(socketPath);
    const msg = Buffer.from(state);
    const n = sendtoFn(fd, msg, msg.length, 0, addr, addr.length) as number;
    return n === msg.length ? true : new Error(`sd_notify ${socketPath}: sendto: errno ${errno()}`);
  } finally {
    closeFn(fd);
  }
}
