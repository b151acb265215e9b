// Runs one client command: parse its flags, load its code, connect lazily, report errors.
import { parseArgs, UsageError } from './args.js';
import { findCommand, GLOBAL_FLAGS } from './commands.js';
import { Cli, describeError, resolveSocket } from './context.js';
import { commandHelp } from './help.js';

export async function runCli(command: string, argv: string[]): Promise<number> {
  const spec = findCommand(command);
  let cli: Cli | undefined;
  let code: number;
  try {
    if (!spec) throw new UsageError(`unknown command "${command}"`);
    const { flags, args } = parseArgs([...spec.flags, ...GLOBAL_FLAGS], argv, spec.stopAtPositional);
    if (flags.help) {
      process.stdout.write(commandHelp(spec));
      return 0;
    }
    const [min, max] = spec.args;
    if (args.length < min || (max !== undefined && args.length > max)) {
      throw new UsageError(`"berth ${spec.name}" takes ${max === min ? min : max === undefined ? `at least ${min}` : `${min} to ${max}`} argument${max === 1 || (max === undefined && min === 1) ? '' : 's'}\nusage: berth ${spec.usage}`);
    }
    const fn = await spec.load();
    cli = new Cli(await resolveSocket(flags));
    code = (await fn(cli, flags, args)) ?? 0;
  } catch (err) {
    const d = describeError(err, cli?.socket);
    process.stderr.write(`berth: ${d.message}\n`);
    if (d.code === 125 && spec) process.stderr.write(`See 'berth ${spec.name} --help'.\n`);
    if (process.env.BERTH_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    code = d.code;
  } finally {
    cli?.close();
  }
  // A command is done when it returns: open handles (a follow, a terminal) must not keep berth up.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
