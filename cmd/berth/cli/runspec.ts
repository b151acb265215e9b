// `berth run` flags → CRI configs: a pod sandbox config and a container config, as plain data
// (unit-tested); run.ts sends them.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ContainerConfig } from '../../../pkg/cri/gen/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../../../pkg/cri/gen/runtime/v1/PodSandboxConfig.js';
import type { PortMapping } from '../../../pkg/cri/gen/runtime/v1/PortMapping.js';
import type { Mount } from '../../../pkg/cri/gen/runtime/v1/Mount.js';
import { listFlag, strFlag, UsageError, type Flags } from './args.js';

/** Label on the pods and containers the CLI makes: `run` or `debug`. */
export const CLI_LABEL = 'io.berth.cli';
/** Annotation naming the log directory of a pod the CLI made, which the CLI removes with it. */
export const LOG_DIR_ANNOTATION = 'io.berth.cli.log-directory';
/** Namespace of pods made by `berth run`. */
export const RUN_NAMESPACE = 'default';

/** Where `berth run` pods keep their logs: kubelet's layout, under BERTH_POD_LOG_DIR if set. */
export function podLogRoot(): string {
  return process.env.BERTH_POD_LOG_DIR || '/var/log/pods';
}

export function randomName(prefix = 'berth'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** `[IP:]HOST:CTR[/tcp|/udp|/sctp]` → a CRI port mapping. */
export function parsePublish(spec: string): PortMapping {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d+):(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  const host = Number(m?.[2]);
  const ctr = Number(m?.[3]);
  if (!m || !host || !ctr || host > 65535 || ctr > 65535) throw new UsageError(`-p ${spec}: expected [IP:]HOST_PORT:CONTAINER_PORT[/udp]`);
  return { protocol: (m[4] ?? 'tcp').toUpperCase() as 'TCP', host_port: host, container_port: ctr, host_ip: (m[1] ?? '').replace(/^\[|\]$/g, '') };
}

/** `HOST:CTR[:ro|:rw]` → a CRI bind mount; a relative host path is taken from the working directory. */
export function parseVolume(spec: string, cwd = process.cwd()): Mount {
  const parts = spec.split(':');
  const mode = parts.length === 3 ? parts.pop()! : 'rw';
  if (parts.length !== 2 || !parts[0] || !parts[1] || !['ro', 'rw'].includes(mode)) throw new UsageError(`-v ${spec}: expected HOST_PATH:CONTAINER_PATH[:ro]`);
  if (!parts[1].startsWith('/')) throw new UsageError(`-v ${spec}: the container path must be absolute`);
  return { host_path: path.resolve(cwd, parts[0]), container_path: parts[1], readonly: mode === 'ro' };
}

/** `K=V`, or `K` alone for the value in berth's own environment. */
export function parseEnv(spec: string, env = process.env): { key: string; value: string } {
  const i = spec.indexOf('=');
  const key = i < 0 ? spec : spec.slice(0, i);
  if (!key) throw new UsageError(`-e ${spec}: expected KEY=VALUE`);
  return { key, value: i < 0 ? (env[key] ?? '') : spec.slice(i + 1) };
}

/** `-u`: numeric uid[:gid] as run_as_user/run_as_group, a name as run_as_username. */
export function parseUser(spec: string): { run_as_user?: { value: string }; run_as_group?: { value: string }; run_as_username?: string } {
  const [u, g] = spec.split(':');
  if (!u) throw new UsageError(`-u ${spec}: expected UID[:GID] or a user name`);
  if (g !== undefined && !/^\d+$/.test(g)) throw new UsageError(`-u ${spec}: the group must be numeric`);
  const group = g !== undefined ? { run_as_group: { value: g } } : {};
  return /^\d+$/.test(u) ? { run_as_user: { value: u }, ...group } : { run_as_username: u, ...group };
}

export interface RunSpec {
  name: string;
  pod: PodSandboxConfig;
  container: ContainerConfig;
}

/** The pod and container `berth run` makes for these flags, image (an ID) and command line. */
export function buildRunSpec(flags: Flags, imageId: string, argv: string[], uid = randomBytes(8).toString('hex')): RunSpec {
  const name = strFlag(flags, 'name') ?? randomName();
  if (!NAME_RE.test(name) || name.length > 63) throw new UsageError(`--name ${name}: use letters, digits, '_', '.' and '-' (at most 63)`);
  const privileged = !!flags.privileged;
  const logDir = path.join(podLogRoot(), `${RUN_NAMESPACE}_${name}_${uid}`);
  const entrypoint = strFlag(flags, 'entrypoint');
  const user = strFlag(flags, 'user');
  const interactive = !!flags.interactive;
  const pod: PodSandboxConfig = {
    metadata: { name, namespace: RUN_NAMESPACE, uid, attempt: 0 },
    hostname: name.replace(/[_.]/g, '-').replace(/-+$/, '').slice(0, 63) || 'berth',
    log_directory: logDir,
    port_mappings: listFlag(flags, 'publish').map(parsePublish),
    labels: { [CLI_LABEL]: 'run' },
    annotations: { [LOG_DIR_ANNOTATION]: logDir },
    linux: { security_context: { privileged, namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
  const container: ContainerConfig = {
    metadata: { name, attempt: 0 },
    image: { image: imageId },
    command: entrypoint !== undefined ? [entrypoint] : [],
    args: argv,
    working_dir: strFlag(flags, 'workdir') ?? '',
    envs: listFlag(flags, 'env').map((e) => parseEnv(e)),
    mounts: listFlag(flags, 'volume').map((v) => parseVolume(v)),
    log_path: `${name}.log`,
    stdin: interactive,
    stdin_once: interactive,
    tty: !!flags.tty,
    labels: { [CLI_LABEL]: 'run' },
    linux: {
      security_context: {
        privileged,
        ...(user ? parseUser(user) : {}),
        namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' },
      },
    },
  };
  return { name, pod, container };
}
