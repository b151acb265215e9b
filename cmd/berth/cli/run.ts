// run: a pod and a container through CRI (pulling the image if missing), then attach or follow
// its output and exit with its code. debug: a temporary interactive container in a pod.
import { randomBytes } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { RemoteCommandError } from '../../../pkg/client/remotecommand.js';
import { strFlag, type Flags } from './args.js';
import { CliError, type Cli } from './context.js';
import { removeContainer, waitForExit } from './containers.js';
import { follow, LogParser, type LogLine } from './logfile.js';
import { pullWithProgress } from './images.js';
import { removePod } from './pods.js';
import { resolveContainer, resolvePod, type Pod } from './resolve.js';
import { buildRunSpec, CLI_LABEL } from './runspec.js';
import { attachTo, session } from './stream.js';

export const DEFAULT_DEBUG_IMAGE = 'docker.io/library/busybox:latest';

/** The image's ID, pulled first (progress on stderr) when it is not present. */
async function ensureImage(cli: Cli, ref: string, creds: string | undefined): Promise<string> {
  const st = await cli.cri.image('ImageStatus', { image: { image: ref } });
  if (st.image) return st.image.id;
  process.stderr.write(`Unable to find image '${ref}' locally\n`);
  return pullWithProgress(cli, ref, creds, process.stderr);
}

function printLines(lines: LogLine[]): void {
  for (const l of lines) (l.stream === 'stderr' ? process.stderr : process.stdout).write(l.text + '\n');
}

/** Prints the container's output from its log file until it exits; returns the exit code. */
async function followOutput(cli: Cli, id: string): Promise<number> {
  const st = (await cli.cri.runtime('ContainerStatus', { container_id: id })).status;
  const exit = waitForExit(cli, id);
  if (!st?.log_path) return exit;
  const parser = new LogParser();
  await follow(st.log_path, 0, (t) => printLines(parser.feed(t)), exit.catch(() => undefined));
  return exit;
}

/** The container ended before the attach: said by the Attach rpc, or by the streaming server once connected. */
function isNotRunning(err: unknown): boolean {
  const refused = err instanceof RemoteCommandError || (err as { code?: number }).code === GrpcStatus.FAILED_PRECONDITION;
  return refused && /not running/.test((err as Error).message);
}

export async function run(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const [ref, ...argv] = args;
  const imageId = await ensureImage(cli, ref!, strFlag(flags, 'creds'));
  const spec = buildRunSpec(flags, imageId, argv);
  const { pod_sandbox_id: podId } = await cli.cri.runtime('RunPodSandbox', { config: spec.pod }, { timeoutMs: 240_000 });
  const pod = { id: podId, state: 'SANDBOX_READY' as const, annotations: spec.pod.annotations ?? {} };
  let id: string;
  try {
    ({ container_id: id } = await cli.cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: spec.container, sandbox_config: spec.pod }));
    await cli.cri.runtime('StartContainer', { container_id: id });
  } catch (err) {
    await removePod(cli, pod, true).catch(() => undefined);
    throw err;
  }
  if (flags.detach) {
    cli.print(id);
    return 0;
  }
  let code: number;
  try {
    if (flags.interactive || flags.tty) {
      try {
        await attachTo(cli, id, !!flags.interactive);
      } catch (err) {
        // A container that ended before we attached: its output is in the log.
        if (!isNotRunning(err)) throw err;
        return await followOutput(cli, id);
      }
      code = await waitForExit(cli, id);
    } else {
      code = await followOutput(cli, id);
    }
  } finally {
    if (flags.rm) await removePod(cli, pod, true).catch((err: Error) => cli.warn(`--rm: ${err.message}`));
  }
  return code;
}

/** A debug container joins the pod's network, IPC and UTS namespaces, and with a target its PID namespace. */
export async function debug(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const [podKey, ...cmd] = args;
  const pod: Pod = await resolvePod(cli, podKey!);
  if (pod.state !== 'SANDBOX_READY') throw new CliError(`pod ${pod.metadata?.name} is not ready`);
  const targetKey = strFlag(flags, 'target');
  let targetId = '';
  if (targetKey) {
    const target = await resolveContainer(cli, targetKey, (await cli.cri.runtime('ListContainers', { filter: { pod_sandbox_id: pod.id } })).containers);
    if (target.state !== 'CONTAINER_RUNNING') throw new CliError(`target container ${target.metadata?.name} is not running`);
    targetId = target.id;
  }
  const imageId = await ensureImage(cli, strFlag(flags, 'image') ?? DEFAULT_DEBUG_IMAGE, strFlag(flags, 'creds'));
  const name = `debugger-${randomBytes(3).toString('hex')}`;
  const tty = !!process.stdin.isTTY;
  const { container_id: id } = await cli.cri.runtime('CreateContainer', {
    pod_sandbox_id: pod.id,
    config: {
      metadata: { name, attempt: 0 },
      image: { image: imageId },
      args: cmd,
      stdin: true,
      stdin_once: true,
      tty,
      log_path: `${name}.log`,
      labels: { [CLI_LABEL]: 'debug' },
      linux: { security_context: { namespace_options: { network: 'POD', ipc: 'POD', pid: targetId ? 'TARGET' : 'CONTAINER', target_id: targetId } } },
    },
  });
  try {
    await cli.cri.runtime('StartContainer', { container_id: id });
    try {
      const { url } = await cli.cri.runtime('Attach', { container_id: id, tty, stdin: true, stdout: true, stderr: !tty });
      await session(url, { tty, stdin: true });
    } catch (err) {
      // A command that ended before we attached: its output is in the log.
      if (!isNotRunning(err)) throw err;
      return await followOutput(cli, id);
    }
    return await waitForExit(cli, id);
  } finally {
    const c = await resolveContainer(cli, id).catch(() => undefined);
    if (c) await removeContainer(cli, c, true).catch((err: Error) => cli.warn(`removing debug container: ${err.message}`));
  }
}
