// Runs a command as a child of the daemon with the session's stdio: pipes, or a pseudo-terminal
// when the session has a TTY. A building block for exec backends (the command may be `runc exec`
// or `nsenter …`); tests use it directly to exec on the host.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { shellExitCode } from '../process/run.js';
import { openPty } from './pty.js';
import type { ExecProcess, StdioStreams } from './types.js';

/** After the process exits, how long its terminal may still drain output. */
const PTY_DRAIN_MS = 2000;

function pipeInto(src: Readable, dst: Writable | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!dst) {
      src.resume();
      src.once('end', resolve).once('error', () => resolve()).once('close', resolve);
      return;
    }
    src.pipe(dst, { end: false });
    src.once('end', resolve).once('error', () => resolve()).once('close', resolve);
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL'); // its own process group: children of the command go too
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function spawnStdio(argv: string[], io: StdioStreams, env?: NodeJS.ProcessEnv): ExecProcess {
  if (!argv.length) throw new Error('spawnStdio: empty command');
  return io.tty ? spawnTty(argv, io, env) : spawnPipes(argv, io, env);
}

function spawnPipes(argv: string[], io: StdioStreams, env?: NodeJS.ProcessEnv): ExecProcess {
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: [io.stdin ? 'pipe' : 'ignore', io.stdout ? 'pipe' : 'ignore', io.stderr ? 'pipe' : 'ignore'],
    detached: true,
    env,
  });
  if (io.stdin && child.stdin) {
    child.stdin.on('error', () => {}); // EPIPE when the process ignores its input
    io.stdin.pipe(child.stdin);
  }
  const outputs = [
    child.stdout ? pipeInto(child.stdout, io.stdout) : Promise.resolve(),
    child.stderr ? pipeInto(child.stderr, io.stderr) : Promise.resolve(),
  ];
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(shellExitCode(code, signal)));
  }).then(async (code) => {
    await Promise.all(outputs);
    io.stdin?.unpipe();
    return code;
  });
  return { exited, kill: () => killGroup(child.pid) };
}

function spawnTty(argv: string[], io: StdioStreams, env?: NodeJS.ProcessEnv): ExecProcess {
  // 80x24 until the client's first resize; TTY exec backends give the container the same size.
  const pty = openPty({ width: 80, height: 24 });
  let child;
  try {
    // setsid -c: a new session whose controlling terminal is the pty, as a login shell expects.
    child = spawn('setsid', ['-c', ...argv], { stdio: [pty.slaveFd, pty.slaveFd, pty.slaveFd], env });
  } finally {
    pty.closeSlave();
  }
  const { master } = pty;
  if (io.stdin) io.stdin.pipe(master, { end: false });
  // The terminal has one output: stdout. EOF on stdin is ^D, as a terminal would send it.
  io.stdin?.once('end', () => master.writable && master.write('\x04'));
  const output = pipeInto(master, io.stdout);
  void (async () => {
    if (!io.resize) return;
    for await (const size of io.resize) pty.resize(size);
  })().catch(() => {});
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(shellExitCode(code, signal)));
  }).then(async (code) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([output, new Promise((r) => (timer = setTimeout(r, PTY_DRAIN_MS)))]);
    clearTimeout(timer);
    io.stdin?.unpipe();
    master.destroy();
    return code;
  });
  return { exited, kill: () => killGroup(child.pid) };
}
