// Node-wide commands: info, events, stats, prune.
import { formatFlag, type Flags } from './args.js';
import { forEachArg, type Cli } from './context.js';
import { removeContainer } from './containers.js';
import { humanBytes, shortId, table } from './output.js';
import { removePod } from './pods.js';
import { CLI_LABEL } from './runspec.js';
import { listContainers, listPods, resolveContainer, type Container, type Image } from './resolve.js';

export async function info(cli: Cli, flags: Flags): Promise<void> {
  const [version, status, fs] = await Promise.all([
    cli.cri.runtime('Version', { version: 'v1' }),
    cli.cri.runtime('Status', { verbose: true }),
    cli.cri.image('ImageFsInfo', {}),
  ]);
  if (formatFlag(flags) === 'json') {
    cli.print(JSON.stringify({ socket: cli.socket, version, status, imageFs: fs }, null, 2));
    return;
  }
  cli.print(`Socket:           ${cli.socket}`);
  cli.print(`Runtime:          ${version.runtime_name} ${version.runtime_version} (CRI ${version.runtime_api_version})`);
  for (const c of status.status?.conditions ?? []) cli.print(`${(c.type + ':').padEnd(18)}${c.status ? 'true' : `false (${c.reason}: ${c.message})`}`);
  cli.print(`Runtime handlers: ${status.runtime_handlers.map((h) => h.name || '(default)').join(', ')}`);
  for (const f of fs.image_filesystems) cli.print(`Image store:      ${f.fs_id?.mountpoint} (${humanBytes(Number(f.used_bytes?.value ?? 0))}, ${f.inodes_used?.value ?? 0} inodes)`);
  for (const f of fs.container_filesystems) cli.print(`Writable layers:  ${f.fs_id?.mountpoint} (${humanBytes(Number(f.used_bytes?.value ?? 0))})`);
  const [containers, pods] = await Promise.all([listContainers(cli), listPods(cli)]);
  const running = containers.filter((c) => c.state === 'CONTAINER_RUNNING').length;
  cli.print(`Containers:       ${containers.length} (${running} running)`);
  cli.print(`Pods:             ${pods.length} (${pods.filter((p) => p.state === 'SANDBOX_READY').length} ready)`);
}

export async function events(cli: Cli, flags: Flags): Promise<void> {
  const json = formatFlag(flags) === 'json';
  const stream = cli.cri.events();
  await new Promise<void>((resolve, reject) => {
    process.once('SIGINT', () => resolve());
    stream.on('data', (e: { container_id: string; container_event_type: string; created_at: string; pod_sandbox_status: { id: string; metadata: { name: string } | null } | null }) => {
      if (json) return cli.print(JSON.stringify(e));
      const at = new Date(Number(BigInt(e.created_at) / 1_000_000n)).toISOString();
      const type = e.container_event_type.replace(/^CONTAINER_|_EVENT$/g, '').toLowerCase();
      cli.print(`${at}  ${type.padEnd(7)}  container ${shortId(e.container_id)}  pod ${e.pod_sandbox_status?.metadata?.name ?? ''} (${shortId(e.pod_sandbox_status?.id ?? '')})`);
    });
    stream.on('error', reject);
    stream.on('end', resolve);
  });
  stream.cancel();
}

interface StatRow {
  id: string;
  name: string;
  cpu: number;
  memory: number;
  rx: number;
  tx: number;
}

async function sample(cli: Cli, ids: Set<string> | undefined): Promise<StatRow[]> {
  const [cs, ps, containers] = await Promise.all([
    cli.cri.runtime('ListContainerStats', {}),
    cli.cri.runtime('ListPodSandboxStats', {}),
    listContainers(cli),
  ]);
  const podOf = new Map(containers.map((c) => [c.id, c.pod_sandbox_id]));
  const net = new Map(ps.stats.map((p) => {
    const i = p.linux?.network?.default_interface;
    return [p.attributes?.id ?? '', { rx: Number(i?.rx_bytes?.value ?? 0), tx: Number(i?.tx_bytes?.value ?? 0) }];
  }));
  return cs.stats
    .filter((s) => (ids ? ids.has(s.attributes?.id ?? '') : true))
    .map((s) => {
      const id = s.attributes?.id ?? '';
      const n = net.get(podOf.get(id) ?? '');
      return {
        id, name: s.attributes?.metadata?.name ?? '',
        cpu: Number(s.cpu?.usage_nano_cores?.value ?? 0) / 1e7,
        memory: Number(s.memory?.working_set_bytes?.value ?? 0),
        rx: n?.rx ?? 0, tx: n?.tx ?? 0,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function statsTable(rows: StatRow[]): string {
  return table(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE', 'NET I/O (POD)'], rows.map((r) => [
    shortId(r.id), r.name, `${r.cpu.toFixed(2)}%`, humanBytes(r.memory), `${humanBytes(r.rx)} / ${humanBytes(r.tx)}`,
  ]));
}

export async function stats(cli: Cli, flags: Flags, args: string[]): Promise<void> {
  const json = formatFlag(flags) === 'json';
  const ids = args.length ? new Set(await Promise.all(args.map(async (a) => (await resolveContainer(cli, a)).id))) : undefined;
  const once = flags['no-stream'] || !process.stdout.isTTY;
  if (once) {
    const rows = await sample(cli, ids);
    cli.out.write(json ? JSON.stringify(rows, null, 2) + '\n' : statsTable(rows));
    return;
  }
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  while (!stopped) {
    const rows = await sample(cli, ids);
    // Clear the screen and draw the table from the top, as `docker stats` does.
    cli.out.write('\x1b[2J\x1b[H' + statsTable(rows));
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Images no container uses, pinned ones aside. A container names its image by ID (image_id) and by repo digest (image_ref). */
export function unusedImages(containers: Container[], images: Image[]): Image[] {
  const used = new Set(containers.flatMap((c) => [c.image_id, c.image_ref]));
  return images.filter((i) => !i.pinned && ![i.id, ...i.repo_digests].some((k) => used.has(k)));
}

export async function prune(cli: Cli, flags: Flags): Promise<number> {
  const chosen = flags.containers || flags.pods || flags.images;
  const [doContainers, doPods, doImages] = chosen ? [!!flags.containers, !!flags.pods, !!flags.images] : [true, true, false];
  let code = 0;
  if (doContainers) {
    const exited = (await listContainers(cli)).filter((c) => c.state === 'CONTAINER_EXITED' || c.state === 'CONTAINER_CREATED');
    code |= await forEachArg(cli, exited.map((c) => c.id), async (id) => {
      await removeContainer(cli, exited.find((c) => c.id === id)!, false);
      cli.print(`Deleted container ${id}`);
    });
  }
  if (doPods) {
    // Pods `berth run` made whose containers are all gone or exited, and every pod not ready.
    const live = new Set((await listContainers(cli)).filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => c.pod_sandbox_id));
    const idle = (await listPods(cli)).filter((p) => p.state !== 'SANDBOX_READY' || (p.labels[CLI_LABEL] === 'run' && !live.has(p.id)));
    code |= await forEachArg(cli, idle.map((p) => p.id), async (id) => {
      await removePod(cli, idle.find((p) => p.id === id)!, true);
      cli.print(`Deleted pod ${id}`);
    });
  }
  if (doImages) {
    const unused = unusedImages(await listContainers(cli), (await cli.cri.image('ListImages', {})).images);
    code |= await forEachArg(cli, unused.map((i) => i.id), async (id) => {
      await cli.cri.image('RemoveImage', { image: { image: id } });
      cli.print(`Deleted image ${id}`);
    });
  }
  return code;
}
