// Exec and attach over WebSocket with kubelet's channel protocols: each binary message starts
// with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5 adds channel 255,
// "close channel N", which is how a client says stdin ended.
import { PassThrough } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../log/log.js';
import { ResizeQueue, runRemoteCommand, statusJson, statusText, type Outcome } from './remotecommand.js';
import { channelWriter, decodeChannel, encodeChannel, isBase64Protocol } from './ws-channel.js';
import type { StreamRequest, StreamingBackends } from './types.js';

export const WS_REMOTECOMMAND_PROTOCOLS = [
  'v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io',
  'v4.base64.channel.k8s.io', 'base64.channel.k8s.io',
];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

export function serveWsRemoteCommand(
  ws: WebSocket,
  protocol: string,
  req: Extract<StreamRequest, { kind: 'exec' | 'attach' }>,
  backends: StreamingBackends,
  log: Logger,
): void {
  const p = req.params;
  const v5 = protocol === 'v5.channel.k8s.io';
  const jsonStatus = v5 || protocol.startsWith('v4.');
  const b64 = isBase64Protocol(protocol);
  const stdin = p.stdin ? new PassThrough() : undefined;
  const stdout = p.stdout ? channelWriter(ws, b64, STDOUT) : undefined;
  const stderr = p.stderr && !p.tty ? channelWriter(ws, b64, STDERR) : undefined;
  const resize = p.tty ? new ResizeQueue() : undefined;
  const gone = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  void gone.then(() => {
    stdin?.end();
    resize?.end();
  });
  ws.on('error', () => {});

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const msg = decodeChannel(b64, data, isBinary);
    if (!msg) return;
    const [ch, payload] = msg;
    if (ch === STDIN && stdin && !stdin.writableEnded) {
      // Stop reading the socket while the process is not taking its input.
      if (!stdin.write(payload)) {
        ws.pause();
        stdin.once('drain', () => ws.resume());
      }
    } else if (ch === RESIZE && resize) {
      resize.feed(payload);
    } else if (ch === CLOSE && v5 && payload[0] === STDIN) {
      stdin?.end();
    }
  });

  void runRemoteCommand(
    req,
    backends,
    {
      io: { tty: p.tty, stdin, stdout, stderr, resize },
      writeStatus(o: Outcome) {
        const body = jsonStatus ? statusJson(o) : statusText(o);
        if (body && ws.readyState === ws.OPEN) ws.send(encodeChannel(b64, ERROR, Buffer.from(body)), { binary: !b64 });
      },
      finish() {
        resize?.end();
        // Messages already handed to ws are flushed before the close frame.
        const close = () => ws.readyState === ws.OPEN && ws.close(1000);
        let pending = 0;
        for (const w of [stdout, stderr]) {
          if (!w) continue;
          pending++;
          w.end(() => --pending === 0 && close());
        }
        if (pending === 0) close();
      },
      gone,
    },
    log,
  );
}
