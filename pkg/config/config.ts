import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify, TomlError } from 'smol-toml';
import { DEFAULT_CONFIG, DURATIONS, ENUMS, MAP_KEYS, parseDuration, type BerthConfig, type RegistryAuthConfig, type RuntimeHandlerConfig } from './schema.js';

export { DEFAULT_CONFIG, parseDuration, type BerthConfig, type RegistryAuthConfig, type RuntimeHandlerConfig } from './schema.js';

export class ConfigError extends Error {}

type Plain = Record<string, unknown>;

/** A TOML table (not an array, not a date or other value). */
export const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  return typeof v === 'object' ? (v === null ? 'null' : 'table') : typeof v;
}

function checkValue(file: string, key: string, want: unknown, got: unknown): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(`${file}: key "${key}": expected ${what}, got ${typeName(got)}`);
  };
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) fail('an array of strings');
    for (const item of got as unknown[]) if (typeof item !== 'string') fail('an array of strings');
    return got;
  }
  if (typeof want === 'number') {
    if (typeof got !== 'number' || !Number.isFinite(got) || got < 0) fail('a non-negative number');
    return got;
  }
  if (typeof want === 'string') {
    if (typeof got !== 'string') fail('a string');
    const allowed = ENUMS[key];
    if (allowed && !allowed.includes(got as string)) {
      throw new ConfigError(`${file}: key "${key}": "${String(got)}" is not one of ${allowed.join(', ')}`);
    }
    if (DURATIONS.has(key) && parseDuration(got as string) === undefined) {
      throw new ConfigError(`${file}: key "${key}": "${String(got)}" is not a duration (like "1m", "90s" or "0")`);
    }
    return got;
  }
  if (typeof want === 'boolean') {
    if (typeof got !== 'boolean') fail('a boolean');
    return got;
  }
  return got;
}

function mergeAuth(file: string, key: string, got: unknown): RegistryAuthConfig {
  const a = mergeTable(file, key, { username: '', password: '', auth: '' }, got) as unknown as RegistryAuthConfig;
  if (a.auth) {
    const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
    if (a.username || a.password) throw new ConfigError(`${file}: key "${key}": give either auth or username and password, not both`);
    if (decoded.indexOf(':') < 1) throw new ConfigError(`${file}: key "${key}.auth": expected base64 of "username:password"`);
  } else if (!a.username) {
    throw new ConfigError(`${file}: key "${key}": credentials need a username (or auth)`);
  }
  return a;
}

function mergeMap(file: string, key: string, kind: 'string[]' | 'handler' | 'auth', base: Plain, got: unknown): Plain {
  if (!isPlain(got)) throw new ConfigError(`${file}: key "${key}": expected a table, got ${typeName(got)}`);
  const out: Plain = { ...base };
  for (const [name, value] of Object.entries(got)) {
    const sub = `${key}.${name}`;
    if (kind === 'string[]') {
      out[name] = checkValue(file, sub, [] as string[], value);
    } else if (kind === 'auth') {
      out[name] = mergeAuth(file, sub, value);
    } else {
      const def: RuntimeHandlerConfig = { path: '', root: '', allowed_annotations: [], ...(base[name] as RuntimeHandlerConfig | undefined) };
      out[name] = mergeTable(file, sub, def as unknown as Plain, value);
      if (!(out[name] as RuntimeHandlerConfig).path) {
        throw new ConfigError(`${file}: key "${sub}.path": a runtime handler needs the path of its OCI runtime`);
      }
    }
  }
  return out;
}

function mergeTable(file: string, prefix: string, base: Plain, got: unknown): Plain {
  if (!isPlain(got)) throw new ConfigError(`${file}: key "${prefix}": expected a table, got ${typeName(got)}`);
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(got)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (!(k in base)) throw new ConfigError(`${file}: unknown key "${key}"`);
    const mapKind = MAP_KEYS[key];
    if (mapKind) out[k] = mergeMap(file, key, mapKind, base[k] as Plain, v);
    else if (isPlain(base[k])) out[k] = mergeTable(file, key, base[k] as Plain, v);
    else out[k] = checkValue(file, key, base[k], v);
  }
  return out;
}

/** Parses TOML text into a config over the defaults; `file` names the source in errors. */
export function parseConfig(text: string, file: string, base: BerthConfig = DEFAULT_CONFIG): BerthConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    const detail = err instanceof TomlError ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${file}: not valid TOML: ${detail}`);
  }
  return mergeTable(file, '', structuredClone(base) as unknown as Plain, doc) as unknown as BerthConfig;
}

/** The drop-in directory of a config file: `/etc/berth/berth.toml` → `/etc/berth/berth.d`. */
export function dropInDir(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file, '.toml')}.d`);
}

/** The `*.toml` files of the drop-in directory, in name order (none when it does not exist). */
async function dropInFiles(file: string): Promise<string[]> {
  const dir = dropInDir(file);
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.toml')).sort().map((n) => path.join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`${dir}: cannot read: ${(err as Error).message}`);
  }
}

/**
 * Reads the config file, then each drop-in over it (a drop-in's tables merge into the file's:
 * it sets only the keys it names). A missing file at the default path means defaults; a
 * missing file that the operator named explicitly is an error.
 */
export async function loadConfig(file: string, explicit: boolean): Promise<BerthConfig> {
  let cfg: BerthConfig;
  try {
    cfg = parseConfig(await readFile(file, 'utf8'), file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || explicit) throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
    cfg = structuredClone(DEFAULT_CONFIG);
  }
  for (const f of await dropInFiles(file)) {
    const text = await readFile(f, 'utf8').catch((err: Error) => {
      throw new ConfigError(`${f}: cannot read: ${err.message}`);
    });
    cfg = parseConfig(text, f, cfg);
  }
  return cfg;
}

export interface FlagOverrides {
  listen?: string;
  root?: string;
  state?: string;
  log_level?: string;
  metrics_listen?: string;
}

/** Flags win over the file; the file wins over defaults. */
export function applyFlags(cfg: BerthConfig, flags: FlagOverrides): BerthConfig {
  const out = structuredClone(cfg);
  for (const [k, v] of Object.entries(flags) as [keyof FlagOverrides, string | undefined][]) {
    if (v === undefined) continue;
    const allowed = ENUMS[k];
    if (allowed && !allowed.includes(v)) throw new ConfigError(`--${k.replace('_', '-')}: "${v}" is not one of ${allowed.join(', ')}`);
    (out as unknown as Plain)[k] = v;
  }
  return out;
}

export function toToml(cfg: BerthConfig): string {
  return stringify(cfg as unknown as Plain);
}

/** The config with its secrets (dashboard token, registry passwords and auth strings) masked, for printing and verbose Status. */
export function redactConfig(cfg: BerthConfig): BerthConfig {
  const auths = Object.values(cfg.registry.auths);
  if (!cfg.dashboard.token && !auths.some((a) => a.password || a.auth)) return cfg;
  const out = structuredClone(cfg);
  if (out.dashboard.token) out.dashboard.token = '<redacted>';
  for (const a of Object.values(out.registry.auths)) {
    if (a.password) a.password = '<redacted>';
    if (a.auth) a.auth = '<redacted>';
  }
  return out;
}

/** host:port (IPv6 in brackets; an empty host means every address) of a TCP listen key. */
export function splitHostPort(listen: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`${key}: "${listen}" is not host:port`);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** The unix socket path of a `unix://` listen address. */
export function socketPath(listen: string): string {
  if (listen.startsWith('unix://')) return listen.slice('unix://'.length);
  if (listen.startsWith('/')) return listen;
  throw new ConfigError(`listen address "${listen}": berth serves CRI on a unix socket (unix:///path)`);
}
