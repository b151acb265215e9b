// Runs inside a pod's network namespace (started through `nsenter --net=…`). For each
// {port, id} message from the daemon it connects to 127.0.0.1:port and hands the connected
// socket back over the IPC channel: the socket keeps its namespace, the daemon talks to it
// directly, and no byte is relayed through this process.
import net from 'node:net';

interface DialMessage {
  id: number;
  port: number;
}

process.on('message', (msg: DialMessage) => {
  const sock = net.connect({ port: msg.port, host: '127.0.0.1' });
  sock.once('connect', () => {
    sock.pause();
    process.send!({ id: msg.id, ok: true }, sock, { keepOpen: false }, () => sock.destroy());
  });
  sock.once('error', (err: NodeJS.ErrnoException) => {
    process.send!({ id: msg.id, ok: false, error: `${err.code ?? ''} ${err.message}`.trim() });
  });
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
