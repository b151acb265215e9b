// Exec, Attach and PortForward: each checks the request and the object it names, then returns
// a single-use URL on berth's streaming server (pkg/streaming), where the client upgrades to
// SPDY/3.1 or WebSocket. ExecSync is the container module's.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../errors/errors.js';
import { spawnStdio } from '../streaming/host-exec.js';
import { ContainerTerminal } from '../streaming/container-terminal.js';
import { ConmonAttach } from '../streaming/conmon-attach.js';
import { NetnsDialer } from '../streaming/netns-dialer.js';
import { StreamingServer } from '../streaming/server.js';
import { TokenCacheFullError } from '../streaming/tokens.js';
import type { ExecProcess, StdioStreams, StreamingBackends, StreamRequest } from '../streaming/types.js';
import type { CriModule, DaemonContext } from './module.js';

declare module './module.js' {
  interface Services {
    streaming: StreamingServer;
  }
}

function containers(ctx: DaemonContext) {
  const svc = ctx.services.containers;
  if (!svc) throw new FailedPreconditionError('no container runtime is loaded in this berth build');
  return svc;
}

function sandboxes(ctx: DaemonContext) {
  const svc = ctx.services.sandboxes;
  if (!svc) throw new FailedPreconditionError('no pod sandbox runtime is loaded in this berth build');
  return svc;
}

/** What kubelet's streaming server checks before it hands out a URL. */
function checkStdio(what: string, r: { container_id: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
  if (!r.container_id) throw new InvalidArgumentError(`${what}: container_id is required`);
  if (r.tty && r.stderr) throw new InvalidArgumentError(`${what}: tty and stderr cannot both be true (a terminal has one output)`);
  if (!r.stdin && !r.stdout && !r.stderr) throw new InvalidArgumentError(`${what}: one of stdin, stdout or stderr must be set`);
}

/** The container, by id or unique prefix, which must be running to exec in or attach to. */
function runningContainer(ctx: DaemonContext, id: string): string {
  const c = containers(ctx).get(id);
  if (c.state !== 'CONTAINER_RUNNING') {
    throw new FailedPreconditionError(`container "${c.id}" is not running (state ${c.state})`);
  }
  return c.id;
}

/** The container service's argv for an exec that the caller runs itself (under a terminal). */
interface ExecCommandSource {
  execCommand(id: string, cmd: string[], env?: string[]): Promise<{ argv: string[]; cleanup(): Promise<void> }>;
}

/**
 * A TTY exec, as CRI-O does it: the exec process gets `terminal: true` and the runtime runs in
 * the foreground under a pseudo-terminal berth owns. The runtime makes the container's terminal,
 * relays it to ours, and follows our terminal's size (a resize is an ioctl on our master, the
 * kernel sends the runtime SIGWINCH). The runtime writes the process's pid, so that a vanished
 * client kills the process itself, not only the runtime in front of it.
 */
async function ttyExec(svc: ExecCommandSource, id: string, cmd: string[], io: StdioStreams): Promise<ExecProcess> {
  const { argv, cleanup } = await svc.execCommand(id, cmd, ['TERM=xterm']);
  const at = argv.indexOf('exec');
  const procFile = argv[argv.indexOf('--process') + 1];
  if (at < 0 || !procFile) throw new Error(`unexpected exec command from the container service: ${argv.join(' ')}`);
  const spec = JSON.parse(await readFile(procFile, 'utf8')) as { terminal?: boolean; consoleSize?: { height: number; width: number } };
  spec.terminal = true;
  // The runtime copies our terminal's size to the container's only after the process started;
  // consoleSize is applied before it runs, so a command that asks at once sees a real size.
  spec.consoleSize = { height: 24, width: 80 };
  await writeFile(procFile, JSON.stringify(spec));
  // The pid file alone in a directory: its appearance is watched (ContainerTerminal).
  const pidDir = await mkdtemp(path.join(os.tmpdir(), 'berth-exec-'));
  const pidFile = path.join(pidDir, 'pid');
  argv.splice(at + 1, 0, '--pid-file', pidFile);
  const terminal = new ContainerTerminal(pidFile);
  let proc: ExecProcess;
  try {
    proc = spawnStdio(argv, { ...io, resize: io.resize && terminal.follow(io.resize) });
  } catch (err) {
    terminal.close();
    await rm(pidDir, { recursive: true, force: true });
    throw err;
  }
  return {
    exited: proc.exited.finally(() => {
      terminal.close();
      return Promise.all([cleanup(), rm(pidDir, { recursive: true, force: true })]);
    }),
    kill() {
      void readFile(pidFile, 'utf8')
        .then((t) => process.kill(Number(t.trim()), 'SIGKILL'))
        .catch(() => {})
        .finally(() => proc.kill());
    },
  };
}

export function streamingBackends(ctx: DaemonContext): StreamingBackends {
  return {
    exec: {
      exec: (id, cmd, io) => {
        const svc = containers(ctx);
        if (io.tty && 'execCommand' in svc) return ttyExec(svc as unknown as ExecCommandSource, id, cmd, io);
        return svc.exec(id, cmd, io);
      },
    },
    attach: {
      // The state is checked again here: the container may have ended since the Attach rpc.
      attach: (id, io) =>
        new ConmonAttach({
          attachSocketPath: (cid) => containers(ctx).attachSocketPath(cid),
          controlPath: (cid) => containers(ctx).controlPath(cid),
        }).attach(runningContainer(ctx, id), io),
    },
    portForward: {
      // A pod in the host's network namespace has no netnsPath: its ports are the host's.
      open: async (sandboxId) => new NetnsDialer(sandboxes(ctx).get(sandboxId).netnsPath),
    },
  };
}

export const streamingModule: CriModule = {
  name: 'streaming',
  async start(ctx) {
    const server = new StreamingServer({ listen: ctx.config.streaming.listen, backends: streamingBackends(ctx), log: ctx.log });
    await server.start();
    ctx.services.streaming = server;
    const url = (req: StreamRequest) => {
      try {
        return server.url(req);
      } catch (err) {
        if (err instanceof TokenCacheFullError) throw new FailedPreconditionError(err.message);
        throw err;
      }
    };
    return {
      handlers: {
        Exec: async (req) => {
          checkStdio('Exec', req);
          if (!req.cmd.length) throw new InvalidArgumentError('Exec: cmd is required');
          const containerId = runningContainer(ctx, req.container_id);
          return { url: url({ kind: 'exec', params: { containerId, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr } }) };
        },
        Attach: async (req) => {
          checkStdio('Attach', req);
          const containerId = runningContainer(ctx, req.container_id);
          return { url: url({ kind: 'attach', params: { containerId, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr } }) };
        },
        PortForward: async (req) => {
          if (!req.pod_sandbox_id) throw new InvalidArgumentError('PortForward: pod_sandbox_id is required');
          const bad = req.port.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
          if (bad !== undefined) throw new InvalidArgumentError(`PortForward: port ${bad} is out of range 1-65535`);
          const sb = sandboxes(ctx).get(req.pod_sandbox_id);
          if (sb.state !== 'SANDBOX_READY') throw new FailedPreconditionError(`pod sandbox "${sb.id}" is not ready`);
          return { url: url({ kind: 'portforward', params: { sandboxId: sb.id, ports: req.port } }) };
        },
      },
      close: () => server.close(),
    };
  },
};
