// Runs one CNI plugin binary per the CNI spec: parameters in CNI_* environment variables, the
// network config on stdin, the result or an error object on stdout.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';

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
    try {
      await access(file, constants.X_OK);
      found.set(key, file);
      return file;
    } catch {
      /* try the next dir */
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
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), inv.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => { /* the plugin may exit before reading; its exit status tells */ });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CniPluginError(`CNI plugin ${inv.type} ${inv.command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8').trim();
      if (code === 0) {
        if (!stdout) return resolve(undefined);
        try {
          return resolve(JSON.parse(stdout));
        } catch {
          return reject(new CniPluginError(`CNI plugin ${inv.type} ${inv.command}: output is not JSON: ${stdout.slice(0, 200)}`));
        }
      }
      let msg = signal ? `killed by ${signal}` : `exit status ${code}`;
      let errCode: number | undefined;
      try {
        const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
        errCode = e.code;
        msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
      } catch {
        const text = (stdout || Buffer.concat(err).toString('utf8')).trim();
        if (text) msg += `: ${text.slice(0, 300)}`;
      }
      reject(new CniPluginError(`CNI plugin ${inv.type} ${inv.command}: ${msg}`, errCode));
    });
    child.stdin.end(JSON.stringify(inv.stdin));
  });
}
