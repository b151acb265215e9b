import { access, constants } from 'node:fs/promises';
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from '../version/version.js';
import type { Condition, CriModule, DaemonContext } from './module.js';

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** RuntimeReady: the default OCI runtime and conmon are there to run containers. */
async function runtimeReady(ctx: DaemonContext): Promise<Condition> {
  const { runtime } = ctx.config;
  const handler = runtime.handlers[runtime.default_handler];
  const missing: string[] = [];
  if (!handler) missing.push(`default runtime handler "${runtime.default_handler}" is not configured`);
  else if (!(await executable(handler.path))) missing.push(`OCI runtime ${handler.path} not found or not executable`);
  if (!(await executable(runtime.conmon))) missing.push(`conmon ${runtime.conmon} not found or not executable`);
  return missing.length
    ? { type: 'RuntimeReady', status: false, reason: 'RuntimeNotReady', message: missing.join('; ') }
    : { type: 'RuntimeReady', status: true, reason: '', message: '' };
}

const NO_NETWORK: Condition = {
  type: 'NetworkReady',
  status: false,
  reason: 'NetworkPluginNotReady',
  message: 'berth: the CNI network module is not loaded',
};

/** Version, Status and RuntimeConfig: what kubelet asks first of any runtime. */
export const runtimeInfoModule: CriModule = {
  name: 'runtime-info',
  async start(ctx) {
    if (!ctx.conditions.has('RuntimeReady')) ctx.conditions.set('RuntimeReady', () => runtimeReady(ctx));
    return {
      handlers: {
        Version: async () => ({
          version: '0.1.0',
          runtime_name: RUNTIME_NAME,
          runtime_version: VERSION,
          runtime_api_version: CRI_API_VERSION,
        }),
        Status: async (req) => {
          const have = await Promise.all([...ctx.conditions.values()].map((f) => f()));
          if (!have.some((c) => c.type === 'NetworkReady')) have.push(NO_NETWORK);
          const info: Record<string, string> = {};
          if (req.verbose) info.config = JSON.stringify(ctx.config);
          return { status: { conditions: have }, info };
        },
        RuntimeConfig: async () => ({
          linux: { cgroup_driver: ctx.config.cgroup_driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
        }),
      },
    };
  },
};
