// Runs one CNI plugin binary per the CNI spec: parameters in CNI_* environment variables, the
// network config on stdin, the result or an error object on stdout.
import path from 'node:path';
import { run } from '../process/run.js';
import { isExecutableAsync } from '../sys/executable.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export class CniPluginError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = 'CniPluginError';
  }
}

export interface PluginInvocation {
  command: CniCommand;
  type: string;
  binDirs: string[];
  containerId: string;
  /** Empty on DEL when the namespace is already gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, joined as K=V;K=V. */
  args: [string, string][];
  stdin: Record<string, unknown>;
  timeoutMs?: number;
}

const found = new Map<string, string>();

/** The first executable `type` in the bin dirs, remembered (plugins do not move under a running node). */
export async function findPlugin(type: string, binDirs: string[]): Promise<string> {
  if (type.includes('/')) throw new CniPluginError(`invalid CNI plugin type "${type}"`);
  const key = `${binDirs.join(':')}\0${type}`;
  const hit = found.get(key);
  if (hit) return hit;
  for (const dir of binDirs) {
    const file = path.join(dir, type);
    if (await isExecutableAsync(file)) {
      found.set(key, file);
      return file;
    }
  }
  throw new CniPluginError(`CNI plugin "${type}" not found in ${binDirs.join(', ')}`);
}

export async function invokePlugin(inv: PluginInvocation): Promise<unknown> {
  const bin = await findPlugin(inv.type, inv.binDirs);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: inv.args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: inv.binDirs.join(':'),
  };
  let r;
  try {
    r = await run(bin, [], { env, input: JSON.stringify(inv.stdin), timeoutMs: inv.timeoutMs ?? 60_000, maxOutput: 1 << 20 });
  } catch (e) {
    throw new CniPluginError(`CNI plugin ${inv.type} ${inv.command}: ${(e as Error).message}`);
  }
  const stdout = r.stdout.toString('utf8').trim();
  if (r.code === 0 && !r.timedOut) {
    if (!stdout) return undefined;
    try {
      return JSON.parse(stdout);
    } catch {
      throw new CniPluginError(`CNI plugin ${inv.type} ${inv.command}: output is not JSON: ${stdout.slice(0, 200)}`);
    }
  }
  let msg = r.timedOut ? `timed out after ${(inv.timeoutMs ?? 60_000) / 1000} s` : r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  let errCode: number | undefined;
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    errCode = e.code;
    msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
  } catch {
    const text = (stdout || r.stderr.toString('utf8')).trim();
    if (text) msg += `: ${text.slice(0, 300)}`;
  }
  throw new CniPluginError(`CNI plugin ${inv.type} ${inv.command}: ${msg}`, errCode);
}
