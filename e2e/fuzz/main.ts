// The CRI request fuzzer as a command, for long runs:
//   node dist/e2e/fuzz/main.js [--seed N] [--minutes M] [--requests N]
// It starts its own daemon, registry and CNI network (as the container e2e tests do; run it
// under the host lock), prints progress, then a JSON report; exit 1 if any promise was broken.
import { startCtEnv } from '../container-fixtures.js';
import { Fuzzer } from './runner.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const seed = arg('seed', Date.now() % 100_000);
const minutes = arg('minutes', 10);
const requests = arg('requests', Infinity);
const env = await startCtEnv();
let ok = false;
try {
  const t = (s: string): void => console.error(`[fuzz ${new Date().toISOString()}] ${s}`);
  t(`seed ${seed}, ${minutes} min, daemon ${env.d.dir}`);
  const report = await new Fuzzer(env).run({ seed, durationMs: minutes * 60_000, requests, log: t });
  console.log(JSON.stringify(report, null, 2));
  ok = !report.failures.length && !report.leaks.processes.length && !report.leaks.mounts.length;
} finally {
  await env.close();
}
process.exit(ok ? 0 : 1);
