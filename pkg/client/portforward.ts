// The client side of port-forward over WebSocket (kubelet's v4.channel.k8s.io): one WebSocket per
// forwarded TCP connection, `?port=N` names the pod's port; channel 0 carries data, channel 1
// errors, and the first message on each channel is the port as two little-endian bytes.
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';

/** Relays `conn` to `port` of the pod behind `url` until either side ends; errors go to `onError`. */
export function forwardConnection(url: string, port: number, conn: Duplex, onError: (message: string) => void): void {
  const u = new URL(url.replace(/^http/, 'ws'));
  u.searchParams.set('port', String(port));
  const ws = new WebSocket(u.toString(), ['v4.channel.k8s.io']);
  const seen = [false, false];
  let error = '';
  conn.pause();
  ws.once('open', () => {
    conn.on('data', (c: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(Buffer.concat([Buffer.from([0]), c]));
      if (ws.bufferedAmount > 1 << 20) {
        conn.pause();
        ws.send(Buffer.alloc(0), () => conn.resume());
      }
    });
    conn.once('end', () => ws.close(1000));
    conn.resume();
  });
  ws.on('message', (data: Buffer) => {
    const ch = data[0];
    if (ch !== 0 && ch !== 1) return;
    let payload = data.subarray(1);
    if (!seen[ch]) {
      seen[ch] = true;
      payload = payload.subarray(2); // the port, once per channel
    }
    if (ch === 0 && payload.length) conn.write(payload);
    if (ch === 1) error += payload.toString();
  });
  ws.once('close', () => {
    if (error) onError(error);
    conn.end();
  });
  ws.once('error', (err) => {
    onError(err.message);
    conn.destroy();
  });
  conn.once('error', () => ws.terminate());
  conn.once('close', () => ws.readyState === ws.OPEN && ws.close(1000));
}
