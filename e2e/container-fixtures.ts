// Shared by the container e2e tests: a daemon with a private CNI network (bridge berth-ct0,
// 10.202.0.0/16, host-local state in the test dir), cgroup parent /berth-test-ct, a registry on
// 127.0.0.1:5200–5299 holding the busybox fixture, and helpers to run pods and containers.
import { readFile, rm, stat } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';
import { buildBusyboxImage, BUSYBOX_ENV } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { scaled, startDaemon, subscribe, untilFile, type DaemonOptions, type TestDaemon } from './harness.js';
import { sh, writeNet } from './sandbox-fixtures.js';
import { containerCgroupDirs, removeTestCgroups, testParent } from './cgroup-fixtures.js';

export const BRIDGE = 'berth-ct0';
export const CGROUP_ROOT = '/berth-test-ct';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function myPort(): Promise<number> {
  const start = 5200 + Math.floor(Math.random() * 100);
  for (let i = 0; i < 100; i++) {
    const p = 5200 + ((start - 5200 + i) % 100);
    if (await portFree(p)) return p;
  }
  throw new Error('no free port in 5200-5299');
}

export interface CtEnv {
  d: TestDaemon;
  tmp: string;
  bridge: string;
  /** host-local's data directory of the env's network. */
  ipamDir: string;
  /** Cgroup parent of the env's pods. */
  cgroupRoot: string;
  reg: TestRegistry;
  /** busybox image reference (Cmd sh), pulled. */
  image: string;
  /** the same image with USER berthuser, pulled. */
  userImage: string;
  /** Starts a fresh daemon on the same paths (after d.kill()). */
  restart(): Promise<TestDaemon>;
  close(): Promise<void>;
}

let podSeq = 0;

/** Daemon options (the dashboard, log level, metrics…) on top of the network and registry config. */
export interface CtEnvOptions extends Omit<DaemonOptions, 'toml' | 'dir'> {
  /** A network and cgroup root of its own (default: berth-ct0, 10.202.0.0/16, /berth-test-ct). */
  net?: { bridge: string; subnet: string; cgroupRoot: string };
  /** Set up before the daemon starts, in the env's temporary directory: extra config and CNI plugins. */
  prepare?: (tmp: string) => Promise<{ runtimeToml?: string; imageToml?: string; binDirs?: string[]; extraPlugins?: Record<string, unknown>[] }>;
  /** A test's own config sections, appended. */
  extraToml?: string;
}

export async function startCtEnv(opts: CtEnvOptions = {}): Promise<CtEnv> {
  const { net: ownNet, prepare, extraToml, ...daemonOpts } = opts;
  const tmp = await mkdtemp('/tmp/berth-ct-');
  const extra = (await prepare?.(tmp)) ?? {};
  const net = ownNet ?? { bridge: BRIDGE, subnet: '10.202.0.0/16', cgroupRoot: CGROUP_ROOT };
  const confDir = path.join(tmp, 'net.d');
  const ipamDir = path.join(tmp, 'ipam');
  await writeNet(confDir, '10-ct.conflist', { bridge: net.bridge, subnet: net.subnet, dataDir: ipamDir, portmap: false, extraPlugins: extra.extraPlugins });
  const reg = await startRegistry({ port: await myPort() });
  const binDirs = JSON.stringify([...(extra.binDirs ?? []), '/usr/lib/cni']);
  const toml = `[cni]\nconf_dir = "${confDir}"\nbin_dirs = ${binDirs}\n[runtime]\ncgroup_parent = "${testParent(net.cgroupRoot, 'default')}"\n${extra.runtimeToml ?? ''}\n[registry]\ninsecure = ["${reg.host}"]\n${extra.imageToml ? `[image]\n${extra.imageToml}\n` : ''}${extraToml ?? ''}`;
  const image = `${reg.host}/ct/busybox:1`;
  const userImage = `${reg.host}/ct/busybox-user:1`;
  await pushImage(reg.host, 'ct/busybox', '1', buildBusyboxImage());
  await pushImage(reg.host, 'ct/busybox-user', '1', buildBusyboxImage({ config: { Env: BUSYBOX_ENV, Cmd: ['sh'], User: 'berthuser', WorkingDir: '/home/berthuser', StopSignal: 'SIGUSR1', Volumes: { '/var/data': {} } } }));
  const env: CtEnv = {
    d: await startDaemon({ toml, ...daemonOpts }),
    tmp, reg, image, userImage, bridge: net.bridge, ipamDir, cgroupRoot: net.cgroupRoot,
    async restart() {
      env.d = await startDaemon({ dir: env.d.dir, ...daemonOpts });
      return env.d;
    },
    async close() {
      try {
        for (const s of (await env.d.client.runtime('ListPodSandbox', {})).items) {
          await env.d.client.runtime('StopPodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
          await env.d.client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
        }
      } catch {
        /* daemon already gone */
      }
      // Every step runs even when one fails (a leaked mount makes the rm fail): the host keeps
      // as little as possible, and the error names each step that failed.
      const failed: string[] = [];
      const step = async (what: string, fn: () => Promise<unknown>) => fn().catch((err: Error) => void failed.push(`${what}: ${err.message}`));
      await step('kill daemon', () => env.d.kill());
      await step('remove daemon dir', () => env.d.cleanup());
      await step('stop registry', () => reg.stop());
      await step('remove test dir', () => rm(tmp, { recursive: true, force: true }));
      await step('remove cgroups', () => removeCgroups(net.cgroupRoot));
      await sh('ip', ['link', 'del', net.bridge]).catch(() => undefined);
      if (failed.length) throw new Error(`test env cleanup incomplete: ${failed.join('; ')}`);
    },
  };
  await env.d.client.image('PullImage', { image: { image } });
  await env.d.client.image('PullImage', { image: { image: userImage } });
  return env;
}

/** Removes the (empty) test cgroups under `root`, deepest first. */
export const removeCgroups = (root = CGROUP_ROOT): Promise<void> => removeTestCgroups(root);

/** Cgroup dirs that still exist for a container id (any hierarchy, either driver's name). */
export function cgroupDirsOf(id: string): Promise<string[]> {
  return containerCgroupDirs(CGROUP_ROOT, id);
}

export function podConfig(env: CtEnv, name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  podSeq++;
  return {
    metadata: { name, namespace: 'berth-ct-test', uid: `uid-${name}-${process.pid}-${podSeq}`, attempt: 0 },
    hostname: name,
    log_directory: path.join(env.tmp, 'logs', `${name}-${podSeq}`),
    labels: { app: 'berth-ct' },
    linux: {
      cgroup_parent: testParent(env.cgroupRoot, `pod-${process.pid}-${podSeq}`),
      security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    },
    ...extra,
  };
}

export async function runPod(env: CtEnv, name: string, extra: Partial<PodSandboxConfig> = {}, handler = ''): Promise<{ id: string; config: PodSandboxConfig }> {
  const config = podConfig(env, name, extra);
  const r = await env.d.client.runtime('RunPodSandbox', { config, runtime_handler: handler });
  return { id: r.pod_sandbox_id, config };
}

export function ctrConfig(env: CtEnv, name: string, extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: env.image },
    log_path: `${name}.log`,
    labels: { ctr: name },
    ...extra,
  };
}

/** Creates and starts a container; returns its id. */
export async function runCtr(env: CtEnv, pod: { id: string; config: PodSandboxConfig }, cfg: ContainerConfig, start = true): Promise<string> {
  const r = await env.d.client.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: cfg, sandbox_config: pod.config });
  if (start) await env.d.client.runtime('StartContainer', { container_id: r.container_id });
  return r.container_id;
}

export async function status(env: CtEnv, id: string) {
  return (await env.d.client.runtime('ContainerStatus', { container_id: id })).status!;
}

/** Waits for the container's exit (its CONTAINER_STOPPED event, or a status that already says so); returns its status. */
export async function waitExited(env: { d: TestDaemon }, id: string, timeoutMs = scaled(15_000)) {
  const stream = await subscribe(env.d);
  try {
    const stopped = new Promise<void>((resolve) => {
      stream.on('data', (e: { container_id: string; container_event_type: string }) => {
        if (e.container_id === id && e.container_event_type === 'CONTAINER_STOPPED_EVENT') resolve();
      });
    });
    const now = (await env.d.client.runtime('ContainerStatus', { container_id: id })).status!;
    if (now.state === 'CONTAINER_EXITED') return now;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return (await env.d.client.runtime('ContainerStatus', { container_id: id })).status!;
  } finally {
    stream.cancel();
  }
}

export async function execText(env: CtEnv, id: string, cmd: string[], timeout = scaled(10_000) / 1000) {
  const r = await env.d.client.runtime('ExecSync', { container_id: id, cmd, timeout });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), code: r.exit_code };
}

/** The file's text once it holds a line matching re (inotify; bounded). */
export async function waitForLog(file: string, re: RegExp, timeoutMs = scaled(10_000)): Promise<string> {
  return untilFile(file, re, timeoutMs).catch(() => readFile(file, 'utf8').catch(() => ''));
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}
