// `berth agent [flags]`: the node agent a DaemonSet runs (pkg/agent). Flags, signals, exit codes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, type AgentOptions } from '../../pkg/agent/agent.js';
import { ConfigError } from '../../pkg/config/config.js';
import { createLogger } from '../../pkg/log/log.js';
import { PROJECT_ROOT } from '../../pkg/version/version.js';

export const AGENT_USAGE = `usage: berth agent [flags]

Installs berth on the node (under --host-root), labels the node, keeps berth's RuntimeClasses
and applies the ConfigMap berth-config to berth's config without a restart.

flags:
  --kubeconfig FILE        kubeconfig (default: the pod's service account, in-cluster)
  --node-name NAME         this node (default $NODE_NAME)
  --namespace NS           where berth-config and its Secrets live (default $POD_NAMESPACE,
                           else the service account's namespace)
  --host-root DIR          where the host's / is mounted (default /host)
  --source DIR             berth package to install (default: the agent's own, ${PROJECT_ROOT})
  --socket PATH            berth's socket (default HOST-ROOT/run/berth/berth.sock)
  --systemctl CMD          how to run the host's systemctl (default "nsenter -t 1 -m -- systemctl";
                           "none": the agent does not start or restart berth)
  --health-listen ADDR     /healthz and /readyz (default 0.0.0.0:9469)
  --resync-seconds N       re-check node labels and RuntimeClasses this often (default 60)
  --log-level LEVEL        trace|debug|info|warn|error (default info)
  --uninstall              stop berth, remove what the agent installed and berth's node labels
`;

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function need(value: string | undefined, what: string): string {
  if (!value) throw new ConfigError(`berth agent: ${what} is required`);
  return value;
}

export function agentOptions(argv: string[]): { opts: AgentOptions; uninstall: boolean; logLevel: string; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' }, 'node-name': { type: 'string' }, namespace: { type: 'string' }, 'host-root': { type: 'string' },
      source: { type: 'string' }, socket: { type: 'string' }, systemctl: { type: 'string' }, 'health-listen': { type: 'string' },
      'resync-seconds': { type: 'string' }, 'log-level': { type: 'string' }, uninstall: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  const hostRoot = path.resolve(values['host-root'] ?? '/host');
  const systemctl = values.systemctl ?? 'nsenter -t 1 -m -- systemctl';
  const resync = Number(values['resync-seconds'] ?? 60);
  if (!Number.isFinite(resync) || resync <= 0) throw new ConfigError('berth agent: --resync-seconds must be a positive number');
  const help = !!values.help;
  const namespace = values.namespace ?? process.env.POD_NAMESPACE ?? (() => {
    try {
      return readFileSync(SA_NAMESPACE, 'utf8').trim();
    } catch {
      return undefined;
    }
  })();
  return {
    help,
    uninstall: !!values.uninstall,
    logLevel: values['log-level'] ?? 'info',
    opts: {
      kubeconfig: values.kubeconfig,
      nodeName: help ? '' : need(values['node-name'] ?? process.env.NODE_NAME, '--node-name (or $NODE_NAME)'),
      namespace: help ? '' : need(namespace, '--namespace (or $POD_NAMESPACE)'),
      hostRoot,
      source: path.resolve(values.source ?? PROJECT_ROOT),
      socket: values.socket ?? path.join(hostRoot, 'run/berth/berth.sock'),
      systemctl: systemctl === 'none' ? undefined : systemctl.split(/\s+/).filter(Boolean),
      healthListen: values['health-listen'] ?? '0.0.0.0:9469',
      resyncSeconds: resync,
    },
  };
}

/** Runs the agent until SIGTERM/SIGINT (exit 0), or uninstalls and exits. */
export async function runAgent(argv: string[]): Promise<number> {
  const { opts, uninstall, logLevel, help } = agentOptions(argv);
  if (help) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  const log = createLogger(logLevel).child({ component: 'berth-agent', node: opts.nodeName });
  const agent = new Agent(opts, log);
  if (uninstall) {
    const r = await agent.uninstall();
    log.info({ ...r }, 'berth uninstalled');
    return 0;
  }
  const address = await agent.health.listen(opts.healthListen);
  log.info({ address }, 'probes listening');
  const stopped = new Promise<number>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping: closing watches; berth keeps running');
      agent.stop().then(() => resolve(0), (err: Error) => {
        log.error({ err: err.message }, 'stop failed');
        resolve(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await agent.run();
  log.info('agent running');
  return stopped;
}
