// The OCI runtime driver: conmon starts `runc create` (or crun) and stays with the container,
// writing its CRI log and its exit code; everything else is a plain runtime CLI call. conmon is
// daemonised (double fork), so containers outlive the daemon.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DeadlineExceededError, errorMessage } from '../errors/errors.js';
import { failureText, run, type RunResult } from '../process/run.js';
import { spawnChild } from '../process/spawn.js';
import { PROJECT_ROOT } from '../version/version.js';
import type { OciProcess, OciResources } from './oci.js';
import { OutputCap } from './output.js';

export interface RuntimeHandler {
  name: string;
  /** runc or crun binary. */
  path: string;
  /** --root of the runtime's state. */
  root: string;
  /** More global flags: --systemd-cgroup for a container under the systemd cgroup driver. */
  flags?: string[];
}

export interface DriverOptions {
  conmon: string;
  exitDir: string;
  socketDir: string;
  logLevel: string;
  /** How long conmon may take to report the container's pid. */
  createTimeoutMs: number;
  /** The command that starts conmon in its own cgroup (pkg/cgroups); conmon itself when absent. */
  launch?: (id: string, conmon: string, args: string[]) => Promise<{ file: string; args: string[]; env?: Record<string, string> }>;
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

/** ExecSync's output and status; `truncated` when output was cut (bound, or pipes held open). */
export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
}

/** A container as `runtime list` shows it. */
export interface RuntimeContainer {
  id: string;
  status: string;
  pid: number;
  bundle: string;
}

/** The files of one exec: the process spec the runtime reads and the pid file it writes. */
export interface ExecFiles {
  procFile: string;
  pidFile: string;
  cleanup(): Promise<void>;
}

/** Writes an exec's process spec into the bundle (unique names, so execs run side by side). */
export async function writeExecProcess(bundle: string, proc: OciProcess): Promise<ExecFiles> {
  const tag = randomBytes(6).toString('hex');
  const procFile = path.join(bundle, `exec-${tag}.json`);
  const pidFile = path.join(bundle, `exec-${tag}.pid`);
  await writeFile(procFile, JSON.stringify(proc));
  return {
    procFile, pidFile,
    cleanup: async () => { await Promise.all([unlink(procFile).catch(() => {}), unlink(pidFile).catch(() => {})]); },
  };
}

/** After an exec's runtime exited, how long its pipes may stay open (a process it left in the background holds them). */
export const EXEC_DRAIN_MS = 2000;
const CALL_TIMEOUT_MS = 60_000;
/** coreutils' nice: runs a background runtime call at the lowest CPU priority. */
const NICE = '/usr/bin/nice';
/** The runtime's own log of a container's create, in its bundle. */
export const RUNTIME_LOG = 'runtime.log';
/** How long a timed-out ExecSync's runtime may take to start the process that execwait then kills. */
const EXEC_STOP_GRACE_MS = 30_000;
const EXECWAIT_PATH = path.join(PROJECT_ROOT, 'native/build/execwait');

/**
 * What the container service needs from an OCI runtime (one process per call, conmon for
 * create): RuntimeDriver below, or a fake in tests (testing/fake-runtime.ts).
 */
export interface ContainerRuntime {
  /** conmon writes `<exitDir>/<id>` with the exit code. */
  readonly exitDir: string;
  /** conmon's attach sockets live in `<socketDir>/<id>`. */
  readonly socketDir: string;
  create(h: RuntimeHandler, a: CreateArgs): Promise<{ pid: number }>;
  start(h: RuntimeHandler, id: string): Promise<void>;
  kill(h: RuntimeHandler, id: string, signal: string, all?: boolean): Promise<void>;
  /**
   * Force delete; a container the runtime does not know is fine. `background`: nobody waits for
   * it, so it runs at the lowest CPU priority.
   */
  delete(h: RuntimeHandler, id: string, o?: { background?: boolean }): Promise<void>;
  state(h: RuntimeHandler, id: string): Promise<{ status: string; pid: number } | undefined>;
  list(h: RuntimeHandler): Promise<RuntimeContainer[]>;
  update(h: RuntimeHandler, id: string, res: OciResources, bundle: string): Promise<void>;
  execSync(h: RuntimeHandler, id: string, bundle: string, proc: OciProcess, timeoutMs: number, signal?: AbortSignal): Promise<ExecResult>;
  execSpawn(h: RuntimeHandler, id: string, bundle: string, proc: OciProcess): Promise<{ child: ChildProcess; cleanup(): Promise<void>; pidFile: string }>;
  execArgv(h: RuntimeHandler, id: string, files: { procFile: string; pidFile?: string }): string[];
  /** Writes one command line to conmon's control fifo in the bundle. */
  control(bundle: string, line: string): Promise<void>;
}

export class RuntimeDriver implements ContainerRuntime {
  constructor(readonly o: DriverOptions) {}

  private rt(h: RuntimeHandler, args: string[]): string[] {
    return ['--root', h.root, ...(h.flags ?? []), ...args];
  }

  get exitDir(): string {
    return this.o.exitDir;
  }

  get socketDir(): string {
    return this.o.socketDir;
  }

  private async call(h: RuntimeHandler, args: string[], o: { timeoutMs?: number; nice?: boolean } = {}): Promise<RunResult> {
    const { timeoutMs = CALL_TIMEOUT_MS } = o;
    const argv = this.rt(h, args);
    const r = await (o.nice ? run(NICE, ['-n', '19', h.path, ...argv], { timeoutMs }) : run(h.path, argv, { timeoutMs }));
    if (r.code !== 0 || r.timedOut) throw new RuntimeError(`${h.name} ${args[0]}: ${failureText(r)}`);
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
      '--persist-dir', a.bundle, '--runtime-arg', `--root=${h.root}`, ...(h.flags ?? []).flatMap((f) => ['--runtime-arg', f]),
      // The runtime's stderr is the container's (conmon reads its failure from there): its
      // warnings, e.g. runc's "skipping device … for systemd", would open the container's log.
      // With --log they go to a file; runc and crun still print errors to stderr too.
      '--runtime-arg', `--log=${path.join(a.bundle, RUNTIME_LOG)}`,
      '--log-level', this.o.logLevel,
    ];
    if (a.tty) args.push('-t');
    if (a.stdin) {
      args.push('-i');
      if (!a.stdinOnce) args.push('--leave-stdin-open');
    }
    await mkdir(this.o.socketDir, { recursive: true, mode: 0o700 });
    const cmd = this.o.launch ? await this.o.launch(a.id, this.o.conmon, args) : { file: this.o.conmon, args };
    const child = spawnChild(cmd.file, cmd.args, {
      // conmon writes its `oom` marker into its working directory; berth reads it from the bundle.
      cwd: a.bundle,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...cmd.env, _OCI_SYNCPIPE: '3' },
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

  /**
   * `runtime delete --force`; a container the runtime does not know is fine. In the background
   * (the exit path's delete, 30-50 ms of runc) it runs under nice 19: at normal priority it took
   * CPU from the next CreateContainer on a 2-core node (13 -> 10 ms in alternated pairs).
   */
  async delete(h: RuntimeHandler, id: string, o: { background?: boolean } = {}): Promise<void> {
    try {
      await this.call(h, ['delete', '--force', id], { nice: o.background });
    } catch (err) {
      if (!/not exist|not found|no such/i.test(errorMessage(err))) throw err;
    }
  }

  /** `runtime state`: undefined when the runtime does not know the container. */
  async state(h: RuntimeHandler, id: string): Promise<{ status: string; pid: number } | undefined> {
    const r = await run(h.path, this.rt(h, ['state', id]), { timeoutMs: 30_000 });
    if (r.timedOut) throw new RuntimeError(`${h.name} state ${id}: timed out`);
    if (r.code !== 0) return undefined;
    const s = JSON.parse(r.stdout.toString()) as { status: string; pid: number };
    return { status: s.status, pid: s.pid };
  }

  /** `runtime list`: every container in the handler's root (empty when the root does not exist yet). */
  async list(h: RuntimeHandler): Promise<RuntimeContainer[]> {
    const r = await this.call(h, ['list', '--format', 'json'], { timeoutMs: 30_000 });
    const rows = (JSON.parse(r.stdout.toString() || 'null') ?? []) as { id: string; status: string; pid: number; bundle: string }[];
    return rows.map((c) => ({ id: c.id, status: c.status, pid: c.pid, bundle: c.bundle }));
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

  /** The runtime argv of an exec whose process spec is in `procFile`. */
  execArgv(h: RuntimeHandler, id: string, files: { procFile: string; pidFile?: string }): string[] {
    return [h.path, ...this.rt(h, ['exec', '--process', files.procFile, ...(files.pidFile ? ['--pid-file', files.pidFile] : []), id])];
  }

  /**
   * `runtime exec --detach --process` under native/execwait, our own child (no conmon round
   * trip): the process writes straight into our pipes and execwait exits with its status as soon
   * as it exits, even when a process it left in the background keeps stdout/stderr open (then
   * the pipes are drained for EXEC_DRAIN_MS at most). At the timeout, or when the caller gives
   * up, execwait kills the exec'd process, also one the runtime is still starting (stopExecWait).
   */
  async execSync(h: RuntimeHandler, id: string, bundle: string, proc: OciProcess, timeoutMs: number, signal?: AbortSignal): Promise<ExecResult> {
    signal?.throwIfAborted();
    const files = await writeExecProcess(bundle, proc);
    try {
      const argv = [h.path, ...this.rt(h, ['exec', '--detach', '--process', files.procFile, '--pid-file', files.pidFile, id])];
      // stdout and stderr share one budget under the gRPC message limit (the rest is dropped, and said so).
      const output = new OutputCap();
      const r = await run(EXECWAIT_PATH, [files.pidFile, ...argv], {
        timeoutMs: timeoutMs > 0 ? timeoutMs : undefined, signal, drainMs: EXEC_DRAIN_MS,
        sink: (stream, b) => output.add(stream, b),
        kill: stopExecWait,
      });
      if (r.timedOut) throw new DeadlineExceededError(`exec in container "${id}" timed out after ${timeoutMs / 1000} s; the process was killed`);
      signal?.throwIfAborted();
      const { stdout, stderr, truncated } = output.result();
      return { code: r.code, stdout, stderr, truncated: truncated || r.truncated };
    } finally {
      await files.cleanup();
    }
  }

  /** Streaming exec: the runtime as our child with the given stdio; the caller wires the streams. */
  async execSpawn(h: RuntimeHandler, id: string, bundle: string, proc: OciProcess): Promise<{ child: ChildProcess; cleanup(): Promise<void>; pidFile: string }> {
    const files = await writeExecProcess(bundle, proc);
    const [cmd, ...args] = this.execArgv(h, id, files);
    const child = spawnChild(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return { child, pidFile: files.pidFile, cleanup: files.cleanup };
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

/**
 * Ends an ExecSync: SIGTERM tells execwait to kill the exec'd process as soon as the runtime has
 * started it (the pid file may still be empty at the timeout), reap it and exit. execwait is
 * killed only if the runtime hangs for good, which may leave the process behind.
 */
function stopExecWait(execwait: ChildProcess, graceMs = EXEC_STOP_GRACE_MS): void {
  if (execwait.exitCode !== null || execwait.signalCode !== null) return;
  execwait.kill('SIGTERM');
  const t = setTimeout(() => execwait.kill('SIGKILL'), graceMs);
  execwait.once('exit', () => clearTimeout(t));
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
