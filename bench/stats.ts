// Stats latency: ListContainerStats and ListPodSandboxStats with N running pods (default 50),
// each with one `sleep` container when the container module is there. Bridge berth-sx1,
// 10.204.1.0/24. Run alone: node dist/bench/stats.js [pods] [calls]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GrpcStatus, type CriError } from '../pkg/client/cri.js';
import { startDaemon, type TestDaemon } from '../e2e/harness.js';
import { pushBusybox, startRegistry, type TestRegistry } from '../e2e/fixtures/registry.js';
import { daemonToml, podConfig, sh, writeNet } from '../e2e/sandbox-fixtures.js';
import { runAsMain, summarize, timeMs } from './summary.js';

const BRIDGE = 'berth-sx1';

async function containersAvailable(d: TestDaemon): Promise<boolean> {
  try {
    await d.client.runtime('ContainerStatus', { container_id: 'probe' });
    return true;
  } catch (err) {
    return (err as CriError).code !== GrpcStatus.UNIMPLEMENTED;
  }
}

export async function benchStats(pods = 50, calls = 200): Promise<Record<string, unknown>> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-sx-bench-'));
  await writeNet(path.join(tmp, 'net.d'), '10-sxb.conflist', { bridge: BRIDGE, subnet: '10.204.1.0/24', dataDir: path.join(tmp, 'ipam'), portmap: false });
  const d = await startDaemon({ logLevel: 'info', toml: daemonToml(path.join(tmp, 'net.d')) });
  let reg: TestRegistry | undefined;
  const ids: string[] = [];
  try {
    const withContainers = await containersAvailable(d);
    let image = '';
    if (withContainers) {
      reg = await startRegistry();
      await pushBusybox(reg.host, 'bench/busybox', 'stats');
      image = `${reg.host}/bench/busybox:stats`;
      await d.client.image('PullImage', { image: { image } });
    }
    for (let i = 0; i < pods; i++) {
      const cfg = podConfig(`sxb-${i}`, { log_directory: path.join(tmp, 'logs', String(i)) });
      const id = (await d.client.runtime('RunPodSandbox', { config: cfg })).pod_sandbox_id;
      ids.push(id);
      if (withContainers) {
        const c = await d.client.runtime('CreateContainer', {
          pod_sandbox_id: id, sandbox_config: cfg,
          config: { metadata: { name: 'sleeper' }, image: { image }, command: ['sleep', '3600'], log_path: 'sleeper.log' },
        });
        await d.client.runtime('StartContainer', { container_id: c.container_id });
      }
    }
    for (let i = 0; i < 20; i++) {
      await d.client.runtime('ListContainerStats', {});
      await d.client.runtime('ListPodSandboxStats', {});
    }
    const ctr: number[] = [];
    const pod: number[] = [];
    let nCtr = 0;
    let nPod = 0;
    for (let i = 0; i < calls; i++) {
      ctr.push(await timeMs(async () => (nCtr = (await d.client.runtime('ListContainerStats', {})).stats.length)));
      pod.push(await timeMs(async () => (nPod = (await d.client.runtime('ListPodSandboxStats', {})).stats.length)));
    }
    return {
      pods, containers_per_pod: withContainers ? 1 : 0, calls,
      containers_listed: nCtr, pods_listed: nPod,
      list_container_stats: summarize(ctr),
      list_pod_sandbox_stats: summarize(pod),
      containerd: 'not installed on this machine',
    };
  } finally {
    for (const id of ids) {
      await d.client.runtime('StopPodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
      await d.client.runtime('RemovePodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
    }
    await d.stop();
    await d.cleanup();
    await reg?.stop();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

runAsMain(import.meta.url, 'stats', (a) => benchStats(Number(a[0] ?? 50), Number(a[1] ?? 200)));
