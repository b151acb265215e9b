// Starts a real berth daemon on private paths for an e2e test and stops it afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CriClient } from '../pkg/client/cri.js';
import { PROJECT_ROOT } from '../pkg/version/version.js';
import { driverToml } from './cgroup-fixtures.js';
import { parseLauncher } from '../scripts/launcher.mjs';

export const BERTH_BIN = path.join(PROJECT_ROOT, 'bin/berth');

/** bin/berth's first line (`#!/usr/bin/env -S [NAME=VALUE…] node FLAGS`), split at `node`. */
const launcherLine = (): { env: string[]; flags: string[] } => parseLauncher(readFileSync(BERTH_BIN, 'utf8'));

/** The node flags bin/berth's first line gives, for spawning it with process.execPath. */
export function launcherNodeFlags(): string[] {
  // BERTH_DAEMON_NODE_FLAGS adds node flags for a benchmark's daemon (e.g. `--cpu-prof
  // --cpu-prof-dir=DIR`, which NODE_OPTIONS refuses).
  const extra = process.env.BERTH_DAEMON_NODE_FLAGS ?? '';
  return [...launcherLine().flags, ...extra.split(/\s+/)].filter(Boolean);
}

/** The environment bin/berth's first line sets (`env -S NAME=VALUE`) over this process's, as env(1) would. */
export function launcherEnv(): NodeJS.ProcessEnv {
  const set = launcherLine().env.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]);
  return { ...process.env, ...Object.fromEntries(set) };
}

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

/**
 * Slow machines stretch every bound the e2e tests wait with: BERTH_E2E_TIME_SCALE (the TCG test
 * VM sets it; a daemon start there takes tens of seconds). The bounds only catch hangs.
 */
export const TIME_SCALE = Math.max(1, Number(process.env.BERTH_E2E_TIME_SCALE) || 1);
export const scaled = (ms: number): number => ms * TIME_SCALE;

export function waitExit(proc: ChildProcess, timeoutMs = scaled(20_000)): Promise<number | null> {
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
  // The cgroup driver under test (the VM test runs every file under each), unless the test sets one.
  const driver = opts.toml?.includes('cgroup_driver') ? '' : driverToml();
  if (!opts.dir || !existsSync(configFile)) await writeFile(configFile, `# e2e test config\n${driver}${opts.toml ?? ''}\n${dashToml}`);
  const args = [
    ...launcherNodeFlags(), BERTH_BIN, 'daemon', '--config', configFile, '--listen', `unix://${socket}`, '--root', root, '--state', state,
    '--log-level', opts.logLevel ?? 'debug', '--metrics-listen', opts.metrics ? '127.0.0.1:0' : '',
  ];
  // The daemon runs in its own temporary directory, so a stray file written relative to its
  // working directory (or that of a child it starts) shows up there instead of in the checkout.
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, env: launcherEnv() });
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
    setTimeout(() => reject(new Error(`berth not ready within ${scaled(20)} s:\n${stderr}`)), scaled(20_000)).unref(),
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
  const client = new CriClient(socket, { timeoutMs: scaled(60_000) });
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

/**
 * The one polling helper of the e2e tests, for conditions nothing announces (a gauge on
 * /metrics, a server that starts listening): calls `probe` until `done` accepts its value,
 * every 10 ms at first and then less often, and throws naming `what` and the last value after
 * `timeoutMs`. Where an event exists, wait on it instead (untilOutput, untilFile, the
 * container event stream).
 */
export async function eventually<T>(what: string, probe: () => Promise<T> | T, done: (v: T) => boolean = (v) => Boolean(v), timeoutMs = scaled(15_000)): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(200, delay * 2)) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))})`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Resolves once `text()` matches `re` (or `re(text())` holds), checking each time `source` emits data (no polling). */
export function untilOutput(source: NodeJS.EventEmitter, text: () => string, re: RegExp | ((text: string) => boolean), timeoutMs = 10_000): Promise<void> {
  const matches = typeof re === 'function' ? re : (t: string) => re.test(t);
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!matches(text())) return;
      clearTimeout(t);
      source.off('data', check);
      resolve();
    };
    const t = setTimeout(() => {
      source.off('data', check);
      reject(new Error(`output did not match ${re} within ${timeoutMs} ms; got: ${JSON.stringify(text().slice(-500))}`));
    }, timeoutMs);
    source.on('data', check);
    check();
  });
}

/** Resolves with the file's text once it exists (and matches `re`): inotify on its directory, no polling. */
export function untilFile(file: string, re?: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let busy = false;
    let again = false;
    const w = watch(path.dirname(file), () => void check());
    const t = setTimeout(() => {
      w.close();
      reject(new Error(`${file}${re ? ` did not match ${re}` : ' did not appear'} within ${timeoutMs} ms`));
    }, timeoutMs);
    async function check(): Promise<void> {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      const text = await readFile(file, 'utf8').catch(() => undefined);
      busy = false;
      if (text !== undefined && (!re || re.test(text))) {
        clearTimeout(t);
        w.close();
        resolve(text);
      } else if (again) {
        again = false;
        void check();
      }
    }
    void check();
  });
}

/** A GetContainerEvents stream that is live (the daemon sent its headers): nothing done after it resolves is missed. */
export async function subscribe(d: TestDaemon): Promise<ReturnType<CriClient['events']>> {
  const stream = d.client.events();
  stream.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    stream.once('metadata', () => resolve());
    stream.once('error', reject);
  });
  return stream;
}
