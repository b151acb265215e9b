// Container commands: ps, inspect, logs, stop, rm; and waiting for a container's exit.
import { formatFlag, intFlag, parseDuration, strFlag, UsageError, type Flags } from './args.js';
import { CliError, forEachArg, type Cli } from './context.js';
import { filterLines, follow, LogParser, readFrom, timeMs, utcTime, type LogLine } from './logfile.js';
import { ago, printList, shortId, stateName } from './output.js';
import { imageNamer, listContainers, listPods, resolveContainer, resolvePod, type Container } from './resolve.js';

export async function ps(cli: Cli, flags: Flags): Promise<void> {
  const format = formatFlag(flags);
  const [all, pods, images] = await Promise.all([listContainers(cli), listPods(cli), cli.cri.image('ListImages', {})]);
  const podKey = strFlag(flags, 'pod');
  const pod = podKey ? await resolvePod(cli, podKey, pods) : undefined;
  const list = all
    .filter((c) => flags.all || c.state === 'CONTAINER_RUNNING')
    .filter((c) => !pod || c.pod_sandbox_id === pod.id)
    .sort((a, b) => (BigInt(b.created_at) > BigInt(a.created_at) ? 1 : -1));
  const podName = new Map(pods.map((p) => [p.id, p.metadata?.name ?? '']));
  const imageName = imageNamer(images.images);
  printList(cli, { format, quiet: !!flags.quiet }, list, (c) => c.id, ['CONTAINER ID', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD'], (c) => [
    shortId(c.id), imageName(c.image_ref || c.image?.image || ''), ago(c.created_at), stateName(c.state), c.metadata?.name ?? '',
    String(c.metadata?.attempt ?? 0), shortId(c.pod_sandbox_id), podName.get(c.pod_sandbox_id) ?? '',
  ]);
}

/** `info` maps hold JSON strings (verbose status): show them as JSON. */
function parsedInfo(info: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** A container, pod or image as JSON, whichever the key names first. */
async function inspectOne(cli: Cli, key: string): Promise<Record<string, unknown>> {
  const [containers, pods] = await Promise.all([listContainers(cli), listPods(cli)]);
  try {
    const c = await resolveContainer(cli, key, containers);
    const st = await cli.cri.runtime('ContainerStatus', { container_id: c.id, verbose: true });
    return { Type: 'container', ...st.status, info: parsedInfo(st.info) };
  } catch (err) {
    if (!(err instanceof CliError) || !/^no such/.test(err.message)) throw err;
  }
  try {
    const p = await resolvePod(cli, key, pods);
    const st = await cli.cri.runtime('PodSandboxStatus', { pod_sandbox_id: p.id, verbose: true });
    return { Type: 'pod', ...st.status, info: parsedInfo(st.info), containers_statuses: st.containers_statuses };
  } catch (err) {
    if (!(err instanceof CliError) || !/^no such/.test(err.message)) throw err;
  }
  const img = await cli.cri.image('ImageStatus', { image: { image: key }, verbose: true });
  if (!img.image) throw new CliError(`no such container, pod or image: ${key}`);
  return { Type: 'image', ...img.image, info: parsedInfo(img.info) };
}

export async function inspect(cli: Cli, _flags: Flags, args: string[]): Promise<number> {
  const found: Record<string, unknown>[] = [];
  const code = await forEachArg(cli, args, async (key) => void found.push(await inspectOne(cli, key)));
  cli.print(JSON.stringify(found, null, 2));
  return code;
}

/** Resolves with the container's exit code once it has exited (events, with a slow status check as a net). */
export async function waitForExit(cli: Cli, id: string): Promise<number> {
  const stream = cli.cri.events();
  let net: NodeJS.Timeout | undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      const settle = () =>
        void cli.cri.runtime('ContainerStatus', { container_id: id }).then((st) => {
          if (st.status?.state === 'CONTAINER_EXITED') resolve(st.status.exit_code);
        }, reject);
      stream.on('data', (e: { container_id: string; container_event_type: string }) => {
        if (e.container_id === id && e.container_event_type === 'CONTAINER_STOPPED_EVENT') settle();
        if (e.container_id === id && e.container_event_type === 'CONTAINER_DELETED_EVENT') reject(new CliError(`container ${shortId(id)} was removed`));
      });
      stream.on('error', () => {});
      settle();
      // The events stream may open only after an exit: look again now and then.
      net = setInterval(settle, 2000);
    });
  } finally {
    clearInterval(net);
    stream.cancel();
  }
}

function writeLines(lines: LogLine[], timestamps: boolean): void {
  for (const l of lines) (l.stream === 'stderr' ? process.stderr : process.stdout).write(`${timestamps ? `${utcTime(l.time)} ` : ''}${l.text}\n`);
}

export async function logs(cli: Cli, flags: Flags, args: string[]): Promise<void> {
  const c = await resolveContainer(cli, args[0]!);
  const st = (await cli.cri.runtime('ContainerStatus', { container_id: c.id })).status;
  if (!st?.log_path) throw new CliError(`container ${shortId(c.id)} has no log file`);
  const since = strFlag(flags, 'since');
  let sinceMs: number | undefined;
  if (since) sinceMs = /^\d{4}-/.test(since) ? timeMs(since) : Date.now() - parseDuration(since);
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) throw new UsageError(`--since: "${since}" is not a duration or an RFC 3339 time`);
  const tail = flags.tail === undefined ? undefined : intFlag(flags, 'tail', 0);
  const ts = !!flags.timestamps;
  const parser = new LogParser();
  let first;
  try {
    first = await readFrom(st.log_path, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    first = { text: '', offset: 0 };
  }
  writeLines(filterLines(parser.feed(first.text), { tail, sinceMs }), ts);
  if (!flags.follow || st.state !== 'CONTAINER_RUNNING') return;
  await follow(st.log_path, first.offset, (t) => writeLines(filterLines(parser.feed(t), { sinceMs }), ts), waitForExit(cli, c.id).catch(() => undefined));
}

function stopTimeout(flags: Flags): number {
  return intFlag(flags, 'time', 10);
}

export function stop(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const timeout = stopTimeout(flags);
  return forEachArg(cli, args, async (key) => {
    const c = await resolveContainer(cli, key);
    await cli.cri.runtime('StopContainer', { container_id: c.id, timeout: String(timeout) }, { timeoutMs: (timeout + 60) * 1000 });
    cli.print(c.id);
  });
}

export async function removeContainer(cli: Cli, c: Container, force: boolean): Promise<void> {
  if (c.state === 'CONTAINER_RUNNING') {
    if (!force) throw new CliError(`container ${shortId(c.id)} is running: stop it first, or use rm -f`);
    await cli.cri.runtime('StopContainer', { container_id: c.id, timeout: '0' });
  }
  await cli.cri.runtime('RemoveContainer', { container_id: c.id });
}

export async function rm(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const all = await listContainers(cli);
  return forEachArg(cli, args, async (key) => {
    const c = await resolveContainer(cli, key, all);
    await removeContainer(cli, c, !!flags.force);
    cli.print(c.id);
  });
}
