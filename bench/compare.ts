// The benchmark of record for issue 13: berth and a private containerd (CONTAINERD_BIN, else
// `containerd` on PATH) measured by the same CRI calls, in alternated rounds on fresh state, never
// both running. Prints each figure's median over the rounds, the ratio and the target.
// `npm run bench -- compare [--quick] [--rounds N] [--only pulls,containers,pods]
// [--berth-handler runc,crun] [--no-containerd] [--json]`; alone: node dist/bench/compare.js.
// `--only` runs those stages of each round (start-up and idle RSS are always taken).
// `--berth-handler` (or BERTH_HANDLER) sets berth's default runtime handler; several, comma
// separated, run one berth per handler in each round, alternated, and print a table for each.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../e2e/harness.js';
import { buildBusyboxImage } from '../e2e/fixtures/busybox.js';
import { pushImage } from '../e2e/fixtures/oci.js';
import { startRegistry } from '../e2e/fixtures/registry.js';
import { CGROUP_ROOT, removeCgroups } from '../e2e/container-fixtures.js';
import { daemonToml, sh, writeNet } from '../e2e/sandbox-fixtures.js';
import { findContainerd, startContainerd } from './containerd.js';
import { measureRound, STAGES, type Figures, type Runtime, type Stage, type Workload } from './compare-figures.js';
import { buildBigImage } from './pull.js';
import { summarize, timeMs } from './summary.js';

const BRIDGE = 'berth-cmp0';
const CONTAINERD = 'containerd';

/** A target is either a ratio berth/containerd (at most) or an absolute bound on berth's figure. */
interface Row {
  key: string;
  label: string;
  ratio?: number;
  max?: number;
}

const ROWS: Row[] = [
  { key: 'idle_rss_mib', label: 'idle RSS of the daemon (MiB)', max: 60 },
  { key: 'idle_rss_after_mib', label: 'idle RSS 10 s after the round (MiB)', max: 60 },
  { key: 'pull_big_s', label: 'PullImage 100 MiB, 5 layers (s)', ratio: 0.67 },
  { key: 'pull_small_ms', label: 'PullImage 1.4 MB layer (ms)', ratio: 0.5 },
  { key: 'create_ms', label: 'CreateContainer (ms)', ratio: 1 },
  { key: 'remove_ms', label: 'RemoveContainer (ms)', ratio: 1 },
  { key: 'lifecycle_ms', label: 'create+start+stop+remove (ms)', ratio: 0.6 },
  { key: 'container_status_ms', label: 'ContainerStatus (ms)', ratio: 1 },
  { key: 'pod_status_ms', label: 'PodSandboxStatus (ms)', ratio: 1 },
  { key: 'image_status_ms', label: 'ImageStatus (ms)', ratio: 1 },
  { key: 'list_images_ms', label: 'ListImages (ms)', ratio: 1 },
  { key: 'cpu_polling_pct', label: 'daemon CPU under polling (% of a core)', max: 1 },
  { key: 'exec_sync_ms', label: 'ExecSync `true` (ms)', ratio: 0.7 },
  { key: 'mem_per_pod_mib', label: 'memory per running pod, daemon + helpers, RSS (MiB)', max: 1.5 },
  { key: 'mem_per_pod_pss_mib', label: 'memory per running pod, PSS: shared pages counted once (MiB)', max: 1.5 },
  { key: 'startup_ms', label: 'start-up to the first answered call (ms)', max: 150 },
];

interface Options {
  rounds: number;
  json: boolean;
  /** berth's default runtime handler per berth run; [''] keeps berth's own default. */
  berthHandlers?: string[];
  /** false: berth alone (`--no-containerd`). */
  containerd?: boolean;
  workload: Omit<Workload, 'bigRef' | 'smallRef' | 'imageRef' | 'logDir' | 'cgroupParent'>;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const r = argv.indexOf('--rounds');
  const o = argv.indexOf('--only');
  const only = o >= 0 ? (argv[o + 1] ?? '').split(',') : undefined;
  const unknown = only?.filter((s) => !(STAGES as readonly string[]).includes(s));
  if (unknown?.length) throw new Error(`--only: unknown stage ${unknown.join(', ')} (stages: ${STAGES.join(', ')})`);
  const h = argv.indexOf('--berth-handler');
  const handlers = (h >= 0 ? argv[h + 1] ?? '' : process.env.BERTH_HANDLER ?? '').split(',').filter(Boolean);
  return {
    rounds: r >= 0 ? Number(argv[r + 1]) : quick ? 1 : 2,
    json: argv.includes('--json'),
    berthHandlers: handlers.length ? handlers : [''],
    containerd: !argv.includes('--no-containerd'),
    workload: { ...(quick ? { n: 5, pods: 5, pollSeconds: 10 } : { n: 20, pods: 20, pollSeconds: 30 }), ...(only ? { only: only as Stage[] } : {}) },
  };
}

async function startBerth(netDir: string, registry: string, handler: string): Promise<Runtime> {
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  const runtime = handler ? `[runtime]\ndefault_handler = "${handler}"\n` : '';
  const toml = `${daemonToml(netDir)}[registry]\ninsecure = ["${registry}"]\n${runtime}`;
  const startupMs = await timeMs(async () => {
    d = await startDaemon({ logLevel: 'info', toml });
    await d.client.runtime('Version', {});
  });
  const daemon = d!;
  return {
    client: daemon.client, pid: daemon.proc.pid!, helperMark: daemon.dir, startupMs,
    async stop() {
      for (const s of (await daemon.client.runtime('ListPodSandbox', {})).items) {
        await daemon.client.runtime('StopPodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
        await daemon.client.runtime('RemovePodSandbox', { pod_sandbox_id: s.id }).catch(() => undefined);
      }
      await daemon.stop();
      await daemon.cleanup();
    },
  };
}

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function table(berth: Figures, ctd: Figures | undefined, ctdName: string, berthName: string): string {
  const lines = [`| metric | ${ctdName} | ${berthName} | berth/containerd | target | met |`, '|---|---|---|---|---|---|'];
  for (const r of ROWS) {
    if (!(r.key in berth)) continue; // a stage left out with --only
    const b = berth[r.key];
    const c = ctd?.[r.key];
    const ratio = b !== undefined && c ? b / c : undefined;
    const target = r.ratio !== undefined ? `≤ ${r.ratio}× containerd` : `≤ ${r.max}`;
    const met = r.ratio !== undefined ? (ratio === undefined ? '?' : ratio <= r.ratio ? 'yes' : 'no') : b !== undefined && b <= r.max! ? 'yes' : 'no';
    lines.push(`| ${r.label} | ${fmt(c)} | ${fmt(b)} | ${ratio === undefined ? '—' : ratio.toFixed(2)} | ${target} | ${met} |`);
  }
  return lines.join('\n');
}

/** Per figure, the median over rounds. */
function medians(rounds: Figures[]): Figures {
  const out: Figures = {};
  for (const k of Object.keys(rounds[0] ?? {})) out[k] = summarize(rounds.map((r) => r[k]!)).median_ms;
  return out;
}

export async function benchCompare(opts: Options): Promise<{ table: string; rounds: Record<string, Figures[]> }> {
  // First: a containerd that cannot run stops the bench before it starts anything to clean up.
  const ctd = await findContainerd();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'berth-cmp-'));
  const netDir = path.join(tmp, 'net.d');
  await writeNet(netDir, '10-cmp.conflist', { bridge: BRIDGE, subnet: '10.209.0.0/16', dataDir: path.join(tmp, 'ipam'), portmap: false });
  const reg = await startRegistry();
  const rounds: Record<string, Figures[]> = {};
  try {
    const w: Workload = {
      ...opts.workload, logDir: path.join(tmp, 'logs'), cgroupParent: `${CGROUP_ROOT}/bench`,
      bigRef: `${reg.host}/bench/big:1`, smallRef: `${reg.host}/bench/small:1`, imageRef: `${reg.host}/bench/busybox:1`,
    };
    await pushImage(reg.host, 'bench/big', '1', buildBigImage());
    await pushImage(reg.host, 'bench/small', '1', buildBusyboxImage({ config: { Cmd: ['sh'], Env: [`SMALL=${Date.now()}`] } }));
    await pushImage(reg.host, 'bench/busybox', '1', buildBusyboxImage());
    // containerd runs a sandbox container per pod; busybox sleeping stands in for pause.
    await pushImage(reg.host, 'bench/pause', '1', buildBusyboxImage({ config: { Entrypoint: ['/bin/sleep', '2147483647'] } }));
    // One berth per handler asked for, named by the handler it runs containers with.
    const berthName = (h: string) => `berth (${h || 'its default handler'})`;
    const starters: Record<string, () => Promise<Runtime>> = {};
    const handlers = opts.berthHandlers ?? [''];
    for (const h of handlers) starters[berthName(h)] = () => startBerth(netDir, reg.host, h);
    if (ctd && opts.containerd !== false) {
      starters[CONTAINERD] = async () => {
        // bench/containerd.ts configures runc as containerd's only runtime.
        const c = await startContainerd(ctd.bin, ctd.ctr, { netDir, registry: reg.host, sandboxImage: `${reg.host}/bench/pause:1` });
        return { client: c.client!, pid: c.proc.pid!, helperMark: c.socket, startupMs: c.startupMs, stop: c.stop };
      };
    }
    for (let i = 0; i < opts.rounds; i++) {
      // Alternate which goes first, so neither always meets the machine in the same state.
      const order = i % 2 ? Object.keys(starters).reverse() : Object.keys(starters);
      for (const name of order) {
        console.error(`compare: round ${i + 1}/${opts.rounds}: ${name}`);
        const rt = await starters[name]!();
        try {
          (rounds[name] ??= []).push(await measureRound(rt, w));
        } finally {
          await rt.stop();
        }
      }
    }
    const ctdRounds = rounds[CONTAINERD];
    const ctdName = ctdRounds ? `containerd ${ctd!.version} (runc)` : ctd ? 'containerd (not run)' : 'containerd (not found: set CONTAINERD_BIN)';
    const tables = handlers.map((h) => table(medians(rounds[berthName(h)]!), ctdRounds ? medians(ctdRounds) : undefined, ctdName, berthName(h)));
    return { table: tables.join('\n\n'), rounds };
  } finally {
    await reg.stop();
    await removeCgroups();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  benchCompare(opts).then(
    (r) => console.log(opts.json ? JSON.stringify({ compare: r }, null, 2) : `${r.table}\n\nper round: ${JSON.stringify(r.rounds)}`),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
