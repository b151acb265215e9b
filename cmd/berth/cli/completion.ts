// Shell completion scripts for bash and zsh, made from the command table. The scripts ask
// `berth completion containers|pods|images` for names and IDs to offer.
import type { Flags } from './args.js';
import { UsageError } from './args.js';
import { COMMANDS, GLOBAL_FLAGS, type CommandSpec } from './commands.js';
import type { Cli } from './context.js';
import { listContainers, listPods } from './resolve.js';

function flagWords(c: CommandSpec): string[] {
  return [...c.flags, ...GLOBAL_FLAGS].flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
}

/** Flags that take a value, so the word after them is not completed as an argument. */
function valueFlags(c: CommandSpec): string[] {
  return [...c.flags, ...GLOBAL_FLAGS].filter((f) => f.type !== 'bool').flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
}

function kindOf(c: CommandSpec): string {
  if (c.complete === 'command') return 'commands';
  if (c.complete === 'any') return 'containers pods images';
  return c.complete ? `${c.complete}s` : '';
}

export function bashScript(): string {
  const cases = COMMANDS.map((c) =>
    `    ${c.name}) flags="${flagWords(c).join(' ')}"; valued="${valueFlags(c).join(' ')}"; kinds="${kindOf(c)}" ;;`).join('\n');
  return `# bash completion for berth (berth completion bash)
_berth() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmds="${COMMANDS.map((c) => c.name).join(' ')} daemon config version"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$cmds" -- "$cur")); return
  fi
  local flags="" valued="" kinds=""
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  case " $valued " in *" $prev "*)
    case "$prev" in --socket|--config|-o|--output|-i|--input|-v|--volume) COMPREPLY=($(compgen -f -- "$cur")) ;; esac
    return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur")); return
  fi
  local words="" k
  for k in $kinds; do
    if [ "$k" = commands ]; then words="$words $cmds"; else words="$words $(berth completion "$k" 2>/dev/null)"; fi
  done
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _berth berth
`;
}

export function zshScript(): string {
  const cases = COMMANDS.map((c) => `    ${c.name}) flags=(${flagWords(c).join(' ')}); kinds=(${kindOf(c)}) ;;`).join('\n');
  return `#compdef berth
# zsh completion for berth (berth completion zsh > "\${fpath[1]}/_berth")
_berth() {
  local -a cmds flags kinds
  cmds=(${COMMANDS.map((c) => c.name).join(' ')} daemon config version)
  if (( CURRENT == 2 )); then
    compadd -- $cmds; return
  fi
  case $words[2] in
${cases}
  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $flags; return
  fi
  local k
  for k in $kinds; do
    if [[ $k == commands ]]; then compadd -- $cmds; else compadd -- \${(f)"$(berth completion $k 2>/dev/null)"}; fi
  done
}
compdef _berth berth
`;
}

/** Names and short IDs of containers, pods or images, one a line, for the completion scripts. */
async function names(cli: Cli, kind: string): Promise<string[]> {
  if (kind === 'containers') return (await listContainers(cli)).flatMap((c) => [c.metadata?.name ?? '', c.id.slice(0, 13)]);
  if (kind === 'pods') return (await listPods(cli)).flatMap((p) => [p.metadata?.name ?? '', p.id.slice(0, 13)]);
  return (await cli.cri.image('ListImages', {})).images.flatMap((i) => i.repo_tags);
}

export async function completion(cli: Cli, _flags: Flags, args: string[]): Promise<void> {
  const what = args[0]!;
  if (what === 'bash') return void cli.out.write(bashScript());
  if (what === 'zsh') return void cli.out.write(zshScript());
  if (['containers', 'pods', 'images'].includes(what)) {
    for (const n of new Set(await names(cli, what))) if (n) cli.print(n);
    return;
  }
  throw new UsageError(`completion: "${what}" is not bash or zsh`);
}
