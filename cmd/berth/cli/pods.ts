// Pod commands: pods, rmp.
import { rm } from 'node:fs/promises';
import { formatFlag, type Flags } from './args.js';
import { LOG_DIR_ANNOTATION } from './runspec.js';
import { CliError, forEachArg, type Cli } from './context.js';
import { ago, printList, shortId, stateName } from './output.js';
import { listPods, resolvePod, type Pod } from './resolve.js';

export async function pods(cli: Cli, flags: Flags): Promise<void> {
  const format = formatFlag(flags);
  const list = (await listPods(cli)).sort((a, b) => (BigInt(b.created_at) > BigInt(a.created_at) ? 1 : -1));
  printList(cli, { format, quiet: !!flags.quiet }, list, (p) => p.id, ['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME'], (p) => [
    shortId(p.id), ago(p.created_at), stateName(p.state), p.metadata?.name ?? '', p.metadata?.namespace ?? '', String(p.metadata?.attempt ?? 0), p.runtime_handler || '(default)',
  ]);
}

/** Stops (with force) and removes a pod; a pod `berth run` made loses its log directory too. */
export async function removePod(cli: Cli, p: Pick<Pod, 'id' | 'state' | 'annotations'>, force: boolean): Promise<void> {
  if (p.state === 'SANDBOX_READY') {
    if (!force) throw new CliError(`pod ${shortId(p.id)} is ready: stop it first, or use rmp -f`);
    await cli.cri.runtime('StopPodSandbox', { pod_sandbox_id: p.id });
  }
  await cli.cri.runtime('RemovePodSandbox', { pod_sandbox_id: p.id });
  const logDir = p.annotations[LOG_DIR_ANNOTATION];
  if (logDir) await rm(logDir, { recursive: true, force: true });
}

export async function rmp(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const all = await listPods(cli);
  return forEachArg(cli, args, async (key) => {
    const p = await resolvePod(cli, key, all);
    await removePod(cli, p, !!flags.force);
    cli.print(p.id);
  });
}
