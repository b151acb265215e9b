// The OCI runtime driver: conmon starts `runc create` (or crun) and stays with the container,
// writing its CRI log and its exit code; everything else is a plain runtime CLI call. conmon is
// daemonised (double fork), so containers outlive the daemon.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeadlineExceededError, errorMessage } from '../errors/errors.js';
import type { OciProcess, OciResources } from './oci.js';
import { OutputCap } from './output.js';

export interface RuntimeHandler {
  name: string;
  /** runc or crun binary. */
  path: string;
  /** --root of the runtime's state. */
  root: string;
}

export interface DriverOptions {
  conmon: string;
  exitDir: string;
  socketDir: string;
  logLevel: string;
  /** How long conmon may take to report the container's pid. */
  createTimeoutMs: number;
}

export interface CreateArgs {
  id: string;
  name: string;
  bundle: string;
  logPath: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

export class RuntimeError extends Error {}

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

const MAX_OUTPUT = 16 * 1024 * 1024;

/** Runs a command to completion; output beyond 16 MiB per stream is dropped. */
export function run(cmd: string, args: string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (b: Buffer) => { if ((outLen += b.length) <= MAX_OUTPUT) out.push(b); });
    child.stderr!.on('data', (b: Buffer) => { if ((errLen += b.length) <= MAX_OUTPUT) err.push(b); });
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (e) => { if (timer) clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });
}

export class RuntimeDriver {
  constructor(readonly o: DriverOptions) {}

  private rt(h: RuntimeHandler, args: string[]): string[] {
    return ['--root', h.root, ...args];
  }

  private async call(h: RuntimeHandler, args: string[], input?: string): Promise<RunResult> {
    const r = await run(h.path, this.rt(h, args), { input, timeoutMs: 60_000 });
    if (r.code !== 0) {
      const msg = r.stderr.toString().trim() || r.stdout.toString().trim() || `exit ${r.code}`;
      throw new RuntimeError(`${h.name} ${args[0]}: ${msg}`);
    }
    return r;
  }

  /**
   * conmon → `runtime create`; resolves with the container's pid once conmon reports it on the
   * sync pipe (one JSON line: {"pid": N} or {"pid": -1, "message": "..."}).
   */
  async create(h: RuntimeHandler, a: CreateArgs): Promise<{ pid: number }> {
    const args = [
      '-c', a.id, '-n', a.name, '-u', a.id, '-r', h.path, '-b', a.bundle,
      '-p', path.join(a.bundle, 'pidfile'), '-P', path.join(a.bundle, 'conmon-pidfile'),
      '-l', `k8s-file:${a.logPath}`, '--exit-dir', this.o.exitDir, '--socket-dir-path', this.o.socketDir,
      '--persist-dir', a.bundle, '--runtime-arg', `--root=${h.root}`, '--log-level', this.o.logLevel,
    ];
    if (a.tty) args.push('-t');
    if (a.stdin) {
      args.push('-i');
      if (!a.stdinOnce) args.push('--leave-stdin-open');
    }
    await mkdir(this.o.socketDir, { recursive: true, mode: 0o700 });
    const child = spawn(this.o.conmon, args, {
      // conmon writes its `oom` marker into its working directory; berth reads it from the bundle.
      cwd: a.bundle,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3' },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 8192) stderr += s; });
    const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    try {
      const line = await readLine(sync, child, this.o.createTimeoutMs).catch(async (err: Error) => {
        // Out of time: conmon's first process may hang too; it must not hold this call.
        if (err instanceof DeadlineExceededError && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        // conmon's own complaint (bad flag, missing directory) is on its stderr; 'exit', not
        // 'close': what conmon started may hold the stderr pipe open.
        await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
        throw new RuntimeError(`${err.message}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
      });
      let msg: { pid?: number; message?: string };
      try {
        msg = JSON.parse(line) as { pid?: number; message?: string };
      } catch {
        throw new RuntimeError(`conmon for ${a.id}: unexpected sync message ${JSON.stringify(line)}; ${stderr.trim()}`);
      }
      if (!msg.pid || msg.pid < 0) {
        throw new RuntimeError(`${h.name} create: ${(msg.message ?? '').trim() || stderr.trim() || 'failed'}`);
      }
      return { pid: msg.pid };
    } catch (err) {
      // A conmon that gave no pid (timed out, or reported a failure) may still run, with the
      // runtime it started: end its whole process group before the caller's rollback.
      await killConmonGroup(path.join(a.bundle, 'conmon-pidfile'));
      throw err;
    } finally {
      sync.destroy();
      child.stderr!.destroy();
    }
  }

  async start(h: RuntimeHandler, id: string): Promise<void> {
    await this.call(h, ['start', id]);
  }

  async kill(h: RuntimeHandler, id: string, signal: string, all = false): Promise<void> {
    await this.call(h, ['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  /** `runtime delete --force`; a container the runtime does not know is fine. */
  async delete(h: RuntimeHandler, id: string): Promise<void> {
    try {
      await this.call(h, ['delete', '--force', id]);
    } catch (err) {
      if (!/not exist|not found|no such/i.test(errorMessage(err))) throw err;
    }
  }

  /** `runtime state`: undefined when the runtime does not know the container. */
  async state(h: RuntimeHandler, id: string): Promise<{ status: string; pid: number } | undefined> {
    const r = await run(h.path, this.rt(h, ['state', id]), { timeoutMs: 30_000 });
    if (r.code !== 0) return undefined;
    const s = JSON.parse(r.stdout.toString()) as { status: string; pid: number };
    return { status: s.status, pid: s.pid };
  }

  async update(h: RuntimeHandler, id: string, res: OciResources, bundle: string): Promise<void> {
    const file = path.join(bundle, `update-${randomBytes(4).toString('hex')}.json`);
    await writeFile(file, JSON.stringify(res));
    try {
      await this.call(h, ['update', '--resources', file, id]);
    } finally {
      await rm(file, { force: true });
    }
  }

  /**
   * `runtime exec --process` as our own child (no conmon round trip): output collected, and at
   * the timeout the exec'd process (pid from --pid-file) and the runtime are killed.
   */
  /**
   * `runtime exec --process` as our own child (no conmon round trip): output collected up to
   * OutputCap's limit (the rest read and dropped, and said so), and at the timeout, or when
   * `signal` aborts (the caller went away), the exec'd process (pid from --pid-file) and the
   * runtime are killed.
   */
  async execSync(h: RuntimeHandler, id: string, bundle: string, proc: OciProcess, timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
    const tag = randomBytes(6).toString('hex');
    const procFile = path.join(bundle, `exec-${tag}.json`);
    const pidFile = path.join(bundle, `exec-${tag}.pid`);
    await writeFile(procFile, JSON.stringify(proc));
    let timedOut = false;
    try {
      signal?.throwIfAborted();
      const child = spawn(h.path, this.rt(h, ['exec', '--process', procFile, '--pid-file', pidFile, id]), {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = new OutputCap();
      child.stdout!.on('data', (b: Buffer) => output.add(0, b));
      child.stderr!.on('data', (b: Buffer) => output.add(1, b));
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          killExec(pidFile, child);
        }, timeoutMs);
      }
      const onAbort = (): void => killExec(pidFile, child);
      signal?.addEventListener('abort', onAbort, { once: true });
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (c, sig) => resolve(c ?? (sig ? 137 : 255)));
      }).finally(() => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      });
      if (timedOut) throw new DeadlineExceededError(`exec in container "${id}" timed out after ${timeoutMs / 1000} s; the process was killed`);
      signal?.throwIfAborted();
      const { stdout, stderr } = output.result();
      return { code, stdout, stderr };
    } finally {
      await Promise.all([unlink(procFile).catch(() => {}), unlink(pidFile).catch(() => {})]);
    }
  }

  /** Streaming exec: the runtime as our child with the given stdio; the caller wires the streams. */
  async execSpawn(h: RuntimeHandler, id: string, bundle: string, proc: OciProcess): Promise<{ child: ChildProcess; cleanup(): Promise<void>; pidFile: string }> {
    const tag = randomBytes(6).toString('hex');
    const procFile = path.join(bundle, `exec-${tag}.json`);
    const pidFile = path.join(bundle, `exec-${tag}.pid`);
    await writeFile(procFile, JSON.stringify(proc));
    const child = spawn(h.path, this.rt(h, ['exec', '--process', procFile, '--pid-file', pidFile, id]), {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return {
      child, pidFile,
      cleanup: async () => { await Promise.all([unlink(procFile).catch(() => {}), unlink(pidFile).catch(() => {})]); },
    };
  }

  /** Writes one command to conmon's control fifo ("2 0 0" reopens the log, "1 h w" resizes). */
  async control(bundle: string, line: string): Promise<void> {
    // O_NONBLOCK: with no conmon reading, open fails with ENXIO instead of blocking forever.
    const fh = await open(path.join(bundle, 'ctl'), fsc.O_WRONLY | fsc.O_NONBLOCK);
    try {
      await fh.write(`${line}\n`);
    } finally {
      await fh.close();
    }
  }
}

/**
 * Ends an exec: SIGKILL to the exec'd process, then the runtime is left to reap it and exit by
 * itself. Killing the runtime at once would orphan the process to the container's init, which
 * may never reap it (a zombie that pgrep still finds). The runtime is killed only if it lingers.
 */
export function killExec(pidFile: string, runtime: ChildProcess, graceMs = 2000): void {
  void killFromPidFile(pidFile).finally(() => {
    if (runtime.exitCode !== null || runtime.signalCode !== null) return;
    const t = setTimeout(() => runtime.kill('SIGKILL'), graceMs);
    runtime.once('exit', () => clearTimeout(t));
  });
}

/** SIGKILL to the process group led by the pid in `pidFile` (conmon calls setsid), else to the pid alone. */
export async function killConmonGroup(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!(pid > 1)) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function killFromPidFile(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Reads the first line from a stream, failing if the process dies or the time runs out first. */
function readLine(s: NodeJS.ReadableStream, child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error, line?: string): void => {
      clearTimeout(timer);
      s.removeAllListeners('data');
      if (err) reject(err);
      else resolve(line!);
    };
    const timer = setTimeout(() => done(new DeadlineExceededError(`conmon did not report the container's pid within ${timeoutMs} ms`)), timeoutMs);
    s.on('data', (b: Buffer | string) => {
      buf += b.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) done(undefined, buf.slice(0, i));
    });
    s.once('end', () => done(new RuntimeError(`conmon closed its sync pipe without a pid${buf ? `: ${buf}` : ''}`)));
    child.stderr?.once('end', () => undefined);
    s.once('error', (e: Error) => done(e));
    child.once('error', (e) => done(new RuntimeError(`conmon: ${e.message}`)));
  });
}
