// The client side of exec / attach over WebSocket with kubelet's channel protocol, as client-go's
// WebSocket executor speaks it: binary messages prefixed by a channel byte (0 stdin, 1 stdout,
// 2 stderr, 3 error status, 4 resize); in v5, [255, 0] says stdin ended.
import type { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';

export const CLIENT_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

export interface TerminalSize {
  width: number;
  height: number;
}

export interface RemoteCommandIo {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Sizes of the client's terminal: the first at once, later ones on resize. */
  onResize?: (send: (size: TerminalSize) => void) => void;
}

/** A failure the server reported on the error channel (not the command's own exit code). */
export class RemoteCommandError extends Error {}

interface StatusJson {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/** The command's exit code from a metav1.Status, or an error for a failure that is no exit code. */
export function exitCodeOf(statusText: string): number {
  if (!statusText) return 0;
  let st: StatusJson;
  try {
    st = JSON.parse(statusText) as StatusJson;
  } catch {
    throw new RemoteCommandError(statusText);
  }
  if (st.status === 'Success') return 0;
  const cause = st.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (st.reason === 'NonZeroExitCode' && cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message);
  throw new RemoteCommandError(st.message ?? statusText);
}

/** Runs an exec or attach session at `url`; resolves with the exit code once the server closes. */
export function remoteCommand(url: string, io: RemoteCommandIo): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), CLIENT_PROTOCOLS);
    let status = '';
    const send = (ch: number, data: Buffer) => ws.readyState === ws.OPEN && ws.send(Buffer.concat([Buffer.from([ch]), data]));
    ws.on('message', (data: Buffer) => {
      if (!data.length) return;
      const payload = data.subarray(1);
      if (data[0] === 1) io.stdout?.write(payload);
      else if (data[0] === 2) io.stderr?.write(payload);
      else if (data[0] === 3) status += payload.toString();
    });
    ws.once('open', () => {
      io.onResize?.((s) => send(4, Buffer.from(JSON.stringify({ Width: s.width, Height: s.height }))));
      if (!io.stdin) return;
      io.stdin.on('data', (c: Buffer | string) => send(0, Buffer.from(c)));
      io.stdin.once('end', () => {
        if (ws.protocol === 'v5.channel.k8s.io') send(255, Buffer.from([0]));
      });
    });
    ws.once('close', () => {
      io.stdin?.pause();
      try {
        resolve(exitCodeOf(status));
      } catch (err) {
        reject(err);
      }
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => reject(new RemoteCommandError(`streaming server refused the session: ${res.statusCode} ${body.trim()}`)));
    });
    ws.once('error', reject);
  });
}
