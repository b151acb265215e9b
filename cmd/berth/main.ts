import { parseArgs } from 'node:util';
import { applyFlags, ConfigError, loadConfig, redactConfig, toToml, type BerthConfig, type FlagOverrides } from '../../pkg/config/config.js';
import type { ReloadSource } from '../../pkg/config/reload.js';
import { VERSION } from '../../pkg/version/version.js';
import { isCliCommand } from './cli/commands.js';
import { StartupError } from './startup-error.js';

const USAGE = `usage: berth <command> [flags]

commands:
  daemon    serve CRI v1 on a unix socket
  config    print the effective config as TOML (passwords masked)
  config reload [--socket PATH]
            make the running daemon re-read its config file (as SIGHUP does)
  version   print berth's version
  agent     the cluster node agent a DaemonSet runs (berth agent --help)

client commands (berth help for the list; berth COMMAND --help):
  run, ps, pods, images, pull, logs, exec, attach, inspect, stop, rm, rmp, rmi, prune,
  stats, events, info, port-forward, save, load, debug, completion

flags (daemon, config):
  --config FILE            config file (default /etc/berth/berth.toml)
  --listen ADDR            CRI socket (default unix:///run/berth/berth.sock)
  --root DIR               persistent state (default /var/lib/berth)
  --state DIR              runtime state (default /run/berth)
  --log-level LEVEL        trace|debug|info|warn|error
  --metrics-listen ADDR    host:port for /metrics (default 127.0.0.1:9466; "" disables)
`;

const DEFAULT_CONFIG_FILE = '/etc/berth/berth.toml';

function fail(message: string, code = 1): never {
  process.stderr.write(`berth: ${message}\n`);
  process.exit(code);
}

async function effectiveConfig(args: string[]): Promise<{ config: BerthConfig; source: ReloadSource }> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      listen: { type: 'string' },
      root: { type: 'string' },
      state: { type: 'string' },
      'log-level': { type: 'string' },
      'metrics-listen': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const file = values.config ?? DEFAULT_CONFIG_FILE;
  const explicit = values.config !== undefined;
  const fromFile = await loadConfig(file, explicit);
  const flags: FlagOverrides = {
    listen: values.listen,
    root: values.root,
    state: values.state,
    log_level: values['log-level'],
    metrics_listen: values['metrics-listen'],
  };
  return { config: applyFlags(fromFile, flags), source: { file, explicit, flags } };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'version':
      process.stdout.write(`berth ${VERSION} (CRI v1)\n`);
      return;
    case 'config':
      if (rest[0] === 'reload') {
        const { reloadConfig } = await import('./cli/config-reload.js');
        process.exitCode = await reloadConfig(rest.slice(1));
        return;
      }
      process.stdout.write(toToml(redactConfig((await effectiveConfig(rest)).config)));
      return;
    case 'daemon': {
      const { config, source } = await effectiveConfig(rest);
      // Handlers go in before start-up: a signal that arrives while berth starts (or right after
      // it logs "ready") must still lead to a clean shutdown, not the default kill.
      // The daemon's code loads only here, so client commands start without it.
      const { runDaemon } = await import('./daemon.js');
      let signalled: NodeJS.Signals | undefined;
      let daemon: Awaited<ReturnType<typeof runDaemon>> | undefined;
      const stop = (sig: NodeJS.Signals) => {
        daemon!.shutdown().then(
          () => process.exit(0),
          (err: Error) => fail(`shutdown after ${sig}: ${err.message}`),
        );
      };
      const onSignal = (sig: NodeJS.Signals) => {
        if (signalled) return;
        signalled = sig;
        if (daemon) stop(sig);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // SIGHUP re-reads the config; one during start-up is kept for when berth is ready (the
      // file may have changed after it was read), never the default kill.
      let hupPending = false;
      process.on('SIGHUP', () => {
        if (daemon) void daemon.reload();
        else hupPending = true;
      });
      daemon = await runDaemon(config, source);
      if (signalled) stop(signalled);
      else if (hupPending) void daemon.reload();
      return;
    }
    case 'agent': {
      const { runAgent } = await import('./agent.js');
      process.exit(await runAgent(rest));
    }
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      if (isCliCommand(command)) {
        // Client commands load their own code lazily: `berth ps` never loads the daemon.
        const { runCli } = await import('./cli/main.js');
        process.exitCode = await runCli(command, rest);
        return;
      }
      fail(`unknown command "${command}"\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message, 2);
  if (err instanceof StartupError) fail(err.message, 1);
  if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) fail(`${err.message}\n${USAGE}`, 2);
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
});
