// Starts a real berth daemon on private paths for an e2e test and stops it afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CriClient } from '../pkg/client/cri.js';
import { PROJECT_ROOT } from '../pkg/version/version.js';

export const BERTH_BIN = path.join(PROJECT_ROOT, 'bin/berth');

export interface DaemonOptions {
  /** Extra TOML appended to the generated config file. */
  toml?: string;
  /** Reuse these paths (for restart tests); a new temporary tree otherwise. */
  dir?: string;
  metrics?: boolean;
  logLevel?: string;
  /** Serve the dashboard on this host:port (e.g. 127.0.0.1:0), with a token if given; off by default. */
  dashboard?: { listen: string; token?: string };
}

export interface TestDaemon {
  dir: string;
  socket: string;
  root: string;
  state: string;
  configFile: string;
  metricsAddress: string | undefined;
  /** host:port the dashboard listens on, when it was asked for. */
  dashboardAddress: string | undefined;
  proc: ChildProcess;
  client: CriClient;
  /** Everything the daemon wrote to stderr so far. */
  logs(): string;
  /** SIGTERM, wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash would; returns once the process is gone. */
  kill(): Promise<void>;
  /** Removes the temporary tree (call after stop or kill). */
  cleanup(): Promise<void>;
}

export function waitExit(proc: ChildProcess, timeoutMs = 20_000): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`process ${proc.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<TestDaemon> {
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'berth-e2e-')));
  const socket = path.join(dir, 'berth.sock');
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  const configFile = path.join(dir, 'berth.toml');
  // Off unless asked for: test daemons must not compete for the default port.
  const dash = opts.dashboard;
  const dashToml = `\n[dashboard]\nlisten = "${dash?.listen ?? ''}"\ntoken = "${dash?.token ?? ''}"\n`;
  if (!opts.dir || !existsSync(configFile)) await writeFile(configFile, `# e2e test config\n${opts.toml ?? ''}\n${dashToml}`);
  const args = [
    BERTH_BIN, 'daemon', '--config', configFile, '--listen', `unix://${socket}`, '--root', root, '--state', state,
    '--log-level', opts.logLevel ?? 'debug', '--metrics-listen', opts.metrics ? '127.0.0.1:0' : '',
  ];
  // The daemon runs in its own temporary directory, so a stray file written relative to its
  // working directory (or that of a child it starts) shows up there instead of in the checkout.
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  let metricsAddress: string | undefined;
  let dashboardAddress: string | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const m = /"address":"([^"]+)","msg":"metrics listening"/.exec(stderr);
      if (m) metricsAddress = m[1];
      const dm = /"address":"([^"]+)","token":(?:true|false),"msg":"dashboard listening"/.exec(stderr);
      if (dm) dashboardAddress = dm[1];
      if (stderr.includes('"msg":"berth ready"')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`berth exited with ${code} before it was ready:\n${stderr}`)));
  });
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`berth not ready within 20 s:\n${stderr}`)), 20_000).unref(),
  );
  try {
    await Promise.race([ready, timer]);
  } catch (err) {
    // Never leave a half-started daemon behind: it would hold the socket and its mounts.
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await waitExit(proc).catch(() => undefined);
    }
    throw err;
  }
  const client = new CriClient(socket);
  const d: TestDaemon = {
    dir, socket, root, state, configFile, metricsAddress, dashboardAddress, proc, client,
    logs: () => stderr,
    async stop() {
      client.close();
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return waitExit(proc);
    },
    async kill() {
      client.close();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await waitExit(proc);
      }
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  return d;
}
