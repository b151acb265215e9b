// Runs generated requests against a real daemon (a container e2e environment) and checks what a
// kubelet-facing runtime owes every request: no INTERNAL or UNKNOWN, an answer within the bound,
// the same connection still answering, the daemon alive; and, at the end, after every pod is
// removed, no processes, mounts or file descriptors left behind.
import { execFileSync } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { ctrConfig, runCtr, runPod, type CtEnv } from '../container-fixtures.js';
import { RequestGen, loadMethods, seededRng, type FuzzMethod, type KnownIds } from './gen.js';

export interface FuzzOptions {
  seed: number;
  /** Stop after this many requests… */
  requests?: number;
  /** …or after this long, whichever comes first. */
  durationMs?: number;
  /** Client deadline of each call; an answer must come within it. */
  callTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  durationMs: number;
  /** Calls per method. */
  methods: Record<string, number>;
  /** Calls per gRPC status name. */
  codes: Record<string, number>;
  /** Each broken promise: method, code, details, the request's seed position. */
  failures: string[];
  slowestMs: number;
  leaks: { processes: string[]; mounts: string[]; fdsBefore: number; fdsAfter: number };
}

const BAD = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN]);

type CallResult = { code: grpc.status; details: string };

export class Fuzzer {
  private readonly methods = loadMethods();
  private ids: KnownIds = { sandboxes: [], containers: [] };
  private pod?: Awaited<ReturnType<typeof runPod>>;
  /** Names the seeds use, unique and the same in every run of a seed. */
  private seq = 0;

  constructor(private readonly env: CtEnv) {}

  private get client() {
    return this.env.d.client;
  }

  private clientFor(m: FuzzMethod): grpc.Client {
    return m.service === 'RuntimeService' ? this.client.runtimeClient : this.client.imageClient;
  }

  /** A pod with a running container, made again when a fuzzed call removed them. */
  private async ensureFixtures(): Promise<void> {
    const pods = (await this.client.runtime('ListPodSandbox', {})).items;
    if (!this.pod || !pods.some((p) => p.id === this.pod!.id && p.state === 'SANDBOX_READY')) this.pod = await runPod(this.env, 'fuzz');
    const ctrs = (await this.client.runtime('ListContainers', { filter: { pod_sandbox_id: this.pod.id } })).containers;
    if (!ctrs.some((c) => c.state === 'CONTAINER_RUNNING')) {
      await runCtr(this.env, this.pod, ctrConfig(this.env, `fixture${++this.seq}`, { command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] }));
    }
    const all = (await this.client.runtime('ListPodSandbox', {})).items;
    const cs = (await this.client.runtime('ListContainers', {})).containers;
    this.ids = { sandboxes: all.map((p) => p.id), containers: cs.map((c) => c.id) };
  }

  /** Every pod but the fixture one is removed, so fuzzed RunPodSandbox calls do not pile up. */
  private async prune(keepFixture: boolean): Promise<void> {
    for (const p of (await this.client.runtime('ListPodSandbox', {})).items) {
      if (keepFixture && p.id === this.pod?.id) continue;
      await this.client.runtime('RemovePodSandbox', { pod_sandbox_id: p.id }, { timeoutMs: 60_000 }).catch(() => undefined);
    }
    for (const c of (await this.client.runtime('ListContainers', {})).containers) {
      if (keepFixture && c.pod_sandbox_id === this.pod?.id) continue;
      await this.client.runtime('RemoveContainer', { container_id: c.id }).catch(() => undefined);
    }
  }

  /** Valid requests the mutations start from, for the calls that need a whole config to get anywhere. */
  private seedFor(m: FuzzMethod): Record<string, unknown> | undefined {
    if (m.name === 'RunPodSandbox') {
      return { config: { ...podLike(this.env), metadata: { name: `fz${++this.seq}`, namespace: 'fuzz', uid: `uid-${this.seq}`, attempt: 0 } } };
    }
    if (m.name === 'CreateContainer' && this.pod) {
      return { pod_sandbox_id: this.pod.id, config: ctrConfig(this.env, `c${++this.seq}`, { command: ['sleep', '1000'] }), sandbox_config: this.pod.config };
    }
    return undefined;
  }

  private request(gen: RequestGen, m: FuzzMethod, rng: () => number): Record<string, unknown> | Buffer {
    const r = rng();
    if (r < 0.08) return gen.rawBytes();
    const seed = this.seedFor(m);
    const req = seed && r < 0.6 ? gen.mutate(m.request, seed) : gen.message(m.request);
    if (m.name === 'PullImage') {
      // Pulls reach the network: only ever the local test registry.
      const img = (req.image ?? {}) as Record<string, unknown>;
      img.image = `${this.env.reg.host}/${String(img.image ?? 'x').slice(0, 4000).replace(/^\/+/, '')}`;
      req.image = img;
    }
    return req;
  }

  private call(m: FuzzMethod, req: Record<string, unknown> | Buffer, timeoutMs: number): Promise<CallResult> {
    const client = this.clientFor(m);
    const deadline = Date.now() + timeoutMs;
    const path = `/runtime.v1.${m.service}/${m.name}`;
    const done = (resolve: (r: CallResult) => void) => (err: grpc.ServiceError | null) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' });
    if (Buffer.isBuffer(req)) {
      const id = (b: Buffer): Buffer => b;
      if (!m.stream) return new Promise((resolve) => client.makeUnaryRequest(path, id, id, req, new grpc.Metadata(), { deadline }, done(resolve)));
      return this.readStream(client.makeServerStreamRequest(path, id, id, req, new grpc.Metadata(), { deadline }));
    }
    const fn = (client as unknown as Record<string, Function>)[m.name]!;
    if (!m.stream) return new Promise((resolve) => fn.call(client, req, { deadline }, done(resolve)));
    return this.readStream(fn.call(client, req, { deadline }) as grpc.ClientReadableStream<unknown>);
  }

  /** A stream answers once it sends a message, ends or fails; then it is cancelled. */
  private readStream(s: grpc.ClientReadableStream<unknown>): Promise<CallResult> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (r: CallResult): void => {
        if (settled) return;
        settled = true;
        resolve(r);
        s.cancel();
      };
      s.on('data', () => settle({ code: grpc.status.OK, details: '' }));
      s.on('error', (e: grpc.ServiceError) => settle({ code: e.code, details: e.details }));
      s.on('end', () => settle({ code: grpc.status.OK, details: '' }));
      // An event stream with nothing to say yet is a healthy stream.
      setTimeout(() => settle({ code: grpc.status.OK, details: 'open' }), 1000).unref();
    });
  }

  async run(o: FuzzOptions): Promise<FuzzReport> {
    const log = o.log ?? (() => undefined);
    const rng = seededRng(o.seed);
    const gen = new RequestGen(rng, () => this.ids);
    const timeoutMs = o.callTimeoutMs ?? 30_000;
    const pid = this.env.d.proc.pid!;
    await this.ensureFixtures();
    const fdsBefore = await fdCount(pid);
    const report: FuzzReport = { seed: o.seed, requests: 0, durationMs: 0, methods: {}, codes: {}, failures: [], slowestMs: 0, leaks: { processes: [], mounts: [], fdsBefore, fdsAfter: 0 } };
    const order = [...this.methods];
    const t0 = Date.now();
    const maxN = o.requests ?? Infinity;
    const until = o.durationMs !== undefined ? t0 + o.durationMs : Infinity;
    for (let i = 0; i < maxN && Date.now() < until; i++) {
      if (i % order.length === 0) for (let j = order.length - 1; j > 0; j--) { const k = Math.floor(rng() * (j + 1)); [order[j], order[k]] = [order[k]!, order[j]!]; }
      const m = order[i % order.length]!;
      if (i % 40 === 39) {
        await this.prune(true);
        await this.ensureFixtures();
      }
      const req = this.request(gen, m, rng);
      const start = Date.now();
      const res = await this.call(m, req, timeoutMs);
      const ms = Date.now() - start;
      report.requests++;
      report.methods[m.name] = (report.methods[m.name] ?? 0) + 1;
      const name = grpc.status[res.code] ?? String(res.code);
      report.codes[name] = (report.codes[name] ?? 0) + 1;
      report.slowestMs = Math.max(report.slowestMs, ms);
      const fail = (why: string): void => {
        const line = `#${i} ${m.name}: ${why}: ${name} ${res.details.slice(0, 300)}`;
        report.failures.push(line);
        log(line);
      };
      if (BAD.has(res.code)) fail('INTERNAL/UNKNOWN');
      if (res.code === grpc.status.UNAVAILABLE && m.name !== 'PullImage') fail('connection lost');
      if (ms > timeoutMs + 2000) fail(`answered after ${ms} ms`);
      if (this.env.d.proc.exitCode !== null || this.env.d.proc.signalCode !== null) {
        fail('daemon exited');
        break;
      }
      try {
        await this.client.runtime('Version', {}, { timeoutMs: 5000 });
      } catch (err) {
        fail(`the connection stopped answering (${(err as Error).message.slice(0, 120)})`);
        break;
      }
      if (i % 200 === 199) log(`${i + 1} requests, ${JSON.stringify(report.codes)}`);
    }
    report.durationMs = Date.now() - t0;
    await this.prune(false);
    report.leaks = { ...(await leftovers(this.env.d.dir, pid)), fdsBefore, fdsAfter: await fdCount(pid) };
    return report;
  }
}

/** A pod config the mutations start from (no log directory: fuzzed containers then log in their bundle). */
function podLike(env: CtEnv): Record<string, unknown> {
  return {
    hostname: 'fz', labels: { app: 'fuzz' },
    linux: { cgroup_parent: '/berth-test-ct/fuzz', security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    log_directory: `${env.tmp}/fuzz-logs`,
  };
}

/**
 * The daemon's open fds, less the cgroup files the stats reader keeps open for pread (a cache of
 * bounded size, filled by the pods the run made).
 */
async function fdCount(pid: number): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (!target.startsWith('/sys/fs/cgroup/')) n++;
  }
  return n;
}

/** conmon/runtime processes and mounts that name the daemon's directory, once every pod is gone. */
async function leftovers(dir: string, daemonPid: number): Promise<{ processes: string[]; mounts: string[] }> {
  let ps = '';
  try {
    ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  } catch {
    ps = '';
  }
  const processes = ps.split('\n').filter((l) => l.includes(dir) && !l.trim().startsWith(`${daemonPid} `) && /conmon|runc|crun/.test(l));
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(dir) && !/\/pause-rootfs/.test(l));
  return { processes, mounts };
}

