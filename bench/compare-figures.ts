// The figures of `npm run bench -- compare` (issue 13's table), taken through CRI calls alone so the
// same code measures berth and containerd: one round on one freshly started runtime.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CriClient } from '../pkg/client/cri.js';
import type { ContainerConfig } from '../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';
import { podConfig } from '../e2e/sandbox-fixtures.js';
import { pidsWithCmdline } from './containerd.js';
import { pssKiB, rssKiB } from './foundation.js';
import { perPodMiB, settledFootprint, type Footprint } from './footprint.js';
import { DEFAULT_POLICY } from '../pkg/sys/idle-memory.js';
import { summarize, timeMs } from './summary.js';

/** A CRI runtime started for one round. */
export interface Runtime {
  client: CriClient;
  pid: number;
  /** Text in the command lines of its per-container helpers (conmon, shims), none of the workloads. */
  helperMark: string;
  startupMs: number;
  stop(): Promise<void>;
}

/** What both runtimes are given: images on the local registry, log and cgroup places. */
export interface Workload {
  bigRef: string;
  smallRef: string;
  /** busybox, for containers. */
  imageRef: string;
  logDir: string;
  /** Parent of the per-pod cgroups. */
  cgroupParent: string;
  /** Repetitions of each timed call (create/remove, pulls) and of each status call. */
  n: number;
  /** Pods held running for the memory and polling figures. */
  pods: number;
  pollSeconds: number;
  /** Only these stages of a round (`--only pulls`); all when absent. */
  only?: Stage[];
}

export const STAGES = ['pulls', 'containers', 'pods'] as const;
export type Stage = (typeof STAGES)[number];

export type Figures = Record<string, number>;

const median = (xs: number[]) => summarize(xs).median_ms;
const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const IDLE_SETTLE_MS = 10_000;

let seq = 0;
function pod(w: Workload, name: string): PodSandboxConfig {
  return podConfig(`${name}-${++seq}`, {
    log_directory: path.join(w.logDir, `${name}-${seq}`),
    // A pod cgroup each, as kubelet gives (berth removes it with the pod).
    linux: { cgroup_parent: `${w.cgroupParent}/pod-${seq}`, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  });
}

function ctr(w: Workload, name: string, command: string[]): ContainerConfig {
  return { metadata: { name }, image: { image: w.imageRef }, command, log_path: `${name}.log` };
}

/**
 * Memory of the daemon plus its helpers (conmon, shims), KiB: summed RSS (a library page mapped
 * by 20 conmons counts 20 times) and summed PSS (each shared page divided among its mappers: what
 * the node loses).
 */
async function footprintKiB(rt: Runtime): Promise<Footprint> {
  const pids = [rt.pid, ...(await pidsWithCmdline(rt.helperMark)).filter((p) => p !== rt.pid)];
  const sum = { rss: 0, pss: 0 };
  for (const p of pids) {
    sum.rss += await rssKiB(p).catch(() => 0);
    sum.pss += await pssKiB(p).catch(() => 0);
  }
  return sum;
}

/** A quiet window longer than the idle compaction's minimum interval plus two of its checks (settledFootprint says why). */
export const FOOTPRINT_WINDOW_MS = DEFAULT_POLICY.minCompactIntervalMs + 4000;

/** The footprint a quiet runtime settles at: sampled each second over the window, each figure's lowest. */
async function settledFootprintKiB(rt: Runtime): Promise<Footprint> {
  const samples: Footprint[] = [];
  const end = Date.now() + FOOTPRINT_WINDOW_MS;
  do {
    samples.push(await footprintKiB(rt));
    await settle(1000);
  } while (Date.now() < end);
  return settledFootprint(samples);
}

async function cpuTicks(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (100 per second)
}

async function pulls(c: CriClient, w: Workload, out: Figures): Promise<void> {
  out.pull_big_s = (await timeMs(() => c.image('PullImage', { image: { image: w.bigRef } }))) / 1000;
  const pull: number[] = [];
  const status: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < w.n; i++) {
    pull.push(await timeMs(() => c.image('PullImage', { image: { image: w.smallRef } })));
    for (let j = 0; j < 5; j++) {
      status.push(await timeMs(() => c.image('ImageStatus', { image: { image: w.smallRef } })));
      list.push(await timeMs(() => c.image('ListImages', {})));
    }
    await c.image('RemoveImage', { image: { image: w.smallRef } });
  }
  Object.assign(out, { pull_small_ms: median(pull), image_status_ms: median(status), list_images_ms: median(list) });
}

async function containerOps(c: CriClient, w: Workload, out: Figures): Promise<void> {
  const cfg = pod(w, 'ops');
  const id = (await c.runtime('RunPodSandbox', { config: cfg })).pod_sandbox_id;
  const create: number[] = [];
  const remove: number[] = [];
  const cycle: number[] = [];
  for (let i = -2; i < w.n; i++) {
    // `wait` returns at once on a trapped SIGTERM, so stop measures the runtime, not the workload.
    const config = ctr(w, `c${i + 2}`, ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait']);
    let cid = '';
    const tc = await timeMs(async () => (cid = (await c.runtime('CreateContainer', { pod_sandbox_id: id, config, sandbox_config: cfg })).container_id));
    const ts = await timeMs(() => c.runtime('StartContainer', { container_id: cid }));
    await settle(20); // let the shell install its trap
    const tstop = await timeMs(() => c.runtime('StopContainer', { container_id: cid, timeout: 10 }));
    const trm = await timeMs(() => c.runtime('RemoveContainer', { container_id: cid }));
    if (i < 0) continue; // warm-up
    create.push(tc);
    remove.push(trm);
    cycle.push(tc + ts + tstop + trm);
  }
  const sleeper = (await c.runtime('CreateContainer', { pod_sandbox_id: id, config: ctr(w, 'sleeper', ['sleep', '3600']), sandbox_config: cfg })).container_id;
  await c.runtime('StartContainer', { container_id: sleeper });
  const st: Record<'exec' | 'cs' | 'ps', number[]> = { exec: [], cs: [], ps: [] };
  for (let i = -3; i < w.n * 5; i++) {
    const e = await timeMs(() => c.runtime('ExecSync', { container_id: sleeper, cmd: ['true'], timeout: 10 }));
    const cs = await timeMs(() => c.runtime('ContainerStatus', { container_id: sleeper }));
    const ps = await timeMs(() => c.runtime('PodSandboxStatus', { pod_sandbox_id: id }));
    if (i < 0) continue;
    st.exec.push(e);
    st.cs.push(cs);
    st.ps.push(ps);
  }
  await c.runtime('StopPodSandbox', { pod_sandbox_id: id });
  await c.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  Object.assign(out, {
    create_ms: median(create), remove_ms: median(remove), lifecycle_ms: median(cycle),
    exec_sync_ms: median(st.exec), container_status_ms: median(st.cs), pod_status_ms: median(st.ps),
  });
}

/** What a kubelet asks every second (relist and status of everything), stats every 10 s. */
async function poll(c: CriClient, seconds: number): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    const next = Date.now() + 1000;
    const pods = (await c.runtime('ListPodSandbox', {})).items;
    const ctrs = (await c.runtime('ListContainers', {})).containers;
    for (const p of pods) await c.runtime('PodSandboxStatus', { pod_sandbox_id: p.id });
    for (const k of ctrs) await c.runtime('ContainerStatus', { container_id: k.id });
    if (s % 10 === 0) {
      await c.runtime('ListContainerStats', {});
      await c.runtime('ListPodSandboxStats', {}).catch(() => undefined);
    }
    await settle(Math.max(0, next - Date.now()));
  }
}

async function podsUnderPolling(rt: Runtime, w: Workload, out: Figures): Promise<void> {
  const c = rt.client;
  const before = await settledFootprintKiB(rt);
  const ids: string[] = [];
  for (let i = 0; i < w.pods; i++) {
    const cfg = pod(w, 'held');
    const id = (await c.runtime('RunPodSandbox', { config: cfg })).pod_sandbox_id;
    ids.push(id);
    const cid = (await c.runtime('CreateContainer', { pod_sandbox_id: id, config: ctr(w, 'sleeper', ['sleep', '3600']), sandbox_config: cfg })).container_id;
    await c.runtime('StartContainer', { container_id: cid });
  }
  const held = await settledFootprintKiB(rt);
  const perPod = perPodMiB(before, held, w.pods);
  out.mem_per_pod_mib = perPod.rss;
  out.mem_per_pod_pss_mib = perPod.pss;
  const t0 = await cpuTicks(rt.pid);
  const started = Date.now();
  await poll(c, w.pollSeconds);
  out.cpu_polling_pct = Math.round(((await cpuTicks(rt.pid)) - t0) / ((Date.now() - started) / 1000) * 100) / 100;
  for (const id of ids) {
    await c.runtime('StopPodSandbox', { pod_sandbox_id: id });
    await c.runtime('RemovePodSandbox', { pod_sandbox_id: id });
  }
}

/** One round on a runtime just started: every figure, in the order a node would meet them. */
export async function measureRound(rt: Runtime, w: Workload): Promise<Figures> {
  const c = rt.client;
  const out: Figures = { startup_ms: rt.startupMs };
  for (let i = 0; i < 20; i++) await c.runtime('Version', {});
  await settle(1000);
  out.idle_rss_mib = mib(await rssKiB(rt.pid));
  const run = (s: Stage) => !w.only || w.only.includes(s);
  if (run('pulls')) await pulls(c, w, out);
  if (!run('containers') && !run('pods')) return out;
  await c.image('PullImage', { image: { image: w.imageRef } });
  if (run('containers')) await containerOps(c, w, out);
  if (run('pods')) await podsUnderPolling(rt, w, out);
  for (const ref of [w.bigRef, w.imageRef]) await c.image('RemoveImage', { image: { image: ref } }).catch(() => undefined);
  // Idle means quiet long enough for V8's memory reducer to collect the old generation (~8 s
  // after the allocation rate drops; bench/lifecycle-rss.ts waits the same): read 2 s after the
  // round, berth's RSS still held the last calls' garbage.
  await settle(IDLE_SETTLE_MS);
  out.idle_rss_after_mib = mib(await rssKiB(rt.pid));
  return out;
}
