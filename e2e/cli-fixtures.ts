// Runs the real bin/berth client against a test daemon: plainly (pipes), or under a
// pseudo-terminal made by python3's pty module, with a way to type and to resize the window.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { BERTH_BIN, startDaemon, type TestDaemon } from './harness.js';
import { sh, writeNet } from './sandbox-fixtures.js';

export interface CliEnv {
  d: TestDaemon;
  reg: TestRegistry;
  tmp: string;
  /** The busybox fixture in the registry (not pulled). */
  image: string;
  /** Environment for the client: pods of `berth run` log under tmp. */
  env: Record<string, string>;
  /** Removes every pod, stops the daemon and registry, removes tmp and the bridge. */
  close(): Promise<void>;
}

/** A daemon on a private CNI network (`bridge`, `subnet`, portmap) and a registry holding busybox as `REPO:1`. */
export async function startCliEnv(bridge: string, subnet: string, repo: string): Promise<CliEnv> {
  const tmp = await mkdtemp(`/tmp/${bridge}-`);
  const reg = await startRegistry();
  const confDir = path.join(tmp, 'net.d');
  await writeNet(confDir, `10-${bridge}.conflist`, { bridge, subnet, dataDir: path.join(tmp, 'ipam') });
  const d = await startDaemon({ toml: `[cni]\nconf_dir = "${confDir}"\nbin_dirs = ["/usr/lib/cni"]\n[registry]\ninsecure = ["${reg.host}"]\n` });
  await pushImage(reg.host, repo, '1', buildBusyboxImage());
  return {
    d, reg, tmp,
    image: `${reg.host}/${repo}:1`,
    env: { BERTH_POD_LOG_DIR: path.join(tmp, 'logs') },
    async close() {
      for (const s of (await d.client.runtime('ListPodSandbox', {}).catch(() => ({ items: [] }))).items) {
        await d.client.runtime('StopPodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
        await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
      }
      await d.kill();
      await d.cleanup();
      await reg.stop();
      await rm(tmp, { recursive: true, force: true });
      await sh('ip', ['link', 'del', bridge]).catch(() => undefined);
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `COMMAND --socket SOCKET ARGS…`: the flag goes first, since run/exec/debug take what follows the image as the command. */
export function withSocket(args: string[], socket: string): string[] {
  return [args[0]!, '--socket', socket, ...args.slice(1)];
}

/** `berth COMMAND --socket SOCKET ARGS…` with optional stdin; resolves when it exits. */
export function berth(socket: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BERTH_BIN, ...withSocket(args, socket)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input);
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs argv under a new pty of rows × cols; a line `\0resize R C\n` on stdin resizes it. */
const PTY_PY = `
import os, sys, select, struct, fcntl, termios
rows, cols = int(sys.argv[1]), int(sys.argv[2])
argv = sys.argv[3:]
def setsize(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
master, slave = os.openpty()
setsize(slave, rows, cols)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(master)
    os.execvp(argv[0], argv)
os.close(slave)
inputs = [master, 0]
pending = b''
while True:
    r, _, _ = select.select(inputs, [], [])
    if master in r:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        os.write(1, data)
    if 0 in r:
        data = os.read(0, 65536)
        if not data:
            inputs.remove(0)
            continue
        pending += data
        while pending:
            i = pending.find(b'\\0resize ')
            if i != 0:
                chunk = pending if i < 0 else pending[:i]
                os.write(master, chunk)
                pending = b'' if i < 0 else pending[i:]
                continue
            j = pending.find(b'\\n')
            if j < 0:
                break
            _, r2, c2 = pending[:j].decode().split(' ')
            setsize(master, int(r2), int(c2))
            pending = pending[j + 1:]
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

export interface PtySession {
  /** Everything the terminal showed so far. */
  output(): string;
  /** Types text into the terminal. */
  write(text: string): void;
  resize(rows: number, cols: number): void;
  /** Resolves when the output, escape sequences and \r removed, matches `re` (rejects after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

export interface PtyOptions {
  rows?: number;
  cols?: number;
  env?: Record<string, string>;
}

/** `berth COMMAND --socket SOCKET ARGS…` under a pseudo-terminal. */
export function berthPty(socket: string, args: string[], opts: PtyOptions = {}): PtySession {
  return ptySession([process.execPath, BERTH_BIN, ...withSocket(args, socket)], opts);
}

/** Any program (argv) under a pseudo-terminal of rows × cols, TERM=xterm. */
export function ptySession(argv: string[], opts: PtyOptions = {}): PtySession {
  const p = spawn('python3', ['-c', PTY_PY, String(opts.rows ?? 24), String(opts.cols ?? 80), ...argv], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TERM: 'xterm', ...opts.env },
  });
  let out = '';
  const waiters: (() => void)[] = [];
  p.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => p.once('close', (code) => {
    for (const w of waiters.splice(0)) w();
    resolve(code);
  }));
  return {
    output: () => out,
    write: (t) => void p.stdin.write(t),
    resize: (r, c) => void p.stdin.write(`\0resize ${r} ${c}\n`),
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`terminal never showed ${re}; it showed:\n${out}`)), ms);
        const check = () => {
          if (re.test(plain(out))) {
            clearTimeout(timer);
            resolve(out);
          } else if (p.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`berth exited (${p.exitCode}) before the terminal showed ${re}:\n${out}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    exited,
  };
}

/** Removes terminal escape sequences (CSI, keypad mode) and carriage returns, for matching what a person reads. */
export function plain(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[=>]/g, '').replace(/\r/g, '');
}
