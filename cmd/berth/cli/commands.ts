// The client commands as data: names, flags, usage and help. main.ts reads this table to tell a
// client command from the daemon's, help and completion are made from it, and each command's
// code is imported only when it runs.
import type { Flags } from './args.js';
import type { Cli } from './context.js';

export interface FlagSpec {
  name: string;
  short?: string;
  /** bool: a switch; string: one value; list: repeatable. */
  type: 'bool' | 'string' | 'list';
  /** Name of the value in help (`-p HOST:CTR`). */
  value?: string;
  help: string;
}

/** A command's code: exit code (undefined = 0). */
export type CommandFn = (cli: Cli, flags: Flags, args: string[]) => Promise<number | void>;

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Least and most positional arguments (max undefined: any number). */
  args: [number, number?];
  /** What the positionals are, for completion: containers, pods, images, or commands. */
  complete?: 'container' | 'pod' | 'image' | 'command' | 'any';
  /** Flags end at the first positional: the rest is the container's command line. */
  stopAtPositional?: boolean;
  load: () => Promise<CommandFn>;
}

const FORMAT: FlagSpec = { name: 'format', type: 'string', value: 'json|table', help: 'output format (default table)' };
const QUIET: FlagSpec = { name: 'quiet', short: 'q', type: 'bool', help: 'print IDs only' };

/** Flags every command takes. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'socket', type: 'string', value: 'PATH', help: "berth's socket (default: the config file's listen, else /run/berth/berth.sock)" },
  { name: 'config', type: 'string', value: 'FILE', help: 'config file to read the socket from (default /etc/berth/berth.toml)' },
  { name: 'help', short: 'h', type: 'bool', help: 'show this help' },
];

const RUN_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', help: 'run in the background and print the container ID' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'keep stdin open and attach it' },
  { name: 'tty', short: 't', type: 'bool', help: 'allocate a terminal' },
  { name: 'rm', type: 'bool', help: 'remove the container and its pod when it exits' },
  { name: 'name', type: 'string', value: 'NAME', help: 'name of the container and its pod' },
  { name: 'publish', short: 'p', type: 'list', value: '[IP:]HOST:CTR[/udp]', help: 'publish a container port on the node (CRI port mapping)' },
  { name: 'env', short: 'e', type: 'list', value: 'KEY=VALUE', help: 'set an environment variable' },
  { name: 'volume', short: 'v', type: 'list', value: 'HOST:CTR[:ro]', help: 'bind-mount a host path' },
  { name: 'workdir', short: 'w', type: 'string', value: 'DIR', help: 'working directory in the container' },
  { name: 'user', short: 'u', type: 'string', value: 'UID[:GID]', help: 'numeric user (and group) to run as' },
  { name: 'privileged', type: 'bool', help: 'give the container every capability and device' },
  { name: 'entrypoint', type: 'string', value: 'CMD', help: "override the image's entrypoint" },
  { name: 'creds', type: 'string', value: 'USER:PASS', help: 'registry credentials, if the image must be pulled' },
];

const lazy = <M>(load: () => Promise<M>, pick: (m: M) => CommandFn) => () => load().then(pick);
const images = () => import('./images.js');
const archive = () => import('./archive.js');
const containers = () => import('./containers.js');
const pods = () => import('./pods.js');
const run = () => import('./run.js');
const stream = () => import('./stream.js');
const system = () => import('./system.js');

export const COMMANDS: CommandSpec[] = [
  { name: 'run', usage: 'run [FLAGS] IMAGE [CMD [ARG…]]', summary: 'run a container in a new pod', flags: RUN_FLAGS, args: [1], complete: 'image', stopAtPositional: true, load: lazy(run, (m) => m.run) },
  { name: 'ps', usage: 'ps [-a] [-q] [--pod POD]', summary: 'list containers', args: [0, 0], load: lazy(containers, (m) => m.ps), flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'show every container, not only running ones' },
    { name: 'pod', type: 'string', value: 'POD', help: "only this pod's containers" }, QUIET, FORMAT] },
  { name: 'pods', usage: 'pods [-q]', summary: 'list pods', args: [0, 0], flags: [QUIET, FORMAT], load: lazy(pods, (m) => m.pods) },
  { name: 'images', usage: 'images [-q]', summary: 'list images', args: [0, 0], flags: [QUIET, FORMAT], load: lazy(images, (m) => m.images) },
  { name: 'pull', usage: 'pull [--creds USER:PASS] IMAGE', summary: 'pull an image, showing per-layer progress', args: [1, 1], flags: [
    { name: 'creds', type: 'string', value: 'USER:PASS', help: 'registry credentials' }, QUIET], load: lazy(images, (m) => m.pull) },
  { name: 'inspect', usage: 'inspect ID|NAME…', summary: 'show a container, pod or image as JSON', args: [1], complete: 'any', flags: [], load: lazy(containers, (m) => m.inspect) },
  { name: 'logs', usage: 'logs [-f] [--tail N] [--since D] [--timestamps] CONTAINER', summary: "print a container's log", args: [1, 1], complete: 'container', load: lazy(containers, (m) => m.logs), flags: [
    { name: 'follow', short: 'f', type: 'bool', help: 'keep printing new lines until the container exits' },
    { name: 'tail', type: 'string', value: 'N', help: 'only the last N lines' },
    { name: 'since', type: 'string', value: 'D', help: 'only lines newer than a duration (10s, 5m, 2h) or an RFC 3339 time' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'show each line\'s time' }] },
  { name: 'exec', usage: 'exec [-i] [-t] CONTAINER CMD [ARG…]', summary: 'run a command in a running container', args: [2], complete: 'container', stopAtPositional: true, load: lazy(stream, (m) => m.exec), flags: [
    { name: 'interactive', short: 'i', type: 'bool', help: 'attach stdin' },
    { name: 'tty', short: 't', type: 'bool', help: 'allocate a terminal' }] },
  { name: 'attach', usage: 'attach CONTAINER', summary: "attach to a running container's console", args: [1, 1], complete: 'container', flags: [
    { name: 'no-stdin', type: 'bool', help: 'do not attach stdin' }], load: lazy(stream, (m) => m.attach) },
  { name: 'stop', usage: 'stop [-t SECONDS] CONTAINER…', summary: 'stop containers (SIGTERM, then SIGKILL after the timeout)', args: [1], complete: 'container', load: lazy(containers, (m) => m.stop), flags: [
    { name: 'time', short: 't', type: 'string', value: 'SECONDS', help: 'seconds to wait before killing (default 10)' }] },
  { name: 'rm', usage: 'rm [-f] CONTAINER…', summary: 'remove containers', args: [1], complete: 'container', load: lazy(containers, (m) => m.rm), flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'stop running containers first' }] },
  { name: 'rmp', usage: 'rmp [-f] POD…', summary: 'remove pods', args: [1], complete: 'pod', load: lazy(pods, (m) => m.rmp), flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'stop pods that are still ready first' }] },
  { name: 'rmi', usage: 'rmi IMAGE…', summary: 'remove images', args: [1], complete: 'image', flags: [], load: lazy(images, (m) => m.rmi) },
  { name: 'prune', usage: 'prune [--containers] [--pods] [--images]', summary: 'remove exited containers, pods without containers, unused images', args: [0, 0], load: lazy(system, (m) => m.prune), flags: [
    { name: 'containers', type: 'bool', help: 'remove exited containers' },
    { name: 'pods', type: 'bool', help: 'remove pods that are not ready, and pods of berth run with nothing running' },
    { name: 'images', type: 'bool', help: 'remove images no container uses' }] },
  { name: 'stats', usage: 'stats [--no-stream] [CONTAINER…]', summary: 'live CPU, memory and network use of containers', args: [0], complete: 'container', load: lazy(system, (m) => m.stats), flags: [
    { name: 'no-stream', type: 'bool', help: 'print one table and exit' }, FORMAT] },
  { name: 'events', usage: 'events', summary: 'follow container events', args: [0, 0], flags: [FORMAT], load: lazy(system, (m) => m.events) },
  { name: 'info', usage: 'info', summary: "show the runtime's version, status and storage", args: [0, 0], flags: [FORMAT], load: lazy(system, (m) => m.info) },
  { name: 'port-forward', usage: 'port-forward POD [LOCAL:]REMOTE…', summary: "forward local TCP ports to a pod's ports", args: [2], complete: 'pod', load: lazy(stream, (m) => m.portForward), flags: [
    { name: 'address', type: 'string', value: 'IP', help: 'local address to listen on (default 127.0.0.1)' }] },
  { name: 'save', usage: 'save -o FILE.tar IMAGE…', summary: 'write images to an OCI layout tar that docker load also takes', args: [1], complete: 'image', load: lazy(archive, (m) => m.save), flags: [
    { name: 'output', short: 'o', type: 'string', value: 'FILE', help: 'archive to write ("-" for stdout)' }] },
  { name: 'load', usage: 'load -i FILE.tar', summary: 'import images from an OCI layout or docker save tar', args: [0, 0], load: lazy(archive, (m) => m.load), flags: [
    { name: 'input', short: 'i', type: 'string', value: 'FILE', help: 'archive to read ("-" or none for stdin)' }, QUIET] },
  { name: 'debug', usage: 'debug [--image IMAGE] [--target CONTAINER] POD [-- CMD [ARG…]]', summary: "start a temporary interactive container in a pod's namespaces", args: [1], complete: 'pod', stopAtPositional: true, load: lazy(run, (m) => m.debug), flags: [
    { name: 'image', type: 'string', value: 'IMAGE', help: 'image of the debug container (default busybox)' },
    { name: 'target', type: 'string', value: 'CONTAINER', help: "share this container's PID namespace" },
    { name: 'creds', type: 'string', value: 'USER:PASS', help: 'registry credentials, if the image must be pulled' }] },
  { name: 'completion', usage: 'completion bash|zsh', summary: 'print a shell completion script', args: [1, 1], flags: [], load: () => import('./completion.js').then((m) => m.completion) },
  { name: 'help', usage: 'help [COMMAND]', summary: 'show help', args: [0, 1], complete: 'command', flags: [], load: () => import('./help.js').then((m) => m.help) },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function isCliCommand(name: string): boolean {
  return COMMANDS.some((c) => c.name === name);
}
