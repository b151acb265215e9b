// `berth config reload`: asks the running daemon to re-read its config file over the socket
// (berth.v1.Config/Reload) and prints what changed; a refused file is an error naming the key.
import { parseArgs, UsageError } from './args.js';
import { GLOBAL_FLAGS } from './commands.js';
import { Cli, describeError, resolveSocket } from './context.js';

const USAGE = 'usage: berth config reload [--socket PATH] [--config FILE]\n';

export async function reloadConfig(argv: string[]): Promise<number> {
  let cli: Cli | undefined;
  try {
    const { flags, args } = parseArgs(GLOBAL_FLAGS, argv);
    if (flags.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.length) throw new UsageError(`"berth config reload" takes no arguments\n${USAGE}`);
    cli = new Cli(await resolveSocket(flags));
    const r = await cli.berth.reloadConfig();
    cli.print(r.changed.length ? `reloaded: ${r.changed.join(', ')}` : 'reloaded: nothing changed');
    if (r.restart_required.length) cli.warn(`these changes take effect when berth restarts: ${r.restart_required.join(', ')}`);
    return 0;
  } catch (err) {
    const d = describeError(err, cli?.socket);
    process.stderr.write(`berth: ${d.message}\n`);
    return d.code;
  } finally {
    cli?.close();
  }
}
