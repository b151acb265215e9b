// One way to run a helper process (runc, crun, CNI plugins, pinns, zstd, nsenter…): spawn,
// feed stdin, capture stdout/stderr up to a bound, kill at a timeout or when the caller gives
// up, and never wait for ever on pipes a grandchild keeps open after the child exited.
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { OWNER_ENV } from './procs.js';
import { spawnChild } from './spawn.js';

/** Per-stream capture bound; output beyond it is dropped (and `truncated` set). */
export const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
/** Node's timers overflow above 2^31-1 ms and fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RunOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: Buffer | string;
  /** `pipe`: the caller writes `child.stdin` itself (instead of `input`). */
  stdin?: 'pipe';
  /** `capture` (default) collects the stream; `stream` leaves it to the caller; `ignore` is /dev/null. */
  stdout?: 'capture' | 'stream' | 'ignore';
  stderr?: 'capture' | 'ignore';
  /** Bytes kept per captured stream (default 16 MiB). */
  maxOutput?: number;
  /** Receives stdout (0) and stderr (1) as they arrive, instead of the capture (e.g. a shared budget). */
  sink?: (stream: 0 | 1, chunk: Buffer) => void;
  /** Kill the process after this long (0 or undefined: no limit); the result says `timedOut`. */
  timeoutMs?: number;
  /** Aborting kills the process; the result says `aborted`. */
  signal?: AbortSignal;
  /** How to kill at the timeout or abort (default SIGKILL to the child). */
  kill?: (child: ChildProcess) => void;
  /**
   * Once the child exited, wait at most this long for its pipes to close. A process it left in
   * the background may hold them open for ever; then the output so far is returned.
   * Undefined: wait for the pipes (the caller knows no one else holds them).
   */
  drainMs?: number;
}

export interface RunResult {
  /** Exit status; 128 + signal number when killed by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
  aborted: boolean;
  /** Some output was dropped: over `maxOutput`, or pipes still open after `drainMs`. */
  truncated: boolean;
}

export interface Running {
  child: ChildProcess;
  /** The child's stdout when `stdout: 'stream'`. */
  stdout: Readable;
  result: Promise<RunResult>;
}

/** Thrown when the command could not be started at all (ENOENT, EACCES). */
export class SpawnError extends Error {
  constructor(readonly cmd: string, cause: NodeJS.ErrnoException) {
    super(`${cmd}: ${cause.message}`, { cause });
  }
}

/**
 * The exit status a shell would report: the code, or 128 + the signal's number when a signal
 * ended the process (SIGUSR1 → 138). From the system's own table, so no signal maps wrongly.
 */
export function shellExitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

let owner: Record<string, string> = {};

/**
 * Tags every process started from here on with `OWNER_ENV=stateDir`, so that the next daemon
 * on the same state directory can find and end the ones this one leaves behind if it dies.
 */
export function tagChildren(stateDir: string): void {
  owner = { [OWNER_ENV]: stateDir };
}

export function clampTimer(ms: number): number {
  return Math.max(0, Math.min(ms, MAX_TIMER_MS));
}

/** Starts `cmd`; `result` settles when it exited and its output is in (or drained by the bound). */
export function start(cmd: string, opts: RunOptions = {}): Running {
  const outMode = opts.stdout ?? 'capture';
  const errMode = opts.stderr ?? 'capture';
  const child = spawnChild(cmd, opts.args ?? [], {
    env: { ...(opts.env ?? process.env), ...owner }, cwd: opts.cwd,
    stdio: [opts.input !== undefined || opts.stdin === 'pipe' ? 'pipe' : 'ignore', outMode === 'ignore' ? 'ignore' : 'pipe', errMode === 'ignore' ? 'ignore' : 'pipe'],
  });
  const max = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
  let truncated = false;
  const capture = (s: Readable | null): Buffer[] => {
    const parts: Buffer[] = [];
    let n = 0;
    s?.on('data', (b: Buffer) => {
      if (n + b.length <= max) parts.push(b);
      else {
        if (n < max) parts.push(b.subarray(0, max - n));
        truncated = true;
      }
      n += b.length;
    });
    s?.on('error', () => undefined);
    return parts;
  };
  const sink = opts.sink;
  if (sink) {
    child.stdout?.on('data', (b: Buffer) => sink(0, b)).on('error', () => undefined);
    child.stderr?.on('data', (b: Buffer) => sink(1, b)).on('error', () => undefined);
  }
  const out = outMode === 'capture' && !sink ? capture(child.stdout) : [];
  const err = errMode === 'capture' && !sink ? capture(child.stderr) : [];
  let timedOut = false;
  let aborted = false;
  const kill = () => (opts.kill ? opts.kill(child) : child.kill('SIGKILL'));
  const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; kill(); }, clampTimer(opts.timeoutMs)) : undefined;
  const onAbort = () => { aborted = true; kill(); };
  if (opts.signal?.aborted) queueMicrotask(onAbort);
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => undefined); // the child may exit before reading it all
    child.stdin!.end(opts.input);
  }
  const result = new Promise<RunResult>((resolve, reject) => {
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      clearTimeout(timer);
      clearTimeout(drainTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({
        code: shellExitCode(code, sig), signal: sig,
        stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut, aborted, truncated,
      });
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new SpawnError(cmd, e));
    });
    child.once('close', finish);
    if (opts.drainMs !== undefined) {
      child.once('exit', (code, sig) => {
        drainTimer = setTimeout(() => {
          // Someone else holds the pipes: stop reading, keep what came.
          child.removeListener('close', finish);
          truncated = true;
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(code, sig);
        }, clampTimer(opts.drainMs!));
      });
    }
  });
  return { child, stdout: child.stdout as Readable, result };
}

/** Runs `cmd` to completion and returns its status and output (never throws for a non-zero exit). */
export function run(cmd: string, args: string[] = [], opts: Omit<RunOptions, 'args'> = {}): Promise<RunResult> {
  return start(cmd, { ...opts, args }).result;
}

/** The first useful line(s) of a failed run: stderr, else stdout, else the status. */
export function failureText(r: RunResult, limit = 4096): string {
  const text = r.stderr.toString().trim() || r.stdout.toString().trim();
  const status = r.timedOut ? 'timed out' : r.aborted ? 'cancelled' : r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  if (!text) return status;
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

/** Runs `cmd` and resolves with its output; a failure (non-zero, timeout, abort) rejects, naming `what`. */
export async function runChecked(what: string, cmd: string, args: string[] = [], opts: Omit<RunOptions, 'args'> = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0 || r.timedOut || r.aborted) throw new ProcessError(what, r);
  return r;
}

export class ProcessError extends Error {
  constructor(what: string, readonly result: RunResult) {
    super(`${what}: ${failureText(result)}`);
  }
}
