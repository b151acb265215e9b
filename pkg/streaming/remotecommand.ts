// Exec and attach sessions, independent of the transport: the transport (SPDY streams or
// WebSocket channels) supplies the client's stdio and a way to report the outcome; this file
// runs the backend, reports exit codes the way kubelet does, and ends the process — and only
// the process — when the client goes away.
import { BerthError } from '../errors/errors.js';
import type { Logger } from '../log/log.js';
import type { StreamRequest, StdioStreams, StreamingBackends, TermSize } from './types.js';

export type Outcome =
  | { kind: 'success' }
  | { kind: 'exit'; code: number; cmd: string[] }
  | { kind: 'error'; message: string }
  /** The request cannot run in the object's state (a container that is not running): the client's to handle, not a server fault. */
  | { kind: 'refused'; message: string };

export interface RemoteCommandChannels {
  io: StdioStreams;
  /** Reports the outcome on the error stream/channel, in the negotiated protocol's format. */
  writeStatus(o: Outcome): void;
  /** Ends the output streams and closes the connection, after everything queued is sent. */
  finish(): void;
  /** Resolves when the client's connection is gone. */
  gone: Promise<void>;
}

/** Terminal sizes as an async iterable, fed from a resize stream or channel. */
export class ResizeQueue implements AsyncIterable<TermSize> {
  private readonly queue: TermSize[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private partial = '';

  push(size: TermSize): void {
    if (this.ended) return;
    // Only the latest sizes matter; a client flooding resizes cannot grow the queue.
    if (this.queue.length >= 16) this.queue.shift();
    this.queue.push(size);
    this.wake?.();
  }

  /** Resize streams carry JSON objects one after another ({"Width":80,"Height":24}). */
  feed(chunk: Buffer | string): void {
    this.partial += chunk.toString();
    let depth = 0;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.partial.length; i++) {
      const c = this.partial[i];
      if (c === '{') {
        if (depth++ === 0) start = i;
      } else if (c === '}' && depth > 0 && --depth === 0) {
        try {
          const o = JSON.parse(this.partial.slice(start, i + 1)) as { Width?: number; Height?: number };
          if (typeof o.Width === 'number' && typeof o.Height === 'number') this.push({ width: o.Width, height: o.Height });
        } catch {
          /* a malformed size is ignored, as kubelet does */
        }
        consumed = i + 1;
      }
    }
    this.partial = this.partial.slice(consumed);
    if (this.partial.length > 4096) this.partial = '';
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TermSize> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** metav1.Status as kubelet writes it on the v4 error stream. */
export function statusJson(o: Outcome): string {
  if (o.kind === 'success') return JSON.stringify({ metadata: {}, status: 'Success' });
  if (o.kind === 'exit') {
    return JSON.stringify({
      metadata: {},
      status: 'Failure',
      message: `command terminated with non-zero exit code: error executing command [${o.cmd.join(' ')}], exit code ${o.code}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(o.code) }] },
    });
  }
  if (o.kind === 'refused') return JSON.stringify({ metadata: {}, status: 'Failure', message: o.message, reason: 'BadRequest', code: 400 });
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${o.message}`,
    reason: 'InternalError',
    details: { causes: [{ message: o.message }] },
    code: 500,
  });
}

/** Protocols before v4 carry a plain error message, and nothing on success. */
export function statusText(o: Outcome): string | undefined {
  if (o.kind === 'success') return undefined;
  if (o.kind === 'exit') return `command terminated with non-zero exit code: error executing command [${o.cmd.join(' ')}], exit code ${o.code}`;
  return o.message;
}

/** A typed precondition error is the client's to handle; anything else is the server's fault. */
function failure(kind: 'exec' | 'attach', err: unknown): Outcome {
  const message = (err as Error).message;
  if (err instanceof BerthError && err.kind === 'FailedPrecondition') return { kind: 'refused', message };
  return { kind: 'error', message: `error ${kind === 'exec' ? 'executing command in' : 'attaching to'} container: ${message}` };
}

export async function runRemoteCommand(
  req: Extract<StreamRequest, { kind: 'exec' | 'attach' }>,
  backends: StreamingBackends,
  ch: RemoteCommandChannels,
  log: Logger,
): Promise<void> {
  let outcome: Outcome;
  let clientGone = false;
  let ended = false; // after the process ended, a closing connection must not signal a reused pid
  void ch.gone.then(() => (clientGone = true));
  try {
    if (req.kind === 'exec') {
      if (!backends.exec) throw new Error('exec is not available: no container runtime is loaded');
      const proc = await backends.exec.exec(req.params.containerId, req.params.cmd, ch.io);
      void ch.gone.then(() => ended || proc.kill());
      const code = await proc.exited;
      outcome = code === 0 ? { kind: 'success' } : { kind: 'exit', code, cmd: req.params.cmd };
    } else {
      if (!backends.attach) throw new Error('attach is not available: no container runtime is loaded');
      const session = await backends.attach.attach(req.params.containerId, ch.io);
      void ch.gone.then(() => ended || session.detach());
      await session.done;
      outcome = { kind: 'success' };
    }
  } catch (err) {
    outcome = failure(req.kind, err);
    log.warn({ container: req.params.containerId, err: (err as Error).message }, `streaming ${req.kind} failed`);
  }
  ended = true;
  if (!clientGone) ch.writeStatus(outcome);
  ch.finish();
}
