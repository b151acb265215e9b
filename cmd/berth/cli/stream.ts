// Commands over berth's streaming server: exec, attach, port-forward.
import net from 'node:net';
import { forwardConnection } from '../../../pkg/client/portforward.js';
import { remoteCommand } from '../../../pkg/client/remotecommand.js';
import { strFlag, UsageError, type Flags } from './args.js';
import { CliError, type Cli } from './context.js';
import { shortId } from './output.js';
import { resolveContainer, resolvePod } from './resolve.js';
import { localTerminal } from './terminal.js';

/** Runs an exec or attach URL with the local terminal; returns the exit code. */
export async function session(url: string, opts: { tty: boolean; stdin: boolean }): Promise<number> {
  const term = localTerminal(opts);
  try {
    return await remoteCommand(url, term.io);
  } finally {
    term.restore();
  }
}

export async function exec(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const [key, ...cmd] = args;
  const c = await resolveContainer(cli, key!);
  if (c.state !== 'CONTAINER_RUNNING') throw new CliError(`container ${shortId(c.id)} is not running`);
  const tty = !!flags.tty;
  const stdin = !!flags.interactive;
  const { url } = await cli.cri.runtime('Exec', { container_id: c.id, cmd, tty, stdin, stdout: true, stderr: !tty });
  return session(url, { tty, stdin });
}

/** Whether the container was made with a terminal (its OCI spec says so). */
async function hasTerminal(cli: Cli, id: string): Promise<boolean> {
  const st = await cli.cri.runtime('ContainerStatus', { container_id: id, verbose: true });
  try {
    const info = JSON.parse(st.info.info ?? '{}') as { runtimeSpec?: { process?: { terminal?: boolean } } };
    return !!info.runtimeSpec?.process?.terminal;
  } catch {
    return false;
  }
}

export async function attachTo(cli: Cli, id: string, stdin: boolean): Promise<number> {
  const tty = await hasTerminal(cli, id);
  const { url } = await cli.cri.runtime('Attach', { container_id: id, tty, stdin, stdout: true, stderr: !tty });
  return session(url, { tty, stdin });
}

export async function attach(cli: Cli, flags: Flags, args: string[]): Promise<number> {
  const c = await resolveContainer(cli, args[0]!);
  if (c.state !== 'CONTAINER_RUNNING') throw new CliError(`container ${shortId(c.id)} is not running`);
  return attachTo(cli, c.id, !flags['no-stdin']);
}

function parsePorts(specs: string[]): { local: number; remote: number }[] {
  return specs.map((s) => {
    const m = /^(?:(\d+):)?(\d+)$/.exec(s);
    const nums = m ? [Number(m[1] ?? m[2]), Number(m[2])] : [];
    if (!m || nums.some((n) => n < 0 || n > 65535) || nums[1] === 0) throw new UsageError(`"${s}" is not a port mapping (LOCAL:REMOTE or PORT)`);
    return { local: nums[0]!, remote: nums[1]! };
  });
}

export async function portForward(cli: Cli, flags: Flags, args: string[]): Promise<void> {
  const [key, ...specs] = args;
  const ports = parsePorts(specs);
  const pod = await resolvePod(cli, key!);
  const address = strFlag(flags, 'address') ?? '127.0.0.1';
  const servers = await Promise.all(ports.map(({ local, remote }) => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer((conn) => {
      // Each connection gets its own single-use URL.
      cli.cri.runtime('PortForward', { pod_sandbox_id: pod.id, port: [remote] }).then(
        ({ url }) => forwardConnection(url, remote, conn, (m) => cli.warn(`port ${remote}: ${m.trim()}`)),
        (err: Error) => {
          cli.warn(`port-forward: ${err.message}`);
          conn.destroy();
        },
      );
    });
    server.once('error', (err) => reject(new CliError(`listen on ${address}:${local}: ${err.message}`)));
    server.listen(local, address, () => {
      const a = server.address() as net.AddressInfo;
      cli.print(`Forwarding from ${a.address}:${a.port} -> ${remote}`);
      resolve(server);
    });
  })));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  for (const s of servers) s.close();
}
