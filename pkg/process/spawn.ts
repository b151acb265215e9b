// The one place that starts a child process for berth: posix_spawn (see posix-spawn.ts) when
// koffi and glibc offer it, node's child_process.spawn otherwise (or with BERTH_SPAWN=node).
// Either way the caller gets a ChildProcess with the same events: 'spawn', 'error' (ENOENT,
// EACCES…), 'exit' (code, signal), then 'close' once the child's output pipes are closed too.
import { spawn, ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, closeSync, constants as fsc, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { cloexecPipe, errnoError, posixSpawn, posixSpawnLibc, reapOnExit, type ChildFd, type ExitStatus } from './posix-spawn.js';

export interface SpawnChildOptions {
  /** Per fd of the child: a pipe to us, or /dev/null (default: three pipes). */
  stdio?: ('pipe' | 'ignore')[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Which way children start: decided once, at the first spawn. */
let fast: ReturnType<typeof posixSpawnLibc> | undefined;

const fastSpawn = () => (fast ??= process.env.BERTH_SPAWN === 'node' ? null : posixSpawnLibc());

export function spawnChild(cmd: string, args: string[], opts: SpawnChildOptions = {}): ChildProcess {
  const c = fastSpawn();
  const stdio = opts.stdio ?? ['pipe', 'pipe', 'pipe'];
  if (!c) return spawn(cmd, args, { stdio, env: opts.env, cwd: opts.cwd });
  return new PosixChild(c, cmd, args, stdio, opts.env ?? process.env, opts.cwd);
}

/** 'posix_spawn' or 'fork' (node's spawn): what spawnChild uses (benchmarks print it). */
export function spawnMethod(): 'posix_spawn' | 'fork' {
  return fastSpawn() ? 'posix_spawn' : 'fork';
}

type Libc = NonNullable<ReturnType<typeof posixSpawnLibc>>;

// ChildProcess's prototype without its constructor: that one makes a native process handle for
// node's own spawn, which is never freed unless node spawns and closes it (a leak per child).
const BareChildProcess = function (this: EventEmitter) {
  EventEmitter.call(this);
} as unknown as typeof ChildProcess;
BareChildProcess.prototype = ChildProcess.prototype;

/** A child started by posix_spawn, dressed as node's ChildProcess (same fields, events and kill). */
class PosixChild extends BareChildProcess {
  private closesNeeded = 1;
  private closesGot = 0;

  constructor(c: Libc, cmd: string, args: string[], stdio: ('pipe' | 'ignore')[], env: NodeJS.ProcessEnv, cwd?: string) {
    super();
    Object.assign(this, { _handle: null, connected: false, exitCode: null, signalCode: null, killed: false, pid: undefined });
    const file = resolveCommand(cmd, env);
    const { childFds, streams, ours } = openPipes(c, stdio);
    const pid = typeof file === 'number' ? -file : posixSpawn(c, file, [cmd, ...args], envStrings(env), childFds, cwd);
    for (const fd of childFds) if (typeof fd === 'number') closeSync(fd);
    Object.assign(this, { spawnfile: cmd, spawnargs: [cmd, ...args] });
    if (pid < 0) {
      for (const fd of ours) closeSync(fd);
      this.setStdio(stdio.map((m, i) => (m === 'pipe' ? new net.Socket({ readable: i > 0, writable: i === 0 }) : null)));
      process.nextTick(() => this.failed(errnoError(-pid, `spawn ${cmd}`, cmd), args));
      return;
    }
    Object.assign(this, { pid });
    this.setStdio(streams());
    for (const s of this.stdio.slice(1)) if (s) this.countClose(s as net.Socket);
    reapOnExit(c, pid, (st) => this.exited(st));
    process.nextTick(() => this.emit('spawn'));
  }

  override kill(sig: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.pid === undefined || this.exitCode !== null || this.signalCode !== null) return false;
    try {
      process.kill(this.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw e;
    }
    Object.assign(this, { killed: true });
    return true;
  }

  private setStdio(s: (net.Socket | null)[]): void {
    Object.assign(this, { stdio: s, stdin: s[0] ?? null, stdout: s[1] ?? null, stderr: s[2] ?? null });
  }

  private countClose(s: net.Socket): void {
    this.closesNeeded++;
    s.once('close', () => this.maybeClose());
  }

  private maybeClose(): void {
    if (++this.closesGot === this.closesNeeded) this.emit('close', this.exitCode, this.signalCode);
  }

  private exited(st: ExitStatus): void {
    Object.assign(this, st.signal ? { signalCode: st.signal } : { exitCode: st.code });
    this.stdin?.destroy();
    this.emit('exit', this.exitCode, this.signalCode);
    // As node does: streams no one reads are drained so that 'close' comes; on the next tick,
    // so that a caller may still start reading once it saw the exit.
    process.nextTick(() => {
      for (const s of this.stdio) if (s instanceof net.Socket && s.readable) s.resume();
    });
    this.maybeClose();
  }

  private failed(err: NodeJS.ErrnoException, args: string[]): void {
    Object.assign(this, { exitCode: err.errno });
    this.stdin?.destroy();
    this.emit('error', Object.assign(err, { spawnargs: args }));
    this.maybeClose();
  }
}

/** The child's fd per stdio entry, our ends (closed on failure) and, once spawned, our ends as sockets. */
function openPipes(c: Libc, stdio: ('pipe' | 'ignore')[]): { childFds: ChildFd[]; ours: number[]; streams: () => (net.Socket | null)[] } {
  const childFds: ChildFd[] = [];
  const ours: (number | null)[] = [];
  try {
    for (let i = 0; i < stdio.length; i++) {
      if (stdio[i] === 'ignore') {
        childFds.push('null');
        ours.push(null);
        continue;
      }
      const [r, w] = cloexecPipe(c, stdio.length);
      childFds.push(i === 0 ? r : w);
      ours.push(i === 0 ? w : r);
    }
  } catch (e) {
    for (const fd of [...childFds, ...ours]) if (typeof fd === 'number') closeSync(fd);
    throw e;
  }
  const streams = () => ours.map((fd, i) => (fd === null ? null : new net.Socket({ fd, readable: i > 0, writable: i === 0 })));
  return { childFds, ours: ours.filter((fd): fd is number => fd !== null), streams };
}

function envStrings(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const k in env) if (env[k] !== undefined) out.push(`${k}=${env[k]}`);
  return out;
}

/**
 * `cmd` as a path, searched in the child's PATH when it has no slash (as node's spawn does); or
 * the errno of the failure (ENOENT, or EACCES when only non-executable files matched).
 */
export function resolveCommand(cmd: string, env: NodeJS.ProcessEnv): string | number {
  if (cmd.includes('/')) return cmd;
  let err = 2; // ENOENT
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      accessSync(p, fsc.X_OK);
      if (statSync(p).isFile()) return p;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') err = 13;
    }
  }
  return err;
}
