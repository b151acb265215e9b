// Port-forward over WebSocket with kubelet's channel protocol (v4.channel.k8s.io, its base64
// variant, or no subprotocol): the ports are fixed when the connection opens (the `port` query
// parameters, which must be among the ports of the request the token stands for); port i uses
// channel 2i for data and 2i+1 for errors, and each channel first carries the port as two
// little-endian bytes. One TCP connection per port; the WebSocket closes when all have ended.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../log/log.js';
import { SessionDialer } from './session-dialer.js';
import type { PortForwardBackend, PortForwardParams } from './types.js';
import { channelWriter, decodeChannel, encodeChannel, isBase64Protocol } from './ws-channel.js';

export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];

/** The ports a WebSocket port-forward may open: the query's, within the token's; else the token's. */
export function wsForwardPorts(url: string | undefined, params: PortForwardParams): number[] | string {
  const q = new URL(url ?? '/', 'http://x').searchParams.getAll('port');
  const ports: number[] = [];
  for (const v of q) {
    const p = Number(v);
    if (!/^\d+$/.test(v) || p < 1 || p > 65535) return `invalid port "${v}"`;
    if (params.ports.length && !params.ports.includes(p)) return `port ${p} was not requested for pod sandbox ${params.sandboxId}`;
    ports.push(p);
  }
  if (!ports.length) ports.push(...params.ports);
  return ports.length ? ports : 'no port to forward: give ?port=N';
}

export function serveWsPortForward(
  ws: WebSocket,
  protocol: string,
  params: PortForwardParams,
  ports: number[],
  backend: PortForwardBackend | undefined,
  log: Logger,
): void {
  const b64 = isBase64Protocol(protocol);
  const conns: (Duplex | undefined)[] = ports.map(() => undefined);
  const pending: Buffer[][] = ports.map(() => []);
  const pod = new SessionDialer(backend, params.sandboxId, log);
  let open = ports.length;
  ws.on('error', () => {});
  const send = (ch: number, data: Buffer) => ws.readyState === ws.OPEN && ws.send(encodeChannel(b64, ch, data), { binary: !b64 });
  const finished = () => {
    if (--open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
  };
  ws.once('close', () => {
    for (const c of conns) c?.destroy();
    pod.close();
  });

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const msg = decodeChannel(b64, data, isBinary);
    if (!msg || msg[0] % 2 !== 0) return; // clients write only on data channels
    const i = msg[0] / 2;
    if (i >= ports.length) return;
    const c = conns[i];
    if (!c) pending[i]!.push(msg[1]);
    else if (!c.write(msg[1])) {
      ws.pause();
      c.once('drain', () => ws.resume());
    }
  });

  ports.forEach((port, i) => {
    const le = Buffer.alloc(2);
    le.writeUInt16LE(port);
    send(2 * i, le);
    send(2 * i + 1, le);
    void (async () => {
      let conn: Duplex;
      try {
        conn = await pod.dial(port);
      } catch (err) {
        send(2 * i + 1, Buffer.from((err as Error).message));
        return finished();
      }
      if (ws.readyState !== ws.OPEN) return conn.destroy();
      conns[i] = conn;
      for (const b of pending[i]!.splice(0)) conn.write(b);
      conn.on('error', (err) => send(2 * i + 1, Buffer.from(`error forwarding port ${port}: ${err.message}`)));
      conn.pipe(channelWriter(ws, b64, 2 * i));
      conn.once('close', finished);
    })();
  });
}
