// Memory that does not grow with work (issue 13): the daemon's idle RSS after N pod lifecycles
// against a fresh daemon's. One lifecycle = RunPodSandbox (bridge network), CreateContainer,
// StartContainer, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox, as kubelet
// runs a short-lived pod. Target: idle RSS after 1,000 within 10 % of the fresh daemon's.
// The fresh figure is taken after start-up and the image pull; the warm one after a few
// lifecycles (code loaded on first use, first allocations), so growth from the work itself shows
// apart from one-time costs. Idle = 10 s without calls: V8 collects its old generation when the
// allocation rate drops for about 8 s (its memory reducer); before that, RSS still holds the
// garbage of the last calls (after 6,000 Version calls: anon RSS 54 MiB at 3 s, 30 MiB at 15 s).
// Run under the host lock: node dist/bench/lifecycle-rss.js [lifecycles=1000] [checkpoints=10]
//   (npm run bench -- lifecycle-rss 1000)
import { ctrConfig, runPod, startCtEnv, type CtEnv } from '../e2e/container-fixtures.js';
import { IDLE_SETTLE_MS } from './compare-figures.js';
import { rssKiB } from './foundation.js';
import { runAsMain, summarize, timeMs } from './summary.js';

const WARMUP = 10;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

async function idleRssMiB(env: CtEnv): Promise<number> {
  await settle(IDLE_SETTLE_MS);
  return mib(await rssKiB(env.d.proc.pid!));
}

async function lifecycle(env: CtEnv, i: number): Promise<void> {
  const c = env.d.client;
  const pod = await runPod(env, `lc-${i}`);
  // `wait` returns at once on a trapped SIGTERM: the stop is the runtime's work, not a timeout.
  const cfg = ctrConfig(env, 'app', { command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'] });
  const id = (await c.runtime('CreateContainer', { pod_sandbox_id: pod.id, config: cfg, sandbox_config: pod.config })).container_id;
  await c.runtime('StartContainer', { container_id: id });
  await settle(20); // let the shell install its trap
  await c.runtime('StopContainer', { container_id: id, timeout: 10 });
  await c.runtime('RemoveContainer', { container_id: id });
  await c.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
  await c.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
}

export async function benchLifecycleRss(lifecycles = 1000, checkpoints = 10): Promise<Record<string, unknown>> {
  // Its own bridge and cgroup root, as chaos and soak have: nothing shared with the e2e container env.
  const env = await startCtEnv({ net: { bridge: 'berth-lcr0', subnet: '10.218.0.0/16', cgroupRoot: '/berth-lcr' }, logLevel: 'info' });
  try {
    const fresh = await idleRssMiB(env);
    for (let i = 0; i < WARMUP; i++) await lifecycle(env, -1 - i);
    const warm = await idleRssMiB(env);
    const every = Math.max(1, Math.floor(lifecycles / checkpoints));
    const trend: { lifecycles: number; idle_rss_mib: number }[] = [];
    const took: number[] = [];
    for (let i = 0; i < lifecycles; i++) {
      took.push(await timeMs(() => lifecycle(env, i)));
      if ((i + 1) % every === 0 || i + 1 === lifecycles) trend.push({ lifecycles: i + 1, idle_rss_mib: await idleRssMiB(env) });
    }
    const after = trend[trend.length - 1]!.idle_rss_mib;
    return {
      lifecycles,
      idle_rss_fresh_mib: fresh,
      idle_rss_warm_mib: warm,
      idle_rss_after_mib: after,
      ratio_to_fresh: Math.round((after / fresh) * 1000) / 1000,
      ratio_to_warm: Math.round((after / warm) * 1000) / 1000,
      target: 'idle RSS after 1,000 lifecycles <= 1.10 x a fresh daemon',
      trend,
      lifecycle: summarize(took),
    };
  } finally {
    await env.close();
  }
}

runAsMain(import.meta.url, 'lifecycle_rss', (a) => benchLifecycleRss(Number(a[0] ?? 1000), Number(a[1] ?? 10)));
