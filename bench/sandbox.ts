// Pod sandbox latency: RunPodSandbox, StopPodSandbox and RemovePodSandbox over N pods (default 50)
// on a bridge + host-local + portmap + loopback network, one call at a time, plus the same for
// host-network pods (no CNI) and POD-pid pods (pause under runc). Bridge berth-sb5, 10.201.5.0/24.
// Run alone: node dist/bench/sandbox.js [pods]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from '../e2e/harness.js';
import { daemonToml, podConfig, sh, writeNet } from '../e2e/sandbox-fixtures.js';
import type { NamespaceMode } from '../pkg/cri/gen/runtime/v1/NamespaceMode.js';
import { runAsMain, summarize, timeMs } from './summary.js';

const BRIDGE = 'berth-sb5';

export async function benchSandbox(pods = 50): Promise<Record<string, unknown>> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sb-bench-'));
  await writeNet(path.join(tmp, 'net.d'), '10-sbb.conflist', { bridge: BRIDGE, subnet: '10.201.5.0/24', dataDir: path.join(tmp, 'ipam') });
  const d = await startDaemon({ logLevel: 'info', toml: daemonToml(path.join(tmp, 'net.d')) }).catch(async (err: unknown) => {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  });
  const out: Record<string, unknown> = { pods };
  try {
    const series = async (label: string, network: NamespaceMode, pid: NamespaceMode, n: number) => {
      const cfg = (i: number) =>
        podConfig(`${label.replaceAll('_', '-')}-${i < 0 ? 'warm' : i}`, { linux: { security_context: { namespace_options: { network, pid, ipc: 'POD' } } } });
      // Warm-up: first plugin execs and the bridge creation are not what a node sees in steady state.
      const w = (await d.client.runtime('RunPodSandbox', { config: cfg(-1) })).pod_sandbox_id;
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: w });
      const ids: string[] = [];
      const run: number[] = [];
      const stop: number[] = [];
      const remove: number[] = [];
      for (let i = 0; i < n; i++) run.push(await timeMs(async () => ids.push((await d.client.runtime('RunPodSandbox', { config: cfg(i) })).pod_sandbox_id)));
      for (const id of ids) stop.push(await timeMs(() => d.client.runtime('StopPodSandbox', { pod_sandbox_id: id })));
      for (const id of ids) remove.push(await timeMs(() => d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id })));
      out[label] = { RunPodSandbox: summarize(run), StopPodSandbox: summarize(stop), RemovePodSandbox: summarize(remove) };
    };
    await series('pod_network', 'POD', 'CONTAINER', pods);
    await series('host_network', 'NODE', 'CONTAINER', pods);
    await series('pod_network_shared_pid', 'POD', 'POD', Math.min(pods, 20));
    out.containerd = 'not installed on this machine; see conformance/BASELINE.md (RunPodSandbox p50 84 ms, CRI-O 139 ms)';
    return out;
  } finally {
    for (const s of (await d.client.runtime('ListPodSandbox', {}).catch(() => ({ items: [] }))).items) {
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
    }
    await d.stop();
    await d.cleanup();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

runAsMain(import.meta.url, 'sandbox', (a) => benchSandbox(Number(a[0] ?? 50)));
