// What every client command gets: the socket, lazily made CRI and berth clients, and how errors
// become one line on stderr and an exit code (1 errors, 125 bad usage, never a stack trace).
import { status, type ServiceError } from '@grpc/grpc-js';
import { BerthClient } from '../../../pkg/client/berth.js';
import { CriClient } from '../../../pkg/client/cri.js';
import { ConfigError, loadConfig, socketPath } from '../../../pkg/config/config.js';
import { strFlag, UsageError, type Flags } from './args.js';

export const DEFAULT_CONFIG_FILE = '/etc/berth/berth.toml';

/** A failure to report as is, with its exit code. */
export class CliError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

/** --socket, else the config file's listen address, else the default socket. */
export async function resolveSocket(flags: Flags): Promise<string> {
  const given = strFlag(flags, 'socket') ?? process.env.BERTH_SOCKET;
  if (given) return socketPath(given.startsWith('/') || given.startsWith('unix://') ? given : `unix://${given}`);
  const file = strFlag(flags, 'config');
  const config = await loadConfig(file ?? DEFAULT_CONFIG_FILE, file !== undefined);
  return socketPath(config.listen);
}

export class Cli {
  private criClient?: CriClient;
  private berthClient?: BerthClient;
  readonly out = process.stdout;

  constructor(readonly socket: string) {}

  get cri(): CriClient {
    return (this.criClient ??= new CriClient(this.socket));
  }

  get berth(): BerthClient {
    return (this.berthClient ??= new BerthClient(this.socket));
  }

  print(line = ''): void {
    this.out.write(line + '\n');
  }

  warn(message: string): void {
    process.stderr.write(`berth: ${message}\n`);
  }

  close(): void {
    this.criClient?.close();
    this.berthClient?.close();
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as ServiceError).code === 'number' && 'details' in err;
}

/** True when the gRPC error means nothing answered on the socket (not an error the daemon sent). */
export function isUnreachable(err: unknown): boolean {
  return isServiceError(err) && err.code === status.UNAVAILABLE && /No connection established|connect E|Connection dropped|Failed to connect/i.test(err.details);
}

/** The line to print and the exit code for an error. */
export function describeError(err: unknown, socket: string | undefined): { message: string; code: number } {
  if (err instanceof UsageError) return { message: err.message, code: 125 };
  if (err instanceof CliError) return { message: err.message, code: err.code };
  if (err instanceof ConfigError) return { message: err.message, code: 1 };
  if (isUnreachable(err)) return { message: `cannot reach the berth daemon at ${socket}: is it running?`, code: 1 };
  if (isServiceError(err)) return { message: err.details || err.message, code: 1 };
  const e = err as NodeJS.ErrnoException;
  return { message: e instanceof Error ? e.message : String(err), code: 1 };
}

/** Runs `fn` for each argument; a failure is reported and the others still run (exit 1 if any failed). */
export async function forEachArg(cli: Cli, args: string[], fn: (arg: string) => Promise<void>): Promise<number> {
  let code = 0;
  for (const a of args) {
    try {
      await fn(a);
    } catch (err) {
      if (isUnreachable(err)) throw err;
      cli.warn(describeError(err, cli.socket).message);
      code = 1;
    }
  }
  return code;
}
