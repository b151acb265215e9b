// Soak: churns pods, containers, execs, logs and pulls at a steady rate for a given time and
// samples the daemon's RSS, V8 heap, open fds and child processes, and the host's mounts and
// veths, every interval; reports the slope of each (least squares, per hour, after a warm-up),
// so a leak shows as a steady climb. At the end every pod is removed and leaks are counted.
//
//   node dist/bench/soak.js [seconds=3600] [sampleSeconds=60]
//
// Own network (bridge berth-soak0, 10.217.0.0/16), cgroup root /berth-soak, temp paths and a
// registry on a free port in 5200–5299: it collides with no other test, so it can run beside
// them without the host lock (the host-wide mount and veth counts then include theirs; the
// daemon's own counts do not).
import { readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { CriError } from '../pkg/client/cri.js';
import { listProcesses } from '../pkg/process/procs.js';
import { ctrConfig, podConfig, startCtEnv, type CtEnv } from '../e2e/container-fixtures.js';
import { buildBusyboxImage } from '../e2e/fixtures/busybox.js';
import { pushImage } from '../e2e/fixtures/oci.js';
import { countLeaks, NO_LEAKS, scopeOf, type Leaks } from '../e2e/leaks.js';
import { sh } from '../e2e/sandbox-fixtures.js';
import { runAsMain } from './summary.js';

export interface SoakOptions {
  seconds: number;
  sampleSeconds?: number;
  /** One pod cycle starts every this many ms (default 3000). */
  periodMs?: number;
  progress?: (line: string) => void;
}

export interface Sample {
  t: number;
  rssKiB: number;
  heapUsedBytes: number;
  fds: number;
  children: number;
  ownMounts: number;
  ownVeths: number;
  hostMounts: number;
  hostVeths: number;
}

export interface Trend {
  first: number;
  last: number;
  min: number;
  max: number;
  /** Least-squares slope, per hour, over the samples after the warm-up. */
  slope_per_hour: number;
}

export interface SoakReport {
  seconds: number;
  sampleSeconds: number;
  warmupSeconds: number;
  cycles: number;
  execs: number;
  pulls: number;
  logReopens: number;
  errors: string[];
  samples: Sample[];
  trends: Record<Exclude<keyof Sample, 't'>, Trend>;
  leaks: Leaks;
  leaked: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function slopePerHour(points: { t: number; v: number }[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den ? (num / den) * 3600 : 0;
}

async function sample(env: CtEnv, t: number): Promise<Sample> {
  const pid = env.d.proc.pid!;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const metrics = await fetch(`http://${env.d.metricsAddress}/metrics`).then((r) => r.text(), () => '');
  const heap = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1] ?? NaN);
  const mountinfo = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean);
  const veths = async (args: string[]) => (await sh('ip', ['-o', 'link', 'show', ...args]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).length;
  return {
    t,
    rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN),
    heapUsedBytes: heap,
    fds: (await readdir(`/proc/${pid}/fd`)).length,
    children: (await listProcesses()).filter((p) => p.ppid === pid).length,
    ownMounts: mountinfo.filter((l) => l.includes(`${env.d.state}/`)).length,
    ownVeths: await veths(['master', env.bridge]),
    hostMounts: mountinfo.length,
    hostVeths: await veths(['type', 'veth']),
  };
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const sampleSeconds = o.sampleSeconds ?? 60;
  const log = o.progress ?? (() => undefined);
  const env = await startCtEnv({ net: { bridge: 'berth-soak0', subnet: '10.217.0.0/16', cgroupRoot: '/berth-soak' }, logLevel: 'info', metrics: true });
  const report: SoakReport = {
    seconds: o.seconds, sampleSeconds, warmupSeconds: 0, cycles: 0, execs: 0, pulls: 0, logReopens: 0, errors: [], samples: [],
    trends: {} as SoakReport['trends'], leaks: NO_LEAKS, leaked: false,
  };
  const c = () => env.d.client;
  const note = (what: string) => (err: unknown) => {
    report.errors.push(`${what}: ${(err as CriError).details ?? (err as Error).message}`);
  };
  try {
    // A second image to pull, remove and pull again (the pull path's own resources).
    const extra = `${env.reg.host}/soak/busybox:extra`;
    await pushImage(env.reg.host, 'soak/busybox', 'extra', buildBusyboxImage({ config: { Cmd: ['sh'], Labels: { soak: '1' } } }));
    const t0 = Date.now();
    const end = t0 + o.seconds * 1000;
    let n = 0;
    const churn = (async () => {
      while (Date.now() < end) {
        const started = Date.now();
        await podCycle(env, `soak-${n++}`, report).then(() => report.cycles++, note('pod cycle'));
        if (n % 10 === 0) {
          await c().image('RemoveImage', { image: { image: extra } }).catch(note('RemoveImage'));
          await c().image('PullImage', { image: { image: extra } }).then(() => report.pulls++, note('PullImage'));
        }
        await sleep(Math.max(0, (o.periodMs ?? 3000) - (Date.now() - started)));
      }
    })();
    const sampler = (async () => {
      for (let i = 0; ; i++) {
        const s = await sample(env, (Date.now() - t0) / 1000);
        report.samples.push(s);
        log(`t=${Math.round(s.t)}s rss=${s.rssKiB}KiB heap=${Math.round(s.heapUsedBytes / 1024)}KiB fds=${s.fds} children=${s.children} mounts=${s.ownMounts}/${s.hostMounts} veths=${s.ownVeths}/${s.hostVeths} cycles=${report.cycles} errors=${report.errors.length}`);
        const next = t0 + (i + 1) * sampleSeconds * 1000;
        if (next > end) break;
        await sleep(next - Date.now());
      }
    })();
    await Promise.all([churn, sampler]);
    report.samples.push(await sample(env, (Date.now() - t0) / 1000));
    for (const p of (await c().runtime('ListPodSandbox', {})).items) {
      await c().runtime('StopPodSandbox', { pod_sandbox_id: p.id }).catch(note('StopPodSandbox'));
      await c().runtime('RemovePodSandbox', { pod_sandbox_id: p.id }).catch(note('RemovePodSandbox'));
    }
    report.leaks = await countLeaks(scopeOf(env));
    report.leaked = JSON.stringify(report.leaks) !== JSON.stringify(NO_LEAKS);
  } finally {
    await env.close();
  }
  // Warm-up: the first 10% of the run (at most 5 min), when caches and the JIT settle.
  report.warmupSeconds = Math.min(300, o.seconds / 10);
  const keys = ['rssKiB', 'heapUsedBytes', 'fds', 'children', 'ownMounts', 'ownVeths', 'hostMounts', 'hostVeths'] as const;
  for (const k of keys) {
    const all = report.samples.map((s) => ({ t: s.t, v: s[k] }));
    const vs = all.map((p) => p.v);
    report.trends[k] = {
      first: vs[0] ?? NaN, last: vs[vs.length - 1] ?? NaN, min: Math.min(...vs), max: Math.max(...vs),
      slope_per_hour: Math.round(slopePerHour(all.filter((p) => p.t >= report.warmupSeconds)) * 100) / 100,
    };
  }
  return report;
}

/** One pod: a container writing logs, five execs, a log rotation (rename + ReopenContainerLog), stop, remove. */
async function podCycle(env: CtEnv, name: string, report: SoakReport): Promise<void> {
  const c = env.d.client;
  const config = podConfig(env, name, { linux: { cgroup_parent: `${env.cgroupRoot}/${name}`, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } } });
  const pod = (await c.runtime('RunPodSandbox', { config })).pod_sandbox_id;
  try {
    const cfg = ctrConfig(env, 'talker', { command: ['sh', '-c', 'trap "exit 0" TERM; i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.05; done'] });
    const id = (await c.runtime('CreateContainer', { pod_sandbox_id: pod, config: cfg, sandbox_config: config })).container_id;
    await c.runtime('StartContainer', { container_id: id });
    for (let i = 0; i < 5; i++) {
      const r = await c.runtime('ExecSync', { container_id: id, cmd: ['sh', '-c', 'echo hi; cat /proc/self/status > /dev/null'], timeout: 10 });
      if (r.exit_code !== 0) throw new Error(`exec exited ${r.exit_code}`);
      report.execs++;
    }
    const logFile = path.join(config.log_directory!, cfg.log_path!);
    await readFile(logFile, 'utf8');
    await rename(logFile, `${logFile}.1`);
    await c.runtime('ReopenContainerLog', { container_id: id });
    report.logReopens++;
    await c.runtime('StopContainer', { container_id: id, timeout: 5 });
    await c.runtime('RemoveContainer', { container_id: id });
  } finally {
    await c.runtime('StopPodSandbox', { pod_sandbox_id: pod });
    await c.runtime('RemovePodSandbox', { pod_sandbox_id: pod });
  }
}

runAsMain(import.meta.url, 'soak', (a) => runSoak({ seconds: Number(a[0] ?? 3600), sampleSeconds: Number(a[1] ?? 60), progress: (l) => console.error(l) }),
  (r) => Boolean(r.errors.length || r.leaked));
