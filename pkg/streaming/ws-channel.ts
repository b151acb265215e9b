// kubelet's WebSocket channel framing: each message is one channel's data, prefixed by the
// channel number — a byte in binary protocols (v4.channel.k8s.io), an ASCII digit followed by
// base64 text in the base64 ones (base64.channel.k8s.io, v4.base64.channel.k8s.io, used by web
// terminals that cannot send binary frames).
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

export function isBase64Protocol(protocol: string): boolean {
  return protocol.includes('base64.channel.k8s.io');
}

export function encodeChannel(base64: boolean, ch: number, data: Buffer): Buffer | string {
  return base64 ? String.fromCharCode(48 + ch) + data.toString('base64') : Buffer.concat([Buffer.from([ch]), data]);
}

/** [channel, payload] of a message, or undefined for an empty or malformed one. */
export function decodeChannel(base64: boolean, data: Buffer, isBinary: boolean): [number, Buffer] | undefined {
  if (data.length === 0) return undefined;
  if (!base64) return isBinary ? [data[0]!, data.subarray(1)] : undefined;
  const ch = data[0]! - 48;
  if (ch < 0 || ch > 9) return undefined;
  return [ch, Buffer.from(data.subarray(1).toString('latin1'), 'base64')];
}

/** Unsent bytes a channel writer lets the WebSocket hold before it waits for them to go out. */
const WS_BUFFER_LIMIT = 512 * 1024;

/** A writable channel: each chunk is one message; back-pressure once the socket holds too much. */
export function channelWriter(ws: WebSocket, base64: boolean, ch: number): Writable {
  let inflight = 0;
  let onIdle: (() => void) | undefined;
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb();
      const wait = ws.bufferedAmount >= WS_BUFFER_LIMIT;
      inflight++;
      ws.send(encodeChannel(base64, ch, chunk), { binary: !base64 }, () => {
        if (--inflight === 0) onIdle?.();
        if (wait) cb();
      });
      if (!wait) cb();
    },
    final(cb) {
      // Finishing means every message of this channel went out (a close frame may follow).
      if (inflight === 0 || ws.readyState !== ws.OPEN) return cb();
      onIdle = () => cb();
    },
  });
}
