// Streaming: exec round trip of `true` (Exec rpc + SPDY upgrade + streams + runc exec + exit
// status; median and p95 over N, default 100) and stdout throughput of `cat` of a 100 MB file in
// the container, over SPDY (spdy-transport client) and WebSocket v5 (ws client). Bridge berth-st0,
// 10.203.0.0/16, a registry on 127.0.0.1:29000–29099.
// Run alone: node dist/bench/streaming.js [n]; with CRICTL=/path/to/crictl, also crictl's throughput.
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { openStream, spdyExec, spdyUpgrade } from '../pkg/streaming/testing/clients.js';
import { startStEnv } from '../e2e/streaming-env.js';
import { runAsMain, summarize, timeMs } from './summary.js';

const SIZE = 100 * 1024 * 1024;

async function spdyCat(url: string): Promise<number> {
  const up = await spdyUpgrade(url, ['v4.channel.k8s.io']);
  const err = await openStream(up.conn, { streamtype: 'error' });
  err.end();
  const out = await openStream(up.conn, { streamtype: 'stdout' });
  let n = 0;
  await new Promise<void>((resolve) => {
    out.on('data', (c: Buffer) => (n += c.length));
    out.once('end', () => resolve());
  });
  up.socket!.destroy();
  return n;
}

function wsCat(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    let n = 0;
    ws.on('message', (d: Buffer) => {
      if (d[0] === 1) n += d.length - 1;
    });
    ws.once('close', () => resolve(n));
    ws.once('error', reject);
  });
}

export async function benchStreaming(n = 100): Promise<Record<string, unknown>> {
  const env = await startStEnv({ images: true });
  try {
    const pod = await env.runPod('st-bench');
    const ctr = await env.runContainer(pod, 'bench', { command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] });
    const url = async (cmd: string[], stderr = true) =>
      (await env.d.client.runtime('Exec', { container_id: ctr, cmd, stdout: true, stderr })).url;
    for (let i = 0; i < 5; i++) await spdyExec(await url(['true']), { stderr: true }); // warm-up
    const rtt: number[] = [];
    for (let i = 0; i < n; i++) rtt.push(await timeMs(async () => spdyExec(await url(['true']), { stderr: true })));
    const execSync: number[] = [];
    for (let i = 0; i < Math.min(n, 50); i++) execSync.push(await timeMs(() => env.d.client.runtime('ExecSync', { container_id: ctr, cmd: ['true'], timeout: '10' })));

    await env.d.client.runtime('ExecSync', { container_id: ctr, cmd: ['sh', '-c', `head -c ${SIZE} /dev/urandom > /tmp/big`], timeout: '60' });
    const throughput = async (label: string, read: (u: string) => Promise<number>) => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const u = await url(['cat', '/tmp/big'], false);
        let bytes = 0;
        const ms = await timeMs(async () => (bytes = await read(u)));
        if (bytes !== SIZE) throw new Error(`${label}: read ${bytes} of ${SIZE} bytes`);
        runs.push(SIZE / 1e6 / (ms / 1000));
      }
      runs.sort((a, b) => a - b);
      return { runs: runs.map((r) => Math.round(r)), median_MB_per_s: Math.round(runs[1]!) };
    };
    // With a Go client (crictl: spdystream, client-go), where berth's server is the limit.
    const crictl: Record<string, unknown> = {};
    if (process.env.CRICTL) {
      const ep = ['--runtime-endpoint', `unix://${env.d.socket}`, '--timeout', '60s'];
      for (const t of ['spdy', 'websocket']) {
        const runs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const ms = await timeMs(
            () =>
              new Promise<void>((resolve, reject) => {
                const c = spawn(process.env.CRICTL!, [...ep, 'exec', '--transport', t, ctr, 'cat', '/tmp/big'], { stdio: ['ignore', 'ignore', 'ignore'] });
                c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`crictl exited ${code}`))));
              }),
          );
          runs.push(SIZE / 1e6 / (ms / 1000));
        }
        runs.sort((a, b) => a - b);
        crictl[`cat_100MB_stdout_crictl_${t}`] = { runs: runs.map((r) => Math.round(r)), median_MB_per_s: Math.round(runs[1]!), includes: 'crictl start-up and its Exec rpc' };
      }
    }
    return {
      ...crictl,
      exec_true_round_trip: { ...summarize(rtt), includes: 'Exec rpc + SPDY upgrade + 3 streams + runc exec + Status, spdy-transport client' },
      exec_sync_true_for_reference: summarize(execSync),
      cat_100MB_stdout_spdy: await throughput('spdy', spdyCat),
      cat_100MB_stdout_websocket_v5: await throughput('websocket', wsCat),
    };
  } finally {
    await env.close();
  }
}

runAsMain(import.meta.url, 'streaming', (a) => benchStreaming(Number(a[0] ?? 100)));
