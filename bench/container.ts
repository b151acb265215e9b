// Container latency: CreateContainer+StartContainer, StopContainer (a container that exits on
// SIGTERM), RemoveContainer — median/p95 over 50 — and ExecSync `true` over 200, with runc (and
// crun when given `crun`), and the median of each phase the daemon's debug log gives for
// StartContainer ("container started") and StopContainer ("container stopped").
// Run alone: node dist/bench/container.js [n] [execs] [handler]
import { ctrConfig, runPod, startCtEnv } from '../e2e/container-fixtures.js';
import { runAsMain, summarize, timeMs } from './summary.js';

/** Median of each phase over the daemon's debug lines with this message (phases in ms since the call began). */
export function phaseMedians(logs: string, msg: string): Record<string, number> {
  const byPhase: Record<string, number[]> = {};
  for (const line of logs.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const phases = (JSON.parse(line) as { phases?: Record<string, number> }).phases ?? {};
    for (const [k, v] of Object.entries(phases)) (byPhase[k] ??= []).push(v);
  }
  return Object.fromEntries(Object.entries(byPhase).map(([k, v]) => [k, summarize(v).median_ms]));
}

export async function benchContainers(n = 50, execs = 200, handler = 'runc'): Promise<Record<string, unknown>> {
  const env = await startCtEnv();
  try {
    // Named, not left to the default: the figures must say which runtime they are.
    const pod = await runPod(env, `bench-${handler}`, {}, handler);
    const c = env.d.client;
    const create: number[] = [];
    const start: number[] = [];
    const createStart: number[] = [];
    const stop: number[] = [];
    const remove: number[] = [];
    const one = async (i: number, record: boolean) => {
      // `wait` returns at once on a trapped SIGTERM, so stop measures berth, not the workload.
      const cfg = ctrConfig(env, `b${i}`, { command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'] });
      let id = '';
      const tc = await timeMs(async () => (id = (await c.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: cfg, sandbox_config: pod.config })).container_id));
      const ts = await timeMs(() => c.runtime('StartContainer', { container_id: id }));
      // Let the shell install its trap before it is signalled.
      await new Promise((r) => setTimeout(r, 20));
      const tstop = await timeMs(() => c.runtime('StopContainer', { container_id: id, timeout: 10 }));
      const trm = await timeMs(() => c.runtime('RemoveContainer', { container_id: id }));
      if (!record) return;
      create.push(tc);
      start.push(ts);
      createStart.push(tc + ts);
      stop.push(tstop);
      remove.push(trm);
    };
    for (let i = 0; i < 3; i++) await one(1000 + i, false); // warm-up
    for (let i = 0; i < n; i++) await one(i, true);

    const sleeper = (await c.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: ctrConfig(env, 'exec', { command: ['sleep', '3600'] }), sandbox_config: pod.config })).container_id;
    await c.runtime('StartContainer', { container_id: sleeper });
    for (let i = 0; i < 5; i++) await c.runtime('ExecSync', { container_id: sleeper, cmd: ['true'], timeout: 10 });
    const exec: number[] = [];
    for (let i = 0; i < execs; i++) exec.push(await timeMs(() => c.runtime('ExecSync', { container_id: sleeper, cmd: ['true'], timeout: 10 })));
    return {
      handler, n, execs,
      create: summarize(create), start: summarize(start), create_start: summarize(createStart),
      stop: summarize(stop), remove: summarize(remove), exec_sync_true: summarize(exec),
      start_phases_ms: phaseMedians(env.d.logs(), 'container started'),
      stop_phases_ms: phaseMedians(env.d.logs(), 'container stopped'),
      containerd: 'not installed on this machine (see ../shared/DESIGN.md for its figures on this VM)',
    };
  } finally {
    await env.close();
  }
}

runAsMain(import.meta.url, 'container', async (a) => {
  const out: Record<string, unknown> = {};
  for (const h of a[2] ? [a[2]] : ['runc', 'crun']) out[h] = await benchContainers(Number(a[0] ?? 50), Number(a[1] ?? 200), h);
  return out;
});
