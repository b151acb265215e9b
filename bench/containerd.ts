// A private containerd on temporary paths, for side-by-side benchmarks: image-only (`ctr`, no CRI
// plugin) for bench/pull.ts, or with its CRI plugin on a given CNI network and a local plain-HTTP
// registry for bench/compare.ts. Which binary: CONTAINERD_BIN, else `containerd` on PATH (e.g.
// Debian's package). Its own directory goes first on the child's PATH, so the shim beside it is used.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CriClient } from '../pkg/client/cri.js';
import { waitExit } from '../e2e/harness.js';

export const run = promisify(execFile);

export async function which(cmd: string): Promise<string | undefined> {
  try {
    return (await run('sh', ['-c', `command -v ${cmd}`])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The containerd binary to compare against, with `ctr` beside it, or undefined. */
export async function findContainerd(): Promise<{ bin: string; ctr: string; version: string } | undefined> {
  // An empty CONTAINERD_BIN measures berth alone.
  const bin = process.env.CONTAINERD_BIN ?? (await which('containerd'));
  if (!bin) return undefined;
  let out: string;
  try {
    out = (await run(bin, ['--version'])).stdout;
  } catch (err) {
    throw new Error(`containerd to compare against (CONTAINERD_BIN or PATH): ${bin} --version failed: ${(err as Error).message}; set CONTAINERD_BIN= (empty) to measure berth alone`);
  }
  const version = out.trim().split(/\s+/).slice(2, 3).join('') || 'unknown';
  return { bin, ctr: path.join(path.dirname(bin), 'ctr'), version };
}

export interface CriOptions {
  /** CNI conflist directory (plugins from /usr/lib/cni). */
  netDir: string;
  /** host:port of a plain-HTTP registry. */
  registry: string;
  /** Image run as each pod's sandbox container. */
  sandboxImage: string;
}

export interface PrivateContainerd {
  dir: string;
  socket: string;
  proc: ChildProcess;
  /** Runs ctr against this containerd, namespace "bench". */
  ctr(args: string[]): Promise<unknown>;
  /** A CRI client (when started with the CRI plugin). */
  client?: CriClient;
  /** Milliseconds from spawn to the first answered call. */
  startupMs: number;
  stop(): Promise<void>;
}

function config(dir: string, sock: string, cri?: CriOptions): string {
  const lines = ['version = 2', `root = "${dir}/root"`, `state = "${dir}/state"`, '[grpc]', `address = "${sock}"`];
  // NRI would claim the host-wide /var/run/nri socket.
  if (!cri) return ['disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.nri.v1.nri"]', ...lines].join('\n');
  const p = '[plugins."io.containerd.grpc.v1.cri"';
  // Root lacks CAP_SYS_RESOURCE here, so oom_score_adj is clamped as in the conformance harness.
  return ['disabled_plugins = ["io.containerd.nri.v1.nri"]', ...lines,
    '[plugins."io.containerd.internal.v1.opt"]', `path = "${dir}/opt"`,
    `${p}]`, `sandbox_image = "${cri.sandboxImage}"`, 'stream_server_address = "127.0.0.1"', 'stream_server_port = "0"',
    'enable_selinux = false', 'netns_mounts_under_state_dir = true', 'restrict_oom_score_adj = true',
    `${p}.containerd]`, 'snapshotter = "overlayfs"', 'default_runtime_name = "runc"',
    `${p}.containerd.runtimes.runc]`, 'runtime_type = "io.containerd.runc.v2"',
    `${p}.containerd.runtimes.runc.options]`, 'SystemdCgroup = false', `Root = "${dir}/state/runc"`,
    `${p}.cni]`, 'bin_dir = "/usr/lib/cni"', `conf_dir = "${cri.netDir}"`, 'max_conf_num = 1',
    `${p}.registry]`, `config_path = "${dir}/certs.d"`,
  ].join('\n');
}

async function writeHosts(dir: string, registry: string): Promise<void> {
  await mkdir(path.join(dir, 'certs.d', registry), { recursive: true });
  await writeFile(path.join(dir, 'certs.d', registry, 'hosts.toml'),
    `server = "http://${registry}"\n[host."http://${registry}"]\ncapabilities = ["pull", "resolve"]\n`);
}

/** PIDs of processes whose command line contains `mark` (containerd's shims carry its socket path). */
export async function pidsWithCmdline(mark: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(mark)) out.push(Number(e));
  }
  return out;
}

async function removeAllPods(client: CriClient): Promise<void> {
  for (const s of (await client.runtime('ListPodSandbox', {}).catch(() => ({ items: [] }))).items) {
    await client.runtime('StopPodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
    await client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
  }
}

function accepts(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(sock, () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startContainerd(bin: string, ctr: string, cri?: CriOptions): Promise<PrivateContainerd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-ctd-'));
  const sock = path.join(dir, 'ctd.sock');
  await writeFile(path.join(dir, 'config.toml'), config(dir, sock, cri));
  if (cri) await writeHosts(dir, cri.registry);
  const env = { ...process.env, PATH: `${path.dirname(bin)}:${process.env.PATH ?? ''}` };
  const t0 = process.hrtime.bigint();
  const proc = spawn(bin, ['--config', path.join(dir, 'config.toml')], { stdio: 'ignore', env });
  let client: CriClient | undefined;
  const stop = async () => {
    if (client) await removeAllPods(client);
    client?.close();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await waitExit(proc);
    }
    // Shims outlive containerd; with every pod removed they are idle, so they go by PID.
    for (const pid of await pidsWithCmdline(sock)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    // Be sure nothing under dir stays mounted.
    const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir));
    for (const m of mounts.reverse()) await run('umount', ['-l', m]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // A gRPC channel backs off for a second after a refused connect: wait for the socket first.
    let up = false;
    for (let i = 0; i < 4000 && !up && proc.exitCode === null; i++) {
      up = await accepts(sock);
      if (!up) await new Promise((r) => setTimeout(r, 5));
    }
    if (!up) throw new Error('private containerd did not come up');
    if (cri) {
      client = new CriClient(sock);
      await client.runtime('Version', {}, { timeoutMs: 10_000 });
    } else await run(ctr, ['--address', sock, 'version']);
  } catch (err) {
    await stop();
    throw err;
  }
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { dir, socket: sock, proc, client, startupMs, ctr: (args) => run(ctr, ['--address', sock, '-n', 'bench', ...args]), stop };
}
