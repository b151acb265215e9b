// Shared by the streaming e2e tests: a daemon with a private CNI network (bridge berth-st0,
// 10.203.0.0/16, host-local state in the test dir), cgroup parent /berth-test-st, and — for
// tests that run containers — a registry on 127.0.0.1:29000–29099 holding the busybox fixture.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';
import { buildBusyboxImage } from './fixtures/busybox.js';
import { pushImage } from './fixtures/oci.js';
import { startRegistry, type TestRegistry } from './fixtures/registry.js';
import { startDaemon, type TestDaemon } from './harness.js';
import { sh, writeNet } from './sandbox-fixtures.js';

export const BRIDGE = 'berth-st0';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port in [lo, hi), from a random start so parallel runs rarely collide. */
export async function freePortIn(lo: number, hi: number): Promise<number> {
  const span = hi - lo;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const p = lo + ((start + i) % span);
    if (await portFree(p)) return p;
  }
  throw new Error(`no free port in ${lo}-${hi}`);
}

export interface StEnv {
  d: TestDaemon;
  tmp: string;
  reg?: TestRegistry;
  /** busybox image, pulled (when started with images). */
  image: string;
  /** Processes the test started (echo servers); killed by close(). */
  procs: ChildProcess[];
  runPod(name: string, hostNetwork?: boolean): Promise<string>;
  /** Creates and starts a busybox container in the pod; returns its id. */
  runContainer(pod: string, name: string, cfg: Partial<ContainerConfig>): Promise<string>;
  close(): Promise<void>;
}

let seq = 0;
export const CGROUP_ROOT = '/berth-test-st';
export function podConfig(name: string, hostNetwork = false, logRoot = '/tmp'): PodSandboxConfig {
  seq++;
  return {
    metadata: { name, namespace: 'berth-st-test', uid: `uid-${name}-${process.pid}-${seq}`, attempt: 0 },
    hostname: name,
    log_directory: path.join(logRoot, 'logs', `${name}-${seq}`),
    linux: {
      cgroup_parent: `${CGROUP_ROOT}/pod-${process.pid}-${seq}`,
      security_context: { namespace_options: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    },
  };
}

/** Removes the (empty) test cgroups under every v1 controller, deepest first. */
async function removeCgroups(): Promise<void> {
  const rmTree = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await rmTree(path.join(dir, e.name));
    await rmdir(dir).catch(() => {});
  };
  for (const c of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) await rmTree(path.join('/sys/fs/cgroup', c, CGROUP_ROOT));
}

export async function startStEnv(o: { images?: boolean } = {}): Promise<StEnv> {
  const tmp = await mkdtemp('/tmp/berth-st-e2e-');
  const confDir = path.join(tmp, 'net.d');
  await writeNet(confDir, '10-st.conflist', { bridge: BRIDGE, subnet: '10.203.0.0/16', dataDir: path.join(tmp, 'ipam'), portmap: false });
  let reg: TestRegistry | undefined;
  let image = '';
  let toml = `[cni]\nconf_dir = "${confDir}"\nbin_dirs = ["/usr/lib/cni"]\n[runtime]\ncgroup_parent = "/berth-test-st/default"\n`;
  if (o.images) {
    reg = await startRegistry({ port: await freePortIn(29000, 29100) });
    image = `${reg.host}/st/busybox:1`;
    await pushImage(reg.host, 'st/busybox', '1', buildBusyboxImage());
    toml += `[registry]\ninsecure = ["${reg.host}"]\n`;
  }
  const d = await startDaemon({ toml, logLevel: 'info' });
  if (o.images) await d.client.image('PullImage', { image: { image } });
  const pods = new Map<string, PodSandboxConfig>();
  const env: StEnv = {
    d, tmp, reg, image, procs: [],
    async runPod(name, hostNetwork = false) {
      const config = podConfig(name, hostNetwork, tmp);
      const r = await d.client.runtime('RunPodSandbox', { config });
      pods.set(r.pod_sandbox_id, config);
      return r.pod_sandbox_id;
    },
    async runContainer(pod, name, cfg) {
      const config: ContainerConfig = { metadata: { name, attempt: 0 }, image: { image }, log_path: `${name}.log`, ...cfg };
      const r = await d.client.runtime('CreateContainer', { pod_sandbox_id: pod, config, sandbox_config: pods.get(pod) });
      await d.client.runtime('StartContainer', { container_id: r.container_id });
      return r.container_id;
    },
    async close() {
      for (const p of env.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await Promise.all(env.procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : null)));
      try {
        for (const s of (await d.client.runtime('ListPodSandbox', {})).items) {
          await d.client.runtime('StopPodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
          await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => {});
        }
      } catch {
        /* daemon already gone */
      }
      await d.kill();
      await d.cleanup();
      await reg?.stop();
      await rm(tmp, { recursive: true, force: true });
      await removeCgroups();
      // The bridge plugin never deletes its bridge; the test made it, the test removes it.
      await sh('ip', ['link', 'del', BRIDGE]).catch(() => {});
    },
  };
  return env;
}

// An echo server: what a connection sends comes back; the write side ends with the read side.
const ECHO = `require('net').createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(+process.argv[1], process.argv[2], () => console.log('up'));`;

/** Starts an echo server on 127.0.0.1:port, inside a network namespace file when given. */
export function startEcho(env: StEnv, port: number, netnsPath?: string): Promise<void> {
  const argv = [process.execPath, '-e', ECHO, String(port), '127.0.0.1'];
  const p = netnsPath ? spawn('nsenter', [`--net=${netnsPath}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  env.procs.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (c) => reject(new Error(`echo server exited ${c}`)));
  });
}
