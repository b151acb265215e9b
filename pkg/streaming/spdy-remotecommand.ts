// Exec and attach over SPDY, as kubelet's remotecommand server does it: the client opens one
// stream per stdio channel, typed by the `streamType` header, and the session starts once every
// stream the request asked for is there.
import type { Logger } from '../log/log.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';
import { ResizeQueue, runRemoteCommand, statusJson, statusText, type Outcome } from './remotecommand.js';
import type { StreamRequest, StreamingBackends } from './types.js';

/** exec/attach protocols in berth's order of preference (the client's order decides). */
export const REMOTECOMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
/** Kubelet's default wait for the client to open its streams. */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

export function serveSpdyRemoteCommand(
  session: SpdySession,
  protocol: string,
  req: Extract<StreamRequest, { kind: 'exec' | 'attach' }>,
  backends: StreamingBackends,
  log: Logger,
  timeoutMs = STREAM_CREATION_TIMEOUT_MS,
): void {
  const p = req.params;
  const v4 = protocol === 'v4.channel.k8s.io';
  const resizable = v4 || protocol === 'v3.channel.k8s.io';
  const stderr = p.stderr && !p.tty; // a terminal multiplexes nothing: kubelet drops stderr too
  const expected = 1 + +p.stdin + +p.stdout + +stderr + +(p.tty && resizable);
  const streams: Partial<Record<'error' | 'stdin' | 'stdout' | 'stderr' | 'resize', SpdyStream>> = {};
  let received = 0;
  let started = false;
  const gone = new Promise<void>((resolve) => session.once('close', () => resolve()));
  const timer = setTimeout(() => {
    log.warn({ received, expected }, 'streaming: timed out waiting for the client to create streams');
    session.destroy();
  }, timeoutMs);
  timer.unref();
  void gone.then(() => clearTimeout(timer));

  session.on('stream', (s) => {
    s.on('error', () => {});
    const type = s.header('streamType');
    if (started || (type !== 'error' && type !== 'stdin' && type !== 'stdout' && type !== 'stderr' && type !== 'resize')) {
      log.debug({ type }, 'streaming: unexpected stream');
      s.resume();
      return;
    }
    streams[type] = s;
    received++;
    if (received < expected) return;
    started = true;
    clearTimeout(timer);
    start();
  });

  const start = (): void => {
    const resize = streams.resize ? new ResizeQueue() : undefined;
    if (resize && streams.resize) {
      streams.resize.on('data', (d: Buffer) => resize.feed(d));
      streams.resize.on('end', () => resize.end());
    }
    const errorStream = streams.error;
    void runRemoteCommand(
      req,
      backends,
      {
        io: { tty: p.tty, stdin: streams.stdin, stdout: streams.stdout, stderr: streams.stderr, resize },
        writeStatus(o: Outcome) {
          if (!errorStream || errorStream.destroyed) return;
          const body = v4 ? statusJson(o) : statusText(o);
          if (body) errorStream.write(body);
        },
        finish() {
          resize?.end();
          for (const s of [streams.stdout, streams.stderr, streams.error]) if (s && !s.destroyed) s.end();
          streams.stdin?.resume(); // discard what is still in flight; the session is over
          session.close();
        },
        gone,
      },
      log,
    );
  };
}
