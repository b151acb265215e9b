// Help text from the command table.
import type { Flags } from './args.js';
import { COMMANDS, findCommand, GLOBAL_FLAGS, type CommandSpec, type FlagSpec } from './commands.js';
import { CliError, type Cli } from './context.js';

function flagLines(flags: FlagSpec[]): string {
  const rows = flags.map((f) => [`${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.value}` : ''}`, f.help]);
  const w = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([a, b]) => `  ${a!.padEnd(w)}  ${b}`).join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const own = spec.flags.length ? `\nflags:\n${flagLines(spec.flags)}\n` : '';
  return `usage: berth ${spec.usage}\n\n${spec.summary}\n${own}\nglobal flags:\n${flagLines(GLOBAL_FLAGS)}\n`;
}

export function overview(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n');
  return `usage: berth COMMAND [FLAGS] [ARGS]\n\nclient commands (over the berth socket):\n${lines}\n\n` +
    `daemon commands:\n  ${'daemon'.padEnd(w)}  serve CRI v1 on a unix socket\n  ${'config'.padEnd(w)}  print the effective config as TOML\n` +
    `  ${'version'.padEnd(w)}  print berth's version\n\nRun 'berth COMMAND --help' for a command's flags.\n`;
}

export async function help(cli: Cli, _flags: Flags, args: string[]): Promise<void> {
  if (!args.length) return void cli.out.write(overview());
  const spec = findCommand(args[0]!);
  if (!spec) throw new CliError(`unknown command "${args[0]}"`);
  cli.out.write(commandHelp(spec));
}
