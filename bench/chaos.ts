// Chaos: kill -9 the daemon at random points of pod churn and check that nothing is lost and
// nothing leaks. Five steady pods (one running container each, one with a shared PID namespace)
// must survive every kill unchanged; two churn workers create, start, exec, stop and remove pods
// and containers as kubelet would, and after a kill clean up what they were doing (kubelet's
// relist + garbage collection). A call made after the daemon is back must not fail. At the end
// every pod is removed and the host must hold no conmon, runtime or pause process, mount,
// veth, IP, cgroup, pin, bundle or record of this daemon.
//
//   node dist/bench/chaos.js [kills=100] [seed]
//
// Own network (bridge berth-chaos0, 10.216.0.0/16), cgroup root /berth-chaos and temp paths;
// the registry takes a free port in 5200–5299. Run it under the host lock.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CriClient, CriError } from '../pkg/client/cri.js';
import { errorMessage } from '../pkg/errors/errors.js';
import { ctrConfig, podConfig, startCtEnv, type CtEnv } from '../e2e/container-fixtures.js';
import { countLeaks, NO_LEAKS, scopeOf, type Leaks, type LeakScope } from '../e2e/leaks.js';
import { seededRng } from '../e2e/fuzz/gen.js';
import { runAsMain, summarize } from './summary.js';

export interface ChaosOptions {
  kills: number;
  seed?: number;
  steadyPods?: number;
  workers?: number;
  /** Time between the daemon being ready and the next kill: uniform in [min, max] ms. */
  gapMs?: [number, number];
  progress?: (line: string) => void;
}

export interface ChaosReport {
  kills: number;
  seed: number;
  /** Churn cycles (pod + container lifecycle) completed. */
  cycles: number;
  /** Churn cycles a kill interrupted (their remains cleaned up after the restart). */
  interrupted: number;
  /** Steady pods or containers missing or not READY/RUNNING after a restart. */
  lost: string[];
  /** Calls that failed although the daemon had not been killed since they began. */
  errors: string[];
  restartMs: ReturnType<typeof summarize>;
  leaks: Leaks;
  leaked: boolean;
  /** What was left on the host, by name, when anything leaked: sandbox dirs, pins, mounts. */
  leftovers: string[];
  /** The last daemon's warnings and errors (reconciliation that could not remove something says so here). */
  warnings: string[];
  /** The run stopped early: why (the report holds what was counted until then). */
  aborted?: string;
  /** Cleanup steps that failed at the end, each naming what it could not remove. */
  uncleaned: string[];
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const seed = o.seed ?? Date.now() % 100_000;
  const rand = seededRng(seed);
  const log = o.progress ?? (() => undefined);
  const t0 = Date.now();
  const env = await startCtEnv({ net: { bridge: 'berth-chaos0', subnet: '10.216.0.0/16', cgroupRoot: '/berth-chaos' }, logLevel: 'info' });
  const report: ChaosReport = {
    kills: 0, seed, cycles: 0, interrupted: 0, lost: [], errors: [], restartMs: summarize([]), leaks: NO_LEAKS, leaked: false, leftovers: [], warnings: [], uncleaned: [], seconds: 0,
  };
  // Each daemon life is a generation; a call that fails while its generation was killed is expected.
  let gen = 0;
  const killed = new Set<number>();
  let ready: Promise<void> = Promise.resolve();
  const call = async <T>(what: string, fn: (c: CriClient) => Promise<T>): Promise<T> => {
    await ready;
    const g = gen;
    try {
      return await fn(env.d.client);
    } catch (err) {
      if (!killed.has(g)) report.errors.push(`${what}: ${(err as CriError).details ?? (err as Error).message}`);
      throw err;
    }
  };
  const restartMs: number[] = [];
  try {
    const steady = await startSteady(env, o.steadyPods ?? 5);
    let stopping = false;
    const worker = async (w: number) => {
      for (let n = 0; !stopping; n++) {
        const g = gen;
        try {
          await churnCycle(env, call, `churn-${w}-${n}`, rand);
          report.cycles++;
        } catch {
          if (killed.has(g)) report.interrupted++; // else counted in errors already
          await cleanUp(call, `churn-${w}-`);
        }
      }
    };
    const workers = Array.from({ length: o.workers ?? 2 }, (_, w) => worker(w));
    const [lo, hi] = o.gapMs ?? [300, 3000];
    for (let k = 1; k <= o.kills; k++) {
      await sleep(lo + rand() * (hi - lo));
      killed.add(gen);
      let up!: () => void;
      ready = new Promise((r) => (up = r));
      await env.d.kill();
      const r0 = Date.now();
      await env.restart();
      restartMs.push(Date.now() - r0);
      gen++;
      up();
      report.kills = k;
      report.lost.push(...(await missing(env, steady)).map((m) => `after kill ${k}: ${m}`));
      log(`kill ${k}/${o.kills}: restart ${restartMs[restartMs.length - 1]} ms, cycles ${report.cycles}, interrupted ${report.interrupted}, errors ${report.errors.length}, lost ${report.lost.length}`);
    }
    stopping = true;
    await Promise.all(workers);
    await cleanUp(call, 'churn-');
    report.lost.push(...(await missing(env, steady)).map((m) => `at the end: ${m}`));
    for (const id of steady.pods) {
      await call('StopPodSandbox', (c) => c.runtime('StopPodSandbox', { pod_sandbox_id: id }));
      await call('RemovePodSandbox', (c) => c.runtime('RemovePodSandbox', { pod_sandbox_id: id }));
    }
    const left = await call('ListPodSandbox', (c) => c.runtime('ListPodSandbox', {}));
    const leftC = await call('ListContainers', (c) => c.runtime('ListContainers', {}));
    if (left.items.length || leftC.containers.length) report.lost.push(`records left: ${left.items.length} pods, ${leftC.containers.length} containers`);
  } catch (err) {
    report.aborted = errorMessage(err);
  }
  // Counted and reported whatever happened above, and before the env's cleanup (which a leak can make fail).
  const scope = scopeOf(env);
  report.leaks = await countLeaks(scope);
  report.leaked = JSON.stringify(report.leaks) !== JSON.stringify(NO_LEAKS);
  if (report.leaked) report.leftovers = await leftovers(scope);
  report.warnings = env.d.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-50);
  report.restartMs = summarize(restartMs);
  report.seconds = Math.round((Date.now() - t0) / 1000);
  await env.close().catch((err: Error) => report.uncleaned.push(err.message));
  return report;
}

/** Names of the sandbox directories, pins and mounts a daemon left (the counts say how many; these say which). */
async function leftovers(s: LeakScope): Promise<string[]> {
  const ls = (...p: string[]) => readdir(path.join(...p)).catch(() => [] as string[]);
  const out = (await ls(s.state, 'sandboxes')).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sandbox dir ${n}`);
  for (const k of ['net', 'ipc', 'uts', 'user']) out.push(...(await ls(s.state, 'ns', k)).map((n) => `${k} pin ${n}`));
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${s.state}/`));
  return [...out, ...mounts.map((m) => `mount ${m}`)];
}

interface Steady {
  pods: string[];
  containers: string[];
}

async function startSteady(env: CtEnv, n: number): Promise<Steady> {
  const out: Steady = { pods: [], containers: [] };
  for (let i = 0; i < n; i++) {
    const pid = i === 0 ? 'POD' : 'CONTAINER';
    const config = podConfig(env, `steady-${i}`, { linux: { cgroup_parent: `${env.cgroupRoot}/steady-${i}`, security_context: { namespace_options: { network: 'POD', pid, ipc: 'POD' } } } });
    const pod = (await env.d.client.runtime('RunPodSandbox', { config })).pod_sandbox_id;
    const c = (await env.d.client.runtime('CreateContainer', { pod_sandbox_id: pod, config: ctrConfig(env, 'app', { command: ['sleep', '1000000'] }), sandbox_config: config })).container_id;
    await env.d.client.runtime('StartContainer', { container_id: c });
    out.pods.push(pod);
    out.containers.push(c);
  }
  return out;
}

/** Steady pods that are not READY and containers that are not RUNNING (or gone). */
async function missing(env: CtEnv, s: Steady): Promise<string[]> {
  const pods = new Map((await env.d.client.runtime('ListPodSandbox', {})).items.map((p) => [p.id, p.state]));
  const ctrs = new Map((await env.d.client.runtime('ListContainers', {})).containers.map((c) => [c.id, c.state]));
  const out: string[] = [];
  for (const p of s.pods) if (pods.get(p) !== 'SANDBOX_READY') out.push(`pod ${p.slice(0, 12)} is ${pods.get(p) ?? 'gone'}`);
  for (const c of s.containers) if (ctrs.get(c) !== 'CONTAINER_RUNNING') out.push(`container ${c.slice(0, 12)} is ${ctrs.get(c) ?? 'gone'}`);
  return out;
}

type Call = <T>(what: string, fn: (c: CriClient) => Promise<T>) => Promise<T>;

/** One pod's life, as kubelet drives it, with a random mix of shapes. */
async function churnCycle(env: CtEnv, call: Call, name: string, rand: () => number): Promise<void> {
  const pid = rand() < 0.3 ? 'POD' : 'CONTAINER';
  const config = podConfig(env, name, { linux: { cgroup_parent: `${env.cgroupRoot}/${name}`, security_context: { namespace_options: { network: 'POD', pid, ipc: 'POD' } } } });
  const pod = (await call('RunPodSandbox', (c) => c.runtime('RunPodSandbox', { config }))).pod_sandbox_id;
  const n = 1 + Math.floor(rand() * 2);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const cfg = ctrConfig(env, `c${i}`, { command: ['sh', '-c', 'trap "exit 0" TERM; sleep 1000 & wait'] });
    const id = (await call('CreateContainer', (c) => c.runtime('CreateContainer', { pod_sandbox_id: pod, config: cfg, sandbox_config: config }))).container_id;
    await call('StartContainer', (c) => c.runtime('StartContainer', { container_id: id }));
    ids.push(id);
  }
  if (rand() < 0.5) await call('ExecSync', (c) => c.runtime('ExecSync', { container_id: ids[0]!, cmd: ['true'], timeout: 10 }));
  if (rand() < 0.5) {
    for (const id of ids) {
      await call('StopContainer', (c) => c.runtime('StopContainer', { container_id: id, timeout: 2 }));
      await call('RemoveContainer', (c) => c.runtime('RemoveContainer', { container_id: id }));
    }
  }
  await call('StopPodSandbox', (c) => c.runtime('StopPodSandbox', { pod_sandbox_id: pod }));
  await call('RemovePodSandbox', (c) => c.runtime('RemovePodSandbox', { pod_sandbox_id: pod }));
}

/** kubelet's relist and garbage collection: the pods whose name starts with `prefix` go. */
async function cleanUp(call: Call, prefix: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    try {
      const pods = (await call('ListPodSandbox', (c) => c.runtime('ListPodSandbox', {}))).items.filter((p) => p.metadata?.name.startsWith(prefix));
      for (const p of pods) {
        await call('StopPodSandbox', (c) => c.runtime('StopPodSandbox', { pod_sandbox_id: p.id }));
        await call('RemovePodSandbox', (c) => c.runtime('RemovePodSandbox', { pod_sandbox_id: p.id }));
      }
      return;
    } catch {
      // killed again meanwhile: relist once the daemon is back
    }
  }
}

runAsMain(import.meta.url, 'chaos', (a) => runChaos({ kills: Number(a[0] ?? 100), seed: a[1] ? Number(a[1]) : undefined, progress: (l) => console.error(l) }),
  (r) => Boolean(r.lost.length || r.errors.length || r.leaked || r.aborted || r.uncleaned.length));
