// CNI network configuration discovery: the first file by name in the conf dir with a known
// extension that parses as a valid network config (a .conflist, or a single-plugin .conf/.json).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

export interface LoadedNetwork {
  file: string;
  conf: NetworkConfList;
}

export const CONF_EXTENSIONS = ['.conflist', '.conf', '.json'];

/** Validates and normalises parsed JSON from `file`; a single-plugin config becomes a one-plugin list. */
export function parseNetworkConf(file: string, raw: unknown): NetworkConfList {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  const obj = raw as Record<string, unknown>;
  const name = obj.name;
  if (typeof name !== 'string' || !name) throw new Error(`${file}: missing "name"`);
  const cniVersion = typeof obj.cniVersion === 'string' && obj.cniVersion ? obj.cniVersion : '0.1.0';
  let plugins: unknown[];
  if (file.endsWith('.conflist') || Array.isArray(obj.plugins)) {
    if (!Array.isArray(obj.plugins) || obj.plugins.length === 0) throw new Error(`${file}: "plugins" must be a non-empty list`);
    plugins = obj.plugins;
  } else {
    plugins = [obj];
  }
  const list: PluginConf[] = plugins.map((p, i) => {
    if (!p || typeof p !== 'object' || typeof (p as PluginConf).type !== 'string' || !(p as PluginConf).type) {
      throw new Error(`${file}: plugin ${i} has no "type"`);
    }
    const { cniVersion: _v, name: _n, ...rest } = p as PluginConf & { cniVersion?: unknown; name?: unknown };
    return rest as PluginConf;
  });
  return { cniVersion, name, disableCheck: obj.disableCheck === true, plugins: list };
}

/** Candidate config files in the order libcni and kubelet runtimes use: sorted by file name. */
export async function configFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => CONF_EXTENSIONS.includes(path.extname(n)) && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(dir, n));
}

export interface Discovery {
  network?: LoadedNetwork;
  /** Why files were skipped (invalid JSON, missing fields), for the NetworkReady message. */
  problems: string[];
}

export async function discover(dir: string): Promise<Discovery> {
  const problems: string[] = [];
  for (const file of await configFiles(dir)) {
    try {
      const conf = parseNetworkConf(file, JSON.parse(await readFile(file, 'utf8')));
      return { network: { file, conf }, problems };
    } catch (err) {
      // A file being written right now may be half there; it is skipped and seen at the next event.
      problems.push(err instanceof SyntaxError ? `${file}: invalid JSON: ${err.message}` : (err as Error).message);
    }
  }
  return { problems };
}
