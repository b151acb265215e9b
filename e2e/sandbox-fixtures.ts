// Shared by the sandbox e2e tests: a private CNI network (bridge berth-sb*, 10.201.0.0/16 or
// 10.211.0.0/16, host-local state in the test dir), pod configs, and host-side leak counters.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PodSandboxConfig } from '../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';

export const sh = promisify(execFile);

export interface NetOptions {
  bridge: string;
  subnet: string;
  dataDir: string;
  name?: string;
  cniVersion?: string;
  portmap?: boolean;
  /** Plugins chained after the others (e.g. the failpoint plugin). */
  extraPlugins?: Record<string, unknown>[];
}

export function bridgeConflist(o: NetOptions): string {
  const plugins: Record<string, unknown>[] = [
    {
      type: 'bridge', bridge: o.bridge, isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], dataDir: o.dataDir, routes: [{ dst: '0.0.0.0/0' }] },
    },
  ];
  if (o.portmap !== false) plugins.push({ type: 'portmap', capabilities: { portMappings: true } });
  plugins.push({ type: 'loopback' }, ...(o.extraPlugins ?? []));
  return JSON.stringify({ cniVersion: o.cniVersion ?? '1.0.0', name: o.name ?? o.bridge, plugins }, null, 2);
}

export async function writeNet(confDir: string, file: string, o: NetOptions): Promise<void> {
  await mkdir(confDir, { recursive: true });
  await writeFile(path.join(confDir, file), bridgeConflist(o));
}

export function daemonToml(confDir: string): string {
  return `[cni]\nconf_dir = "${confDir}"\nbin_dirs = ["/usr/lib/cni"]\n`;
}

let seq = 0;
export function podConfig(name: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  seq++;
  return {
    metadata: { name, namespace: 'berth-sb-test', uid: `uid-${name}-${process.pid}-${seq}`, attempt: 0 },
    hostname: name,
    labels: { app: 'berth-sb', pod: name },
    annotations: { 'berth.test/seq': String(seq) },
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    ...extra,
  };
}

/** Things a sandbox leaves on the host; equal before and after a test means nothing leaked. */
export interface HostCounts {
  veths: number;
  mounts: number;
  pins: number;
  ipFiles: number;
  sandboxDirs: number;
  cniCache: number;
  iptablesRules: number;
}

async function count(dir: string, filter: (n: string) => boolean = () => true): Promise<number> {
  return (await readdir(dir).catch(() => [] as string[])).filter(filter).length;
}

/** Counts only what belongs to this test's bridge, daemon and network, so concurrent tests do not interfere. */
export async function hostCounts(d: { state: string; root: string }, dataDir: string, bridge: string): Promise<HostCounts> {
  const links = (await sh('ip', ['-o', 'link', 'show', 'master', bridge]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).length;
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = mountinfo.split('\n').filter((l) => l.includes(d.state)).length;
  let pins = 0;
  for (const k of ['net', 'ipc', 'uts']) pins += await count(path.join(d.state, 'ns', k));
  let ipFiles = 0;
  for (const net of await readdir(dataDir).catch(() => [] as string[])) {
    ipFiles += await count(path.join(dataDir, net), (n) => /^[0-9a-f.:]+$/.test(n) && n.includes('.'));
  }
  const rules = (await sh('iptables-save', ['-t', 'nat']).catch(() => ({ stdout: '' }))).stdout;
  return {
    veths: links,
    mounts,
    pins,
    ipFiles,
    sandboxDirs: await count(path.join(d.state, 'sandboxes'), (n) => /^[0-9a-f]{64}$/.test(n)),
    cniCache: await count(path.join(d.root, 'cni', 'results')),
    iptablesRules: rules.split('\n').filter((l) => l.startsWith('-A') && l.includes(`\\"${bridge}\\"`)).length,
  };
}

/** Runs a command inside the pod's network namespace. */
export function inNetns(netns: string, cmd: string[], timeout = 10_000) {
  return sh('nsenter', [`--net=${netns}`, '--', ...cmd], { timeout });
}
