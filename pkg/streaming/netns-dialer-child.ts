// Runs inside a pod's network namespace (started through `nsenter --net=…`). For each
// {port, id} message from the daemon it connects to 127.0.0.1:port and hands the connected
// socket back over the IPC channel: the socket keeps its namespace, the daemon talks to it
// directly, and no byte is relayed through this process.
import net from 'node:net';

interface DialMessage {
  id: number;
  port: number;
}

/** localhost as a pod sees it: 127.0.0.1, then ::1 for servers that listen on IPv6 only. */
function dial(port: number, hosts: string[], done: (err: NodeJS.ErrnoException | null, sock?: net.Socket) => void): void {
  const sock = net.connect({ port, host: hosts[0] });
  sock.once('connect', () => done(null, sock));
  sock.once('error', (err: NodeJS.ErrnoException) => {
    sock.destroy();
    // Nothing on IPv6 either: report the IPv4 failure, the one a user expects to read.
    if (hosts.length > 1 && err.code === 'ECONNREFUSED') dial(port, hosts.slice(1), (e6, s6) => (e6 ? done(err) : done(null, s6)));
    else done(err);
  });
}

process.on('message', (msg: DialMessage) => {
  dial(msg.port, ['127.0.0.1', '::1'], (err, sock) => {
    if (err || !sock) {
      process.send!({ id: msg.id, ok: false, error: `${err?.code ?? ''} ${err?.message ?? 'connect failed'}`.trim() });
      return;
    }
    sock.pause();
    process.send!({ id: msg.id, ok: true }, sock, { keepOpen: false }, () => sock.destroy());
  });
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
