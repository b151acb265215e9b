// The cost of starting a child process from the daemon, which every runc, conmon, CNI and exec
// call pays: `/bin/true` through pkg/process's runner, node's fork-based spawn against
// posix_spawn, at padded resident sizes (fork copies the page tables, so its cost grows with
// RSS). Each method runs in its own node process (the method is chosen once per process),
// alternated. Figures: the event loop's block per start (the synchronous part of `start()`)
// and start → exit reaped. Run alone: node dist/bench/spawn.js [runs=200] [rounds=2]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { start } from '../pkg/process/run.js';
import { spawnMethod } from '../pkg/process/spawn.js';
import { runAsMain, summarize, type Summary } from './summary.js';

const PADS_MIB = [0, 100, 250];

interface WorkerResult {
  method: string;
  rss_mib: number;
  block: Summary;
  start_to_exit: Summary;
}

/** In a worker process: pad the heap to `padMiB`, then time `runs` starts of /bin/true. */
async function worker(padMiB: number, runs: number): Promise<WorkerResult> {
  const pad: Buffer[] = [];
  for (let i = 0; i < padMiB; i++) pad.push(Buffer.alloc(1 << 20, i & 0xff));
  const block: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < runs + 10; i++) {
    const t0 = process.hrtime.bigint();
    const p = start('/bin/true', { stdout: 'ignore', stderr: 'ignore' });
    const t1 = process.hrtime.bigint();
    await p.result;
    const t2 = process.hrtime.bigint();
    if (i < 10) continue; // warm-up
    block.push(Number(t1 - t0) / 1e6);
    total.push(Number(t2 - t0) / 1e6);
  }
  return { method: spawnMethod(), rss_mib: Math.round(process.memoryUsage().rss / 2 ** 20), block: summarize(block), start_to_exit: summarize(total) };
}

async function main(args: string[]): Promise<Record<string, unknown>> {
  if (args[0] === '--worker') return worker(Number(args[1]), Number(args[2])) as unknown as Record<string, unknown>;
  const runs = Number(args[0] ?? 200);
  const rounds = Number(args[1] ?? 2);
  const self = fileURLToPath(import.meta.url);
  const out: Record<string, unknown>[] = [];
  for (const pad of PADS_MIB) {
    for (let round = 0; round < rounds; round++) {
      // Alternated, and each round starts with the other method.
      const order = round % 2 ? ['posix', 'node'] : ['node', 'posix'];
      for (const m of order) {
        const env = { ...process.env, BERTH_SPAWN: m };
        const json = execFileSync(process.execPath, [self, '--worker', String(pad), String(runs)], { env, encoding: 'utf8' });
        const r = (JSON.parse(json) as { spawn: WorkerResult }).spawn;
        console.error(`pad ${pad} MiB, ${r.method}: rss ${r.rss_mib} MiB, block median ${r.block.median_ms} ms (p95 ${r.block.p95_ms}), start→exit median ${r.start_to_exit.median_ms} ms`);
        out.push({ pad_mib: pad, round, ...r });
      }
    }
  }
  return { runs, results: out };
}

runAsMain(import.meta.url, 'spawn', main);
